"""The ``atom`` and ``rss`` feed formats: full-text feeds per column, rolling across runs.

``-o feeds:atom`` (or ``feeds:rss``) makes the feed URI a directory, like the Hexo format: each
run writes ``feeds/<column>.atom`` for every column it exported from and ``feeds/all.atom`` for
the whole run (``.xml`` for RSS). URL-list runs write only ``all``; search runs write one feed
named after the query instead of ``all``. The entries are rendered by :mod:`newsbot.syndication`.

Each feed is rolling: the run reads the feed already there, merges its new entries in (a new
revision replaces its entry), keeps the newest ``NEWSBOT_FEED_ENTRIES`` and stages the result,
which the feed storage publishes atomically and records as the delivery of the run's articles
(:mod:`newsbot.feeds`). A feed the run has nothing new for is not touched. A file at a feed's
place that newsbot cannot read as its own feed stops the publication with a clear error: the
run fails and its articles stay pending, nothing in that file is lost.
"""

from __future__ import annotations

import logging
from copy import deepcopy
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from itemadapter import ItemAdapter
from scrapy.exporters import BaseItemExporter

from newsbot.exporters import DeliveryTracking, safe_filename
from newsbot.feeds import FeedTargetError, StagingDir
from newsbot.idset import DeliveryLog
from newsbot.outcome import fail_and_stop
from newsbot.spiders.arguments import run_arguments
from newsbot.state.records import delivery_of
from newsbot.state.service import delivery_service
from newsbot.syndication import (
    FORMATS,
    Entry,
    FeedFileError,
    entry_of,
    feed_info,
    merge,
    read_entries,
    render,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newsbot.state.model import Delivery

logger = logging.getLogger(__name__)

#: Longest existing feed file the merge reads (a feed of 50 long articles is a few MB).
MAX_FEED_BYTES = 64 << 20


class _PendingFeed:
    """The entries and deliveries one feed file gets in this run."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: list[Entry] = []
        #: Ids of entries this run left out as too old: an older version of one of them in
        #: the file must not come back in the merge.
        self.left_out: set[str] = set()
        self.deliveries = DeliveryLog()
        self.staged = False

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        if len(self.entries) >= 2 * self.limit:
            # A run of thousands of articles keeps only what can still end in the feed.
            kept = merge([], self.entries, self.limit)
            kept_ids = {e.id for e in kept}
            self.left_out.update(e.id for e in self.entries if e.id not in kept_ids)
            self.left_out.difference_update(kept_ids)
            self.entries = kept

    def merged(self, old: list[Entry]) -> list[Entry]:
        """The feed's entries after this run: the newest of the file's and the run's."""
        old = [e for e in old if e.id not in self.left_out]
        return merge(old, self.entries, self.limit)


class SyndicationExporter(DeliveryTracking, BaseItemExporter):
    """Rolling full-text feeds of one format in a directory (see module docs)."""

    writes_directory = True
    format_name: ClassVar[str] = "atom"

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(dont_fail=True, **kwargs)
        if not isinstance(file, StagingDir):
            raise TypeError(
                f"the {self.format_name} format needs a directory feed URI "
                f"(-o feeds:{self.format_name})"
            )
        self.staging = file
        self.column_names: dict[str, str] = {}
        self.limit = 50
        self.base_url = ""
        self.query: str | None = None
        self._feeds: dict[str, _PendingFeed] = {}
        self.refused: OSError | None = None
        self._track_file(file)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        exporter = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        exporter.column_names = dict(settings.getdict("NEWSBOT_HEXO_COLUMN_NAMES"))
        try:
            exporter.limit = settings.getint("NEWSBOT_FEED_ENTRIES", 50)
            if exporter.limit < 1:
                raise ValueError("it must be 1 or more")
        except ValueError as exc:
            value = settings.get("NEWSBOT_FEED_ENTRIES")
            message = f"NEWSBOT_FEED_ENTRIES={value!r} is not a number of entries: {exc}"
            _refuse(crawler, message)
            # Not raised: Scrapy would try again at every record, each time with a new staging
            # folder. The storage sees the error, publishes nothing and removes its folder.
            exporter.refused = exporter.staging.newsbot_tracker.error = FeedTargetError(message)
        exporter.base_url = settings.get("NEWSBOT_FEED_BASE_URL") or ""
        if not exporter.base_url:
            logger.warning(
                "NEWSBOT_FEED_BASE_URL is not set: the %s feeds' self links are relative. Set it "
                "to the URL the feeds folder is served at (feed readers and the W3C validator "
                "want absolute self links).",
                cls.format_name,
            )
        # A search run's feed is named after its query.
        spider = crawler.spider
        arguments = run_arguments(spider)
        if arguments.mode == "query":
            exporter.query = arguments.query
        return exporter

    def feed_names(self, record: dict[str, Any]) -> list[str]:
        """The feeds a record goes to: its column's (if any), then the run's.

        >>> e = SyndicationExporter.__new__(SyndicationExporter)
        >>> e.query = None
        >>> e.feed_names({"column": "3"}), e.feed_names({"column": None})
        (['3', 'all'], ['all'])
        >>> e.query = "碳中和/新能源"
        >>> e.feed_names({"column": None})
        ['碳中和_新能源']
        """
        run_feed = safe_filename(self.query, 120) if self.query else "all"
        column = record.get("column")
        names = [safe_filename(str(column), 64)] if column else []
        return [n for n in names if n != run_feed] + [run_feed]

    def export_item(self, item: Any) -> None:
        if self.refused is not None:
            return  # the run is failing: the record stays pending
        record = ItemAdapter(item).asdict()
        entry = entry_of(self.format_name, record, self.column_names)
        delivery = delivery_of(record)
        for n, name in enumerate(self.feed_names(record)):
            feed = self._feeds.get(name) or self._feeds.setdefault(name, _PendingFeed(self.limit))
            # One element cannot sit in two documents: each further feed gets a copy.
            feed.add(entry if n == 0 else _copy(entry))
            if delivery is not None and n == 0:
                # The record's first feed (its column's) is the file that delivers it; the
                # run's feed, published in the same step, shows it too.
                feed.deliveries.append(delivery)
        if delivery is not None:
            self._note_written(delivery)

    def _note_written(self, delivery: Delivery) -> None:
        ledger = delivery_service(self.crawler) if self.crawler is not None else None
        if ledger is not None:
            ledger.note_written(delivery, tracked=True)

    def finish_exporting(self) -> None:
        if self.refused is not None:
            return
        try:
            self._stage_feeds()
        except OSError as exc:
            # The storage then publishes none of this run's feeds and fails the run with this
            # reason (newsbot.feeds); the articles stay pending for the next run.
            tracker = self.staging.newsbot_tracker
            tracker.error = tracker.error or exc
            for feed in self._feeds.values():
                if not feed.staged:  # so the failure counts them among the pending
                    for delivery in feed.deliveries:
                        tracker.add(delivery)

    def _stage_feeds(self) -> None:
        suffix = FORMATS[self.format_name][0]
        for name, feed in self._feeds.items():
            relative = name + suffix
            old = self._existing(self.staging.target_path(relative))
            info = feed_info(
                name,
                self.format_name,
                base_url=self.base_url,
                column_names=self.column_names,
                query=self.query if name != "all" and self.query else None,
            )
            document = render(self.format_name, info, feed.merged(old))
            self.staging.add(relative, document, feed.deliveries)
            feed.staged = True

    def _existing(self, path: Path) -> list[Entry]:
        """The entries of the feed already at ``path`` (none when there is no file)."""
        if not path.exists() and not path.is_symlink():
            return []
        if path.is_symlink() or not path.is_file():
            raise FeedTargetError(f"feed {path} is not a regular file; newsbot does not replace it")
        if path.stat().st_size > MAX_FEED_BYTES:
            raise FeedTargetError(f"feed {path} is larger than {MAX_FEED_BYTES} bytes")
        try:
            return read_entries(self.format_name, path.read_bytes())
        except FeedFileError as exc:
            raise FeedTargetError(
                f"cannot merge into {path}: {exc}. newsbot merges only into the feeds it "
                "wrote; move that file away to start the feed anew"
            ) from exc


def _refuse(crawler: Crawler, message: str) -> None:
    """Fail the run and stop it: its articles could never reach this feed."""
    fail_and_stop(crawler, "feed_refused", message)


def _copy(entry: Entry) -> Entry:
    return Entry(entry.id, entry.published, entry.updated, deepcopy(entry.element))


class AtomExporter(SyndicationExporter):
    """``-o feeds:atom``: Atom 1.0 feeds, ``<column>.atom`` and ``all.atom``."""

    format_name = "atom"


class RssExporter(SyndicationExporter):
    """``-o feeds:rss``: RSS 2.0 feeds, ``<column>.xml`` and ``all.xml``."""

    format_name = "rss"
