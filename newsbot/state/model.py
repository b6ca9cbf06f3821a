"""The delivery record's data model, shared by both state backends: the article states, what a
published record says about its article (:class:`Delivery`), one file of a publish
(:class:`PublishEntry`), a row of the store (:class:`ArticleState`), what crash recovery found
(:class:`Recovery`), and the compact keys the stores keep ids, dates and times as.

No I/O here except :meth:`PublishEntry.is_published`, which looks at the target it names.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

PENDING, EXPORTED, DROPPED, FAILED = 0, 1, 2, 3
STATE_NAMES = {PENDING: "pending", EXPORTED: "exported", DROPPED: "dropped", FAILED: "failed"}


@dataclass
class Delivery:
    """What a published record says about its article; kept in publish intents."""

    article_id: str
    content_hash: bytes
    revision: int
    published_at: int | None = None
    url_date: int | None = None
    column: str | None = None

    def to_json(self) -> list[Any]:
        return [
            self.article_id,
            self.content_hash.hex(),
            self.revision,
            self.published_at,
            self.url_date,
            self.column,
        ]

    @classmethod
    def from_json(cls, row: Sequence[Any]) -> Delivery:
        ident, digest, revision, published, url_date, column = row
        return cls(str(ident), bytes.fromhex(digest), int(revision), published, url_date, column)


@dataclass
class PublishEntry:
    """One file of a publish: the temporary file, where it goes, and the records in it."""

    temp: str
    target: str
    dev: int
    ino: int
    size: int
    deliveries: Collection[Delivery] = field(default_factory=list)
    """A list, or the feed's packed :class:`~newsbot.idset.DeliveryLog` (never copied)."""
    destination: str = ""
    """The feed's destination name (:func:`newsbot.state.destinations.destination_name`);
    empty for a file no feed of the run wrote (a rebuild)."""

    def json_text(self) -> str:
        """:meth:`to_json` as JSON text, one record at a time: a feed file of 50,000 records
        would otherwise need them all as Python lists at once."""
        out = io.StringIO()
        out.write(json.dumps(self.to_json(records=False), ensure_ascii=False)[:-1])
        out.write(', "records": [')
        for i, d in enumerate(self.deliveries):
            out.write(", " if i else "")
            out.write(json.dumps(d.to_json(), ensure_ascii=False))
        out.write("]}")
        return out.getvalue()

    def to_json(self, *, records: bool = True) -> dict[str, Any]:
        return {
            "temp": self.temp,
            "target": self.target,
            "dev": self.dev,
            "ino": self.ino,
            "size": self.size,
            "destination": self.destination,
            **({"records": [d.to_json() for d in self.deliveries]} if records else {}),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PublishEntry:
        return cls(
            obj["temp"],
            obj["target"],
            obj["dev"],
            obj["ino"],
            obj["size"],
            [Delivery.from_json(r) for r in obj["records"]],
            obj.get("destination", ""),  # intents an older newsbot recorded have none
        )

    def is_published(self) -> bool:
        """True when the rename happened: the target is the very file this entry staged, or
        the staged (temporary) file is gone. Only the rename takes it away -- a run that died
        before renaming leaves it, and recovery removes leftovers only once the intents are
        settled -- so a gone temporary file means the file was published and has since been
        moved on (consumed, rotated, appended to by another run), not lost."""
        try:
            st = os.stat(self.target, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and (st.st_dev, st.st_ino, st.st_size) == (self.dev, self.ino, self.size):
            return True
        return bool(self.temp) and not os.path.lexists(self.temp)


@dataclass
class ArticleState:
    """One row of the store, in friendly types."""

    article_id: str
    state: str
    reason: str | None
    attempts: int
    discovered_at: int
    updated_at: int
    url_date: int | None
    published_at: int | None
    column: str | None
    revision: int
    content_hash: bytes | None
    output_file: str | None


@dataclass
class Recovery:
    """What :meth:`StateStore.recover` found left over from a run that did not end cleanly."""

    published: int = 0
    """Records in files that had been renamed into place before the crash: now exported."""
    discarded: int = 0
    """Records in temporary files that never got published: they stay pending."""
    temps_removed: list[str] = field(default_factory=list)


def key(article_id: str | int) -> int:
    """The integer key of an article id; ids are decimal strings.

    >>> key("01712345"), key(42)
    (1712345, 42)
    >>> key("12a")
    Traceback (most recent call last):
    ...
    ValueError: not an article id: '12a'
    """
    if isinstance(article_id, int):
        return article_id
    if not (isinstance(article_id, str) and article_id.isascii() and article_id.isdigit()):
        raise ValueError(f"not an article id: {article_id!r}")
    return int(article_id)


def url_date_key(date: str | None) -> int | None:
    """``"2021-04-10"`` → ``20210410`` (compact and sortable).

    >>> url_date_key("2021-04-10"), url_date_key(None)
    (20210410, None)
    """
    return int(date.replace("-", "")) if date else None


def url_date_str(value: int | None) -> str | None:
    """Inverse of :func:`url_date_key`.

    >>> url_date_str(20210410)
    '2021-04-10'
    """
    if value is None:
        return None
    s = f"{value:08d}"
    return f"{s[:4]}-{s[4:6]}-{s[6:]}"


def epoch(value: dt.datetime | str | None) -> int | None:
    """Seconds since the epoch for an aware datetime or an ISO 8601 string with offset.

    >>> epoch("2021-04-10T23:49:51+08:00")
    1618069791
    >>> epoch(None) is None
    True
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: newsbot times carry an offset")
    return int(value.timestamp())
