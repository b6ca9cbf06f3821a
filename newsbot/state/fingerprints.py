"""Fingerprints of a record: one for "has this article changed", one for "is this the same text".

Pure functions over plain dicts, so the crawl, the rebuild command and the tests agree.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

#: Fields whose change makes a new revision. Fetch and delivery fields (``fetched_at``,
#: ``extractor_version``, ``revision`` …) are left out: refetching alone changes nothing.
CONTENT_FIELDS: tuple[str, ...] = (
    "title",
    "source",
    "published_at",
    "reporters",
    "editors",
    "byline",
    "abstract",
    "body",
    "images",
    "image_credit",
    "tags",
)


def content_hash(record: Mapping[str, Any]) -> bytes:
    """16-byte digest of the record's content fields.

    >>> a = {"title": "标题", "body": "正文", "fetched_at": "2026-01-01T00:00:00+00:00"}
    >>> b = dict(a, fetched_at="2026-02-02T00:00:00+00:00", revision=2)
    >>> content_hash(a) == content_hash(b), len(content_hash(a))
    (True, 16)
    >>> content_hash(a) == content_hash(dict(a, body="正文。"))
    False
    """
    canonical = json.dumps(
        [record.get(name) for name in CONTENT_FIELDS],
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).digest()


def normalized_text(text: str) -> str:
    """The body reduced to its letters and digits: what "the same text" compares.

    Width forms are folded (NFKC), case is folded, and every space, punctuation mark and symbol
    is dropped, so re-wrapping, re-punctuating or re-spacing a text does not make it new.

    >>> normalized_text("每经AI快讯， 4月9日 消息：\\n营收 增长10%。")
    '每经ai快讯4月9日消息营收增长10'
    >>> normalized_text("ＡＢＣ  abc") == normalized_text("abc\\tABC")
    True
    """
    # Full-width punctuation makes NFKC take its slow path on nearly every Chinese text; each
    # such mark becomes a space first, which changes nothing in the result (see
    # _punctuation_to_space), and the text is then usually normalized already.
    text = _WIDE_PUNCTUATION.sub(" ", text)
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_LETTER_OR_DIGIT.sub("", folded)


def _punctuation_to_space() -> re.Pattern[str]:
    """The full-width and CJK punctuation that may become a space before NFKC.

    A mark qualifies when it is a starter (combining class 0) whose NFKC form is plain ASCII
    punctuation or space, none of ``<=>`` (the only ASCII marks in a canonical composition):
    NFKC would turn it into characters that are dropped afterwards and that compose with
    nothing, exactly as a space is and does, so no letter or digit around it can come out
    differently. tests/test_fingerprints.py checks the composition part against the whole
    Unicode database and compares the result with the plain rule.

    >>> wide = _punctuation_to_space()
    >>> bool(wide.fullmatch("，：；！？（）")), wide.match("。"), wide.match("＜")
    (True, None, None)
    """
    marks = []
    for block in ((0x2000, 0x2070), (0x3000, 0x3040), (0xFE10, 0xFE70), (0xFF00, 0xFFF0)):
        for cp in range(*block):
            ch = chr(cp)
            if unicodedata.combining(ch):
                continue
            nfkc = unicodedata.normalize("NFKC", ch)
            if nfkc != ch and all(c.isascii() and not c.isalnum() and c not in "<=>" for c in nfkc):
                marks.append(ch)
    return re.compile("[" + "".join(re.escape(m) for m in marks) + "]+")


_WIDE_PUNCTUATION = _punctuation_to_space()


#: Everything but letters and digits (Unicode categories L* and N*). Python's ``\w`` is exactly
#: those two plus ``_`` (tests/test_fingerprints.py checks every code point): one regex pass in
#: C, where a generator over ``unicodedata.category`` cost a Python call per character (10 % of
#: a crawl's CPU). The same rule, so fingerprints already in a state store still match.
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def text_fingerprint(body: str | None, min_chars: int = 50) -> int | None:
    """Signed 64-bit fingerprint of :func:`normalized_text`, or None for a body too short to
    call two articles the same (``min_chars`` letters and digits).

    >>> text_fingerprint("短讯") is None
    True
    >>> long = "央行今日开展逆回购操作" * 6
    >>> text_fingerprint(long) == text_fingerprint(long.replace("操作", "操作，"))
    True
    >>> isinstance(text_fingerprint(long), int)
    True
    """
    if not body:
        return None
    norm = normalized_text(body)
    if len(norm) < min_chars:
        return None
    digest = hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
