"""The text fingerprint's rule, checked against the Unicode database of the running Python."""

from __future__ import annotations

import random
import re
import sys
import unicodedata

from newsbot.state.fingerprints import normalized_text


def test_word_characters_are_exactly_letters_and_digits() -> None:
    # normalized_text keeps what ``[^\W_]`` matches; the rule it stands for is "Unicode
    # categories L* and N*". A Python whose ``\w`` differs would change fingerprints.
    word = re.compile(r"[^\W_]")
    differ = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if (word.match(chr(cp)) is not None) != (unicodedata.category(chr(cp))[0] in "LN")
    ]
    assert differ == [], differ[:20]


def test_normalized_text_is_the_letters_and_digits_of_the_folded_text() -> None:
    rng = random.Random(17)
    for _ in range(300):
        text = "".join(chr(rng.randrange(0, 0x30000)) for _ in range(300))
        folded = unicodedata.normalize("NFKC", text).casefold()
        expected = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")
        assert normalized_text(text) == expected


def canonical_pairs() -> tuple[set[str], set[str]]:
    """First and second characters of every canonical two-character decomposition: what
    NFC/NFKC composition can join."""
    first, second = set(), set()
    for cp in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                first.add(chr(int(parts[0], 16)))
                second.add(chr(int(parts[1], 16)))
    return first, second


def test_punctuation_made_a_space_composes_with_nothing() -> None:
    from newsbot.state.fingerprints import _WIDE_PUNCTUATION

    marks = [chr(cp) for cp in range(0x10000) if _WIDE_PUNCTUATION.fullmatch(chr(cp))]
    assert "，" in marks and "（" in marks and "＜" not in marks, marks
    first, second = canonical_pairs()
    assert " " not in first and " " not in second
    for mark in marks:
        assert unicodedata.combining(mark) == 0 and mark not in second, hex(ord(mark))
        for ch in unicodedata.normalize("NFKC", mark):
            assert ch not in first and ch not in second, (hex(ord(mark)), ch)
            assert unicodedata.category(ch)[0] not in "LN", (hex(ord(mark)), ch)


def test_normalized_text_with_punctuation_next_to_combining_marks() -> None:
    from newsbot.state.fingerprints import _WIDE_PUNCTUATION

    marks = [chr(cp) for cp in range(0x10000) if _WIDE_PUNCTUATION.fullmatch(chr(cp))]
    combining = [*map(chr, range(0x300, 0x370)), "\u3099", "\u309a", "\u0338"]
    letters = [*"aeiouAEIOUnN<=>央行ｶｷﾞ가", "\u1100", "\u1161", "\u11a8"]
    rng = random.Random(1717)
    for _ in range(3000):
        pools = [rng.choice((marks, combining, letters)) for _ in range(rng.randrange(1, 12))]
        text = "".join(rng.choice(pool) for pool in pools)
        folded = unicodedata.normalize("NFKC", text).casefold()
        expected = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")
        assert normalized_text(text) == expected, [hex(ord(c)) for c in text]
