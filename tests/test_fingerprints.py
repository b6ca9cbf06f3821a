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
