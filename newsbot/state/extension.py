"""The state extension: wires the crawl's signals and the feed storage to the state store.

It implements the :class:`~newsbot.state.service.DeliveryService` that components find with
:func:`~newsbot.state.service.delivery_service` (``crawler.get_extension(StateExtension)``):
what the delivery middleware asks (``is_delivered``, ``high_water_mark``), what feed storages
and exporters report to (``register_temp``, ``forget_temp``, ``note_written``,
``publishing``/``published``), and what the delivery pipeline asks (``delivered``,
``first_with_text``).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.extensions.feedexport import FeedExporter, ItemFilter
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object
from scrapy.utils.spider import DefaultSpider
from twisted.internet.defer import Deferred

from newsbot import signals as nb_signals
from newsbot.idset import IdSet
from newsbot.outcome import fail_and_stop, fail_run, failed_feeds
from newsbot.spiders.arguments import run_arguments
from newsbot.state.backends import open_store
from newsbot.state.destinations import (
    DestinationFilter,
    destination_name,
    destination_pattern,
    is_local,
)
from newsbot.state.errors import StateError, StateUnavailable
from newsbot.state.model import Delivery, PublishEntry
from newsbot.state.records import as_dict, url_date
from newsbot.state.redis_guard import RedisUnavailable
from newsbot.state.store import StateStore

T = TypeVar("T")

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

    from newsbot.state.service import StateBackend

logger = logging.getLogger(__name__)


class StateExtension:
    """Keeps the state store in step with the crawl (README.md: The state directory)."""

    def __init__(self, crawler: Crawler, store: StateBackend) -> None:
        self.crawler = crawler
        self.store = store
        self.full = False
        self._unpublished = IdSet()  # written to a watched file not yet published
        self._exported = IdSet()  # published in this run
        self._untracked: dict[str, Delivery] = {}
        self._discovered = IdSet()
        self._column_marks: dict[str, int] = {}
        self._feeds_done: Deferred[None] | None = None
        self._closed = False
        #: The run's destinations (newsbot.state.destinations): name → glob of its files.
        self.destinations: dict[str, str] = {}
        #: One machine: what to fetch and write is decided per destination. A distributed
        #: crawl (Redis) records destinations too, but its workers' claim stays per article.
        self.per_destination = isinstance(store, StateStore)
        #: The store refused a write (a full disk, a lock held elsewhere): the run is failing.
        self._store_broken = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StateExtension:
        settings = crawler.settings
        if not settings.getbool("NEWSBOT_STATE_ENABLED", True):
            raise NotConfigured("NEWSBOT_STATE_ENABLED is off: no delivery record is kept")
        if crawler.spidercls is DefaultSpider:
            # `scrapy shell`, `fetch`, `view`: no delivery, and no reason to take the lock a
            # scheduled crawl may hold.
            raise NotConfigured  # shell, fetch, view: nothing to say
        try:
            # SQLite in NEWSBOT_STATE_DIR, or Redis for a distributed run (NEWSBOT_REDIS_URL).
            store = open_store(settings)
            directory = store.directory
            recovery = store.recover()
        except StateError as exc:
            # The traceback that follows is Scrapy's; this line is the one to read, and the
            # run's last line (state_failed) says it again.
            logger.critical("%s", exc)
            fail_run(crawler, "state_failed", str(exc))
            raise
        if recovery.published or recovery.discarded or recovery.temps_removed:
            logger.warning(
                "The previous run on %s did not end cleanly: %d records it had published are "
                "now recorded as exported, %d unpublished ones stay pending, %d temporary files "
                "removed",
                directory,
                recovery.published,
                recovery.discarded,
                len(recovery.temps_removed),
            )
        ext = cls(crawler, store)
        store.on_write_error = ext._store_failed
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.feed_exporter_closed, signal=signals.feed_exporter_closed)
        crawler.signals.connect(ext.article_discovered, signal=nb_signals.article_discovered)
        crawler.signals.connect(ext.article_failed, signal=nb_signals.article_failed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    # -- what the spider asks -------------------------------------------------------------

    def is_delivered(self, article_id: str) -> bool:
        """True when earlier runs gave this article to every destination of this run (or
        dropped it, for a reason that does not change by fetching again): no need to fetch it.
        A destination the store has never seen has nothing, so it gets every article."""
        if not self.per_destination:
            return self.store.is_settled(article_id)
        state = self.store.state_of(article_id)
        if state == "dropped":
            return True
        if state != "exported":
            return False
        return all(
            self.store.destination_revision(name, article_id) is not None
            for name in self.destinations
        )

    def all_have(self, article_id: str, revision: int) -> bool:
        if not self.per_destination:
            return True  # the delivered revision: the claim would refuse it anyway
        return not any(self.lacks(name, article_id, revision) for name in self.destinations)

    def lacks(self, destination: str, article_id: str, revision: int) -> bool:
        had = self.store.destination_revision(destination, article_id)
        return had is None or had < revision

    def high_water_mark(self, column: str) -> dt.datetime | None:
        """Publication time of the newest article a complete earlier run exported from this
        column (the incremental rule subtracts its overlap); None in a ``full=1`` run or before
        any."""
        if self.full:
            return None
        return self.store.high_water_mark(column)

    # -- what the delivery pipeline asks --------------------------------------------------

    def delivered(self, article_id: str) -> tuple[int, bytes | None] | None:
        return self.store.delivered(article_id)

    def first_with_text(self, text_hash: int, article_id: str) -> str | None:
        return self._bookkeeping(lambda: self.store.first_with_text(text_hash, article_id))

    def _bookkeeping(self, write: Callable[[], T]) -> T | None:
        """A bookkeeping write, skipped once the store has refused one: the run already fails
        with state_failed and stops, what it did not record is fetched again by the next run,
        and a traceback per article would bury the one line that says why."""
        try:
            return write()
        except StateUnavailable:
            if self._store_broken:
                return None
            raise

    # -- what feed storages and exporters report ------------------------------------------

    def register_temp(self, path: str) -> None:
        self.store.register_temp(path)

    def forget_temp(self, path: str) -> None:
        self.store.forget_temp(path)

    def note_written(self, delivery: Delivery, *, tracked: bool) -> None:
        if tracked:
            self._unpublished.add(delivery.article_id)
        else:
            self._untracked[delivery.article_id] = delivery

    def publishing(self, entries: list[PublishEntry]) -> int:
        for entry in entries:
            if not entry.destination:
                entry.destination = self._destination_of(entry.target)
        return self.store.begin_publish(entries)

    def _destination_of(self, target: str) -> str:
        """The run's destination whose template renders ``target`` (a file, or a file under a
        directory destination such as a Hexo blog); empty when none does."""
        target = os.path.normpath(target)  # `-o ../a.jsonl` renders /dir/../a.jsonl
        if target in self.destinations:
            return target
        for name, pattern in self.destinations.items():
            if fnmatch.fnmatchcase(target, pattern) or fnmatch.fnmatchcase(target, pattern + "/*"):
                return name
        return ""

    def published(self, token: int | None, entries: list[PublishEntry]) -> None:
        """The entries' files are in place: their articles are exported (the first published
        file holding an article makes it exported, as crash recovery would decide too)."""
        new = 0
        for entry in entries:
            for d in entry.deliveries:
                self._unpublished.discard(d.article_id)
                self._untracked.pop(d.article_id, None)
                if d.article_id not in self._exported:
                    self._exported.add(d.article_id)
                    new += 1
                self._note_mark(d)
        if token is not None:
            self.store.finish_publish(token, entries)
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("newsbot/exported", new)

    def publish_failed(
        self, token: int | None, entries: list[PublishEntry], error: BaseException
    ) -> None:
        if token is not None:
            self.store.abandon_publish(token, [e.temp for e in entries])
        logger.error(
            "Publishing %s failed (%s): %d records stay pending",
            ", ".join(e.target for e in entries),
            error,
            sum(len(e.deliveries) for e in entries),
        )

    def _store_failed(self, error: StateError) -> None:
        """The store's filesystem refused a write (a full disk): nothing fetched from now on
        could be delivered or even recorded, so the run fails and stops at once (like a crash,
        what it did not record is fetched again by the next run)."""
        self._store_broken = True
        code = "redis_failed" if isinstance(error, RedisUnavailable) else "state_failed"
        if self._closed:
            fail_run(self.crawler, code, str(error))
        else:
            fail_and_stop(self.crawler, code, str(error))

    def _note_mark(self, d: Delivery) -> None:
        if d.column and d.published_at:
            self._column_marks[d.column] = max(self._column_marks.get(d.column, 0), d.published_at)

    # -- signals --------------------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        self.full = run_arguments(spider).full
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("newsbot/exported", 0)
        feeds = self.crawler.get_extension(FeedExporter)
        if feeds is not None:
            self._feeds_done = Deferred()
            self._open_destinations(feeds)
        else:
            logger.warning(
                "No feed is configured (-o/FEEDS): records are not delivered anywhere, so "
                "every article stays pending in %s",
                self.store.directory,
            )

    def _open_destinations(self, feeds: FeedExporter) -> None:
        """Name the run's destinations, let a new one adopt what an upgraded store published
        before it kept destinations, and give each feed the filter that keeps it to what its
        destination lacks (one fetch per article, as many copies as feeds need)."""
        for template, options in feeds.feeds.items():
            name = destination_name(str(template))
            pattern = destination_pattern(name)
            self.destinations[name] = pattern
            if is_local(name):
                adopted = self.store.adopt(name, pattern)
                if adopted:
                    logger.info(
                        "Destination %s takes the %d articles its files held before the state "
                        "store kept destinations",
                        name,
                        adopted,
                    )
            options["item_filter"] = self._filter_factory(name, options.get("item_filter"))
        # Scrapy may have opened the feeds' first batch before this handler ran.
        for slot in feeds.slots:
            name = destination_name(str(slot.uri_template))
            if not isinstance(slot.filter, DestinationFilter):
                slot.filter = DestinationFilter(
                    slot.feed_options, service=self, destination=name, inner=slot.filter
                )

    def _filter_factory(self, name: str, user: Any) -> Any:
        def build(feed_options: dict[str, Any] | None) -> DestinationFilter:
            inner = (
                load_object(user)(feed_options) if user is not None else ItemFilter(feed_options)
            )
            return DestinationFilter(feed_options, service=self, destination=name, inner=inner)

        return build

    def article_discovered(
        self, article_id: str, url: str, meta: dict[str, Any], spider: Spider
    ) -> None:
        self._discovered.add(str(article_id))
        self._bookkeeping(
            lambda: self.store.discovered(
                article_id, url_date=url_date({"url": url}), column=(meta or {}).get("column")
            )
        )

    def article_failed(self, article_id: str | None, url: str, reason: str, spider: Spider) -> None:
        if not article_id:
            return
        left = self._bookkeeping(
            lambda: self.store.failed(article_id, reason, url_date=url_date({"url": url}))
        )
        if left == "exported":
            stats = self.crawler.stats
            assert stats is not None
            stats.inc_value("newsbot/recheck/failed")

    def item_dropped(
        self, item: Any, response: Any, exception: BaseException, spider: Spider
    ) -> None:
        reason = getattr(exception, "reason", None)
        if not getattr(exception, "settles", True):
            return
        ident = _article_id(item)
        if ident:
            self._bookkeeping(
                lambda: self.store.dropped(
                    ident, reason or "dropped", url_date=url_date(as_dict(item))
                )
            )

    def item_error(self, item: Any, response: Any, spider: Spider, failure: Any) -> None:
        ident = _article_id(item)
        if ident:
            self._bookkeeping(lambda: self.store.failed(ident, "pipeline_error"))

    def feed_exporter_closed(self) -> None:
        stats = self.crawler.stats
        assert stats is not None
        feed_failed = bool(failed_feeds(stats.get_stats()))
        untracked = [d for i, d in self._untracked.items() if i not in self._unpublished]
        if untracked and not feed_failed:
            # Records that went only to feeds newsbot cannot watch being published (stdout, S3…):
            # their feeds closed without error, which is the best evidence there is.
            for d in untracked:
                self._note_mark(d)
            for name in self.destinations:
                if not is_local(name):
                    self.store.note_destination(name, untracked)
            stats.inc_value(
                "newsbot/exported", self.store.bulk_exported((d, "") for d in untracked)
            )
        if self._feeds_done is not None and not self._feeds_done.called:
            self._feeds_done.callback(None)

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._feeds_done is not None and not self._feeds_done.called:
            # Feeds publish while spider_closed runs; the books close after them.
            await maybe_deferred_to_future(self._feeds_done)
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        stats = self.crawler.stats
        assert stats is not None
        try:
            unpublished = sum(1 for i in self._unpublished if i not in self._exported)
            if unpublished:
                stats.set_value("newsbot/delivery/unpublished", unpublished)
            if reason == "finished":
                for column, mark in self._column_marks.items():
                    self.store.set_high_water_mark(column, mark)
            self.store.commit()
            # A distributed worker's articles may be in another worker's file, being published.
            self.store.wait_for_others(self._discovered)
            pending = sum(1 for i in self._discovered if self.store.state_of(i) == "pending")
            stats.set_value("newsbot/delivery/pending", pending)
            counts = self.store.counts()
            for state, n in counts.items():
                stats.set_value(f"newsbot/state/{state}", n)
        except StateError as exc:
            fail_run(self.crawler, "state_failed", str(exc))
        except Exception as exc:
            fail_run(self.crawler, "state_failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            # The run's books are closed: reports read the store before it goes.
            self.crawler.signals.send_catch_log(
                nb_signals.state_closing, store=self.store, reason=reason
            )
            self.store.close()

    def engine_stopped(self) -> None:
        # A crawl that never opened its spider still releases the directory.
        if not self._closed:
            self._closed = True
            self.store.close()


def _article_id(item: Any) -> str | None:
    try:
        ident = as_dict(item).get("article_id")
    except TypeError:
        return None
    return str(ident) if ident else None
