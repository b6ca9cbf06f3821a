"""Item pipelines: they act on finished records, never on pages.

- :class:`ValidationPipeline` cleans control characters out of every text field, then drops a
  record that lacks a required field or whose time contradicts its URL, and a second record of
  the same article in one run. Each drop is counted as ``newsbot/dropped/<reason>``.
- :class:`DeliveryPipeline` decides, with the state store, what a record is: a new article, a
  new revision of a delivered one (``revision`` n+1), an unchanged refetch (not exported,
  counted ``newsbot/unchanged``), and whether its text repeats an earlier article's
  (``duplicate_of``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem, NotConfigured

from newsbot.idset import IdSet
from newsbot.items import ArticleItem
from newsbot.processors import BEIJING
from newsbot.state.errors import StateUnavailable
from newsbot.state.fingerprints import content_hash, text_fingerprint
from newsbot.state.records import as_dict, url_date
from newsbot.state.service import delivery_service

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newsbot.state.service import DeliveryService


REQUIRED_FIELDS = ("url", "article_id", "title", "published_at", "body")

#: Text fields that hold several lines (one block or point per line); every other text field is
#: a single line.
MULTILINE_FIELDS = frozenset({"body", "abstract"})

# ANSI/VT escape sequences: CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), and two-byte ESC x.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CSI8 = re.compile(r"\x9b[0-?]*[ -/]*[@-~]")
# C0 controls except TAB/LF, DEL, C1 controls, bidi marks/embeddings/overrides/isolates, BOM.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c\x1c-\x1e]")
# Every character one of the patterns above can change (all but \n are in _CONTROL's class, or
# line breaks): a text without any needs no cleaning, which is nearly every text.
_DIRTY_MULTILINE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
    r"\u2028\u2029]"
)
_DIRTY_LINE = re.compile(_DIRTY_MULTILINE.pattern[:-1] + r"\n]")


class RecordDropped(DropItem):
    """A record that will not be exported, with a stable reason code.

    ``settles``: whether the state store records the article as dropped (a validation failure)
    or leaves its state alone (a repeat within the run, an unchanged refetch).
    """

    def __init__(
        self, reason: str, detail: str = "", *, settles: bool = True, log_level: str | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason, log_level=log_level)
        self.reason = reason
        self.settles = settles


def clean_text(value: str, *, multiline: bool) -> str:
    """Strip control characters, ANSI escapes and bidi overrides; in a single-line field,
    every line break becomes a space, so a title cannot start a forged log line.

    >>> clean_text("标题\\r\\n2026-01-01 ERROR forged\\x1b[31m red\\x1b[0m", multiline=False)
    '标题 2026-01-01 ERROR forged red'
    >>> clean_text("第一段\\r\\n第二段\\u2028第三段\\x00", multiline=True)
    '第一段\\n第二段\\n第三段'
    >>> clean_text("a\\u202eb\\tc\\u200f", multiline=False)
    'ab\\tc'
    >>> clean_text(" 标题 ", multiline=False), clean_text("第一段\\n第二段", multiline=True)
    ('标题', '第一段\\n第二段')
    """
    if multiline:
        if not _DIRTY_MULTILINE.search(value):
            return value
    elif not _DIRTY_LINE.search(value):
        return value.strip()
    value = _ANSI.sub("", value)
    value = _CSI8.sub("", value)
    value = _LINE_BREAKS.sub("\n" if multiline else " ", value)
    value = _CONTROL.sub("", value)
    if not multiline:
        value = value.strip()
    return value


def clean_value(value: Any, *, multiline: bool = False) -> Any:
    """:func:`clean_text` applied through lists and dicts (tags).

    >>> clean_value([{"name": "中泰\\n化学", "code": "002092"}, "x\\x07"])
    [{'name': '中泰 化学', 'code': '002092'}, 'x']
    """
    if isinstance(value, str):
        return clean_text(value, multiline=multiline)
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, dict):
        return {k: clean_value(v) for k, v in value.items()}
    return value


def date_disagreement(record: dict[str, Any]) -> int | None:
    """Days between the publication date (Beijing) and the date in the URL; None if either
    is missing.

    >>> date_disagreement({"url": "https://www.nbd.com.cn/articles/2021-04-10/1.html",
    ...                    "published_at": "2021-04-11T00:30:00+08:00"})
    1
    >>> date_disagreement({"url": "https://www.nbd.com.cn/articles/2021-04-10/1.html",
    ...                    "published_at": "2021-04-09T15:00:00+00:00"})
    1
    """
    in_url = url_date(record)
    published = record.get("published_at")
    if not in_url or not isinstance(published, str):
        return None
    when = dt.datetime.fromisoformat(published)
    if when.tzinfo is None:
        raise ValueError(f"published_at without an offset: {published!r}")
    local = when.astimezone(BEIJING).date()
    return abs((local - dt.date.fromisoformat(in_url)).days)


class ValidationPipeline:
    """Clean, check and dedupe records (see module docs)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_skew_days = crawler.settings.getint("NEWSBOT_MAX_DATE_SKEW_DAYS", 1)
        self._seen = IdSet()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        if not crawler.settings.getbool("NEWSBOT_VALIDATION_ENABLED", True):
            raise NotConfigured
        return cls(crawler)

    def _drop(self, reason: str, detail: str = "", **kwargs: Any) -> RecordDropped:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newsbot/dropped/{reason}")
        return RecordDropped(reason, detail, **kwargs)

    def process_item(self, item: Any) -> Any:
        if type(item) is ArticleItem:
            record = vars(item)  # the item's own fields: cleaned in place
            for name, value in record.items():
                if value is not None:
                    record[name] = clean_value(value, multiline=name in MULTILINE_FIELDS)
        else:
            adapter = ItemAdapter(item)
            for name in list(adapter.field_names()):
                if name in adapter:
                    value = adapter[name]
                    if value is not None:
                        adapter[name] = clean_value(value, multiline=name in MULTILINE_FIELDS)
            record = adapter.asdict()
        for name in REQUIRED_FIELDS:
            value = record.get(name)
            if name == "body" and value == "" and record.get("videos"):
                continue  # a video page may have no words: the video is the article
            if value is None or (isinstance(value, str) and not value.strip()):
                raise self._drop(f"no_{name}", f"{record.get('url')!r} has no {name}")
        try:
            skew = date_disagreement(record)
        except ValueError as exc:
            raise self._drop("bad_published_at", f"{record['url']!r}: {exc}") from None
        if skew is not None and skew > self.max_skew_days:
            raise self._drop(
                "date_mismatch",
                f"{record['url']!r} says published {record['published_at']}, "
                f"{skew} days from the date in its URL",
            )
        ident = str(record["article_id"])
        if ident in self._seen:
            raise self._drop(
                "duplicate", f"article {ident} was already scraped in this run", settles=False
            )
        self._seen.add(ident)
        return item


