"""Compact per-run bookkeeping of article ids.

A crawl remembers, for the length of a run, which articles it has requested, seen, published
and so on. Held as Python sets of strings, each id costs 100 bytes or more in every set that
holds it, and a 50,000-article crawl keeps a dozen such sets: memory grows with the crawl.
The site's article ids are decimal numbers below ten million, so :class:`IdSet` keeps them as
bits in pages of a bitmap: its size follows how far apart the ids are (4 KiB per run of 32,768
ids touched), not how many there are. Anything that is not such a number (an id from a saved
page's odd name, a fuzzer's) goes to an ordinary set beside it.

:class:`DeliveryLog` does the same for the feed's written-but-unpublished records: 42 bytes a
record in one buffer instead of a dataclass and its five boxed fields.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from newsbot.state.model import Delivery

#: Bits per page of an :class:`IdSet` (a page is 4 KiB).
PAGE_BITS = 1 << 15
#: Ids at or above this go to the ordinary set (the site's ids are near 4 million in 2021).
BITMAP_LIMIT = 1 << 31


def _number(ident: object) -> int | None:
    """The id as a bitmap position, or None for an id the bitmap does not take.

    >>> _number("1700501"), _number(1700501), _number("017"), _number("x1"), _number("")
    (1700501, 1700501, None, None, None)
    """
    if isinstance(ident, str):
        if not (ident.isascii() and ident.isdigit()) or (ident[0] == "0" and len(ident) > 1):
            return None  # "017" must stay "017": not the same id as "17"
        n = int(ident) if len(ident) < 11 else BITMAP_LIMIT
    elif isinstance(ident, int) and not isinstance(ident, bool):
        n = ident
    else:
        return None
    return n if 0 <= n < BITMAP_LIMIT else None


class IdSet:
    """A set of article ids (strings of digits, as in records) that costs bits, not objects.

    >>> s = IdSet(["1700501", "1700502"])
    >>> "1700501" in s, "1700503" in s, len(s)
    (True, False, 2)
    >>> s.add("1700501"); s.add("odd-id"); len(s)
    3
    >>> s.discard("1700502"); sorted(s)
    ['1700501', 'odd-id']
    >>> bool(IdSet())
    False
    """

    __slots__ = ("_len", "_others", "_pages")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._pages: dict[int, bytearray] = {}
        self._others: set[str] = set()
        self._len = 0
        self.update(ids)

    def __contains__(self, ident: object) -> bool:
        n = _number(ident)
        if n is None:
            return ident in self._others
        page = self._pages.get(n >> 15)
        if page is None:
            return False
        bit = n & (PAGE_BITS - 1)
        return bool(page[bit >> 3] & (1 << (bit & 7)))

    def add(self, ident: str) -> None:
        n = _number(ident)
        if n is None:
            if ident not in self._others:
                self._others.add(ident)
                self._len += 1
            return
        page = self._pages.get(n >> 15)
        if page is None:
            page = self._pages[n >> 15] = bytearray(PAGE_BITS >> 3)
        bit = n & (PAGE_BITS - 1)
        mask = 1 << (bit & 7)
        if not page[bit >> 3] & mask:
            page[bit >> 3] |= mask
            self._len += 1

    def update(self, ids: Iterable[str]) -> None:
        for ident in ids:
            self.add(ident)

    def issuperset(self, ids: Iterable[str]) -> bool:
        """Whether every one of ``ids`` is here.

        >>> IdSet(["1", "2"]).issuperset(["2"]), IdSet(["1"]).issuperset(["1", "3"])
        (True, False)
        """
        return all(ident in self for ident in ids)

    def discard(self, ident: str) -> None:
        n = _number(ident)
        if n is None:
            if ident in self._others:
                self._others.discard(ident)
                self._len -= 1
            return
        page = self._pages.get(n >> 15)
        if page is None:
            return
        bit = n & (PAGE_BITS - 1)
        mask = 1 << (bit & 7)
        if page[bit >> 3] & mask:
            page[bit >> 3] &= ~mask & 0xFF
            self._len -= 1

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        """The ids as strings: the bitmap's in ascending order, then the others."""
        for number in sorted(self._pages):
            page = self._pages[number]
            base = number << 15
            for i, byte in enumerate(page):
                if byte:
                    for b in range(8):
                        if byte & (1 << b):
                            yield str(base + (i << 3) + b)
        yield from list(self._others)

    def __repr__(self) -> str:
        return f"<IdSet of {self._len} ids>"


# --- the feed's unpublished records ------------------------------------------------------------

# article id, content hash, revision, published_at, url_date, column (index + 1; 0 for none)
_RECORD = struct.Struct("<q16sIqIH")
_NONE_TIME = -(1 << 63)


class DeliveryLog:
    """The :class:`~newsbot.state.model.Delivery` of each record written to a feed file, until the
    file is published, packed in one buffer. Iterating gives the deliveries back, one object at a
    time; a delivery that does not fit the packing (an id that is not a number) is kept as is.

    >>> log = DeliveryLog()
    >>> log.append(Delivery("1700501", b"h" * 16, 2, 1618069791, 20210410, "3"))
    >>> log.append(Delivery("1700502", b"g" * 16, 1))
    >>> log.append(Delivery("x", b"", 1))
    >>> len(log), [d.article_id for d in log]
    (3, ['1700501', '1700502', 'x'])
    >>> list(log)[0] == Delivery("1700501", b"h" * 16, 2, 1618069791, 20210410, "3")
    True
    >>> list(log)[1]
    Delivery(article_id='1700502', content_hash=b'gggggggggggggggg', revision=1, published_at=None, url_date=None, column=None)
    """  # noqa: E501

    __slots__ = ("_buffer", "_columns", "_count", "_index", "_others")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._count = 0
        self._columns: list[str] = []
        self._index: dict[str, int] = {}
        self._others: list[Delivery] = []

    def append(self, d: Delivery) -> None:
        n = _number(d.article_id)
        column = 0
        if d.column is not None:
            column = self._index.get(d.column, 0)
            if not column and len(self._columns) < 0xFFFF:
                self._columns.append(d.column)
                column = self._index[d.column] = len(self._columns)
        fits = (
            n is not None
            and len(d.content_hash) == 16
            and 0 < d.revision < 1 << 32
            and (d.url_date is None or 0 < d.url_date < 1 << 32)
            and (d.column is None or column)
            and (d.published_at is None or abs(d.published_at) < 1 << 62)
        )
        if not fits:
            self._others.append(d)
            return
        self._buffer += _RECORD.pack(
            n,
            d.content_hash,
            d.revision,
            _NONE_TIME if d.published_at is None else d.published_at,
            d.url_date or 0,
            column,
        )
        self._count += 1

    def __len__(self) -> int:
        return self._count + len(self._others)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, d: object) -> bool:
        return any(d == mine for mine in self)

    def __iter__(self) -> Iterator[Delivery]:
        columns = self._columns
        for n, digest, revision, published, url_date, column in _RECORD.iter_unpack(
            bytes(self._buffer)
        ):
            yield Delivery(
                str(n),
                digest,
                revision,
                None if published == _NONE_TIME else published,
                url_date or None,
                columns[column - 1] if column else None,
            )
        yield from list(self._others)

    def __repr__(self) -> str:
        return f"<DeliveryLog of {len(self)} records>"