class DeliveryPipeline:
    """Revision, unchanged and duplicate decisions against the state store."""

    def __init__(self, crawler: Crawler, state: DeliveryService) -> None:
        self.crawler = crawler
        self.state = state
        self.min_chars = crawler.settings.getint("NEWSBOT_DUPLICATE_MIN_CHARS", 50)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeliveryPipeline:
        state = delivery_service(crawler)
        if state is None:
            raise NotConfigured  # the state extension says why, once
        return cls(crawler, state)

    def _inc(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key)

    def process_item(self, item: Any) -> Any:
        record = as_dict(item)
        # An ArticleItem's fields are set in its own dict (every field is there); any other
        # item through an adapter, which says which fields it has.
        adapter = None if type(item) is ArticleItem else ItemAdapter(item)

        def has(name: str) -> bool:
            return adapter is None or name in adapter.field_names()

        fields: MutableMapping[str, Any] = record if adapter is None else adapter
        ident = str(record["article_id"])
        try:
            before = self.state.delivered(ident)
        except StateUnavailable as exc:
            # The store is gone (an unreachable Redis), already reported: the run fails and
            # stops, and this article, left pending, is fetched again by the next run. One
            # quiet drop per record in flight, not a traceback each.
            raise RecordDropped(
                "state_unavailable", str(exc), settles=False, log_level="DEBUG"
            ) from None
        if before is not None:
            revision, digest = before
            if digest != content_hash(record):
                fields["revision"] = revision + 1
                self._inc("newsbot/revised")
            elif self.state.all_have(ident, revision):
                self._inc("newsbot/unchanged")
                raise RecordDropped(
                    "unchanged",
                    f"article {ident} is as delivered (revision {revision})",
                    settles=False,
                    log_level="DEBUG",
                )
            else:
                # As delivered, but a destination of this run lacks it (a new feed target):
                # the same revision goes to the feeds that lack it (their item filters).
                if has("revision"):
                    fields["revision"] = revision
                self._inc("newsbot/redelivered")
        elif has("revision"):
            fields["revision"] = 1
        fingerprint = text_fingerprint(record.get("body"), self.min_chars)
        if fingerprint is not None and has("duplicate_of"):
            first = self.state.first_with_text(fingerprint, ident)
            fields["duplicate_of"] = first
            if first is not None:
                self._inc("newsbot/duplicates")
        return item
