"""The parts of a distributed run besides the scheduler (all enabled by the add-on).

- :func:`join_crawl` (called when the scheduler opens): become a live worker, then create the
  job the workers share or join it, taking its spider arguments.
- :class:`LeaseSpiderMiddleware`: only the job's creator (or ``scrapy seed``) queues start
  requests; a popped request's lease is released once everything its callback produced is in
  the queue.
- :class:`LeaseDownloaderMiddleware`: a request that failed for good is done too.
- :class:`ClaimPipeline`: a record is claimed (checked to be this worker's) before it is written.
- :class:`WorkerExtension`: the heartbeat, reaping dead workers, and the idle loop: a worker with
  nothing to do waits while others may still produce work, and ends when the crawl is done.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from twisted.internet.task import LoopingCall

from newsbot.outcome import fail_and_stop, running_engine
from newsbot.pipelines import RecordDropped
from newsbot.requestmeta import LEASE, ArticleSource, article_id_of, request_article
from newsbot.spiders.arguments import ArgumentError, run_arguments, take_arguments
from newsbot.state.errors import StateError
from newsbot.state.redis_guard import RedisUnavailable
from newsbot.state.redis_store import LeaseLost, RedisStateStore
from newsbot.state.service import delivery_service
from newsbot.urls import article_url

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


def redis_store(crawler: Crawler) -> RedisStateStore:
    """The run's Redis store, from the delivery service (after the extensions are built)."""
    service = delivery_service(crawler)
    store = service.store if service is not None else None
    if not isinstance(store, RedisStateStore):
        raise NotConfigured("not a distributed run (NEWSBOT_REDIS_URL is not set)")
    return store


def job_arguments(spider: Spider) -> dict[str, str]:
    """The run's arguments that define what a crawl does (not ``_job``, not feed path
    parameters); a ``urls_file`` becomes its URLs, since other workers cannot read the file."""
    args = run_arguments(spider)
    out = {
        k: str(v)
        for k, v in args.given.items()
        if not k.startswith("_") and k not in args.feed_params
    }
    if "urls_file" in out:
        del out["urls_file"]
        out["url"] = ",".join(args.urls)
    return out


def join_crawl(crawler: Crawler, store: RedisStateStore, spider: Spider, *, seed_only: bool) -> str:
    """Register this worker and create or join the job; returns the job id. Raises
    :class:`StateError` when this worker must not run (id in use, other arguments)."""
    requests, articles, _held = store.register()
    if requests or articles:
        logger.warning(
            "An earlier process with worker id %s died: %d requests and %d articles it held "
            "are back in the queue",
            store.worker,
            requests,
            articles,
        )
    mine = job_arguments(spider)
    joined = store.join(mine, create_only=seed_only)
    if joined.how == "busy":
        raise StateError(
            f"a crawl is in progress on {store.directory} (job {joined.job}, arguments "
            f"{joined.arguments or 'none'}): seed when it is over, or start workers to finish it "
            "(`scrapy queue-status` shows it)"
        )
    if joined.how == "joined" and mine and mine != joined.arguments:
        store.joined = None  # not part of it: leaving must not end it
        raise StateError(
            f"this worker was started with arguments {mine}, but the crawl in progress on "
            f"{store.directory} (job {joined.job}) has {joined.arguments or 'none'}: start "
            "workers with the same arguments or none (they take the job's), or drop the job "
            "with `scrapy queue-status --drop` once its workers are stopped"
        )
    if joined.how == "joined" and joined.arguments and not mine:
        # Every worker reads list pages the same way: by the job's arguments.
        try:
            take_arguments(spider, crawler.settings, joined.arguments)
        except ArgumentError as exc:
            raise StateError(f"the job's arguments do not work here: {exc}") from exc
    spider.worker = store.worker  # type: ignore[attr-defined]  # %(worker)s in feed paths
    logger.info(
        "Worker %s %s job %s on %s (arguments: %s)",
        store.worker,
        "created" if joined.how == "created" else "joined",
        joined.job,
        store.directory,
        joined.arguments or "none",
    )
    return joined.job


def _wake_engine(crawler: Crawler) -> None:
    """Ask the engine for the next requests now, not at its own next heartbeat (5 s). Scrapy has
    no public call for this; without it the engine still polls every 5 s."""
    engine = running_engine(crawler)
    # Scrapy ceiling (pyproject.toml): ExecutionEngine._slot is private.
    slot = engine._slot if engine is not None else None
    if slot is not None:
        slot.nextcall.schedule()


class LeaseSpiderMiddleware:
    """Start requests from the job's creator only; release leases when a callback is done.

    It is the outermost spider middleware: the requests a callback yields are queued here, as
    they come, so that when the callback is over everything it produced is in the shared queue
    and the popped request can be let go (had the worker died before, the request would have
    been handed back and asked again by another worker).
    """

    def __init__(self, crawler: Crawler, store: RedisStateStore) -> None:
        self.crawler = crawler
        self.store = store
        self.seed_only = crawler.settings.getbool("NEWSBOT_REDIS_SEED_ONLY", False)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseSpiderMiddleware:
        return cls(crawler, redis_store(crawler))

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        joined = self.store.joined
        if joined is None:
            return
        if joined.how != "created":
            logger.info("Job %s: its start requests were queued by its creator", joined.job)
            return
        n = 0
        async for o in start:
            n += isinstance(o, Request)
            yield o
        # Reached once the engine asks for the next one: the last request is queued.
        self.store.end_seeding()
        logger.info("Job %s: %d start requests queued", joined.job, n)
        if self.seed_only:
            raise CloseSpider("seeded")

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        request = response.request
        items = 0
        try:
            async for o in result:
                if isinstance(o, Request):
                    engine = self.crawler.engine
                    assert engine is not None
                    engine.crawl(o)
                else:
                    items += 1
                    yield o
        finally:
            if request is not None:
                self._done(request, items)

    def _done(self, request: Request, items: int) -> None:
        lease = request.meta.get(LEASE)
        if not lease:
            return
        if lease != "own":
            self.store.release_lease(str(lease))
        elif not items and (ident := article_id_of(request)):
            # No record came of it (a failure is recorded, a retry is queued): not ours now.
            self.store.release(ident)


class LeaseDownloaderMiddleware:
    """Outermost downloader middleware: a request that failed for good (after retries) goes to
    its errback, which for list and search pages only logs: its lease is done."""

    def __init__(self, store: RedisStateStore) -> None:
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseDownloaderMiddleware:
        return cls(redis_store(crawler))

    def process_exception(self, request: Request, exception: Exception) -> None:
        lease = request.meta.get(LEASE)
        if lease and lease != "own":
            self.store.release_lease(str(lease))


class ClaimPipeline:
    """Last pipeline: the record is this worker's to write (it still owns the article, nobody
    else delivered it), else it is dropped (``newsbot/redis/claimed_elsewhere``)."""

    def __init__(self, crawler: Crawler, store: RedisStateStore) -> None:
        self.crawler = crawler
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClaimPipeline:
        return cls(crawler, redis_store(crawler))

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        ident = adapter.get("article_id")
        if not ident:
            return item
        try:
            got = self.store.claim(str(ident), int(adapter.get("revision") or 1))
        except LeaseLost as exc:
            lease_lost(self.crawler, str(exc))
            raise RecordDropped("lease_lost", str(exc), settles=False) from None
        if got != "ok":
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newsbot/redis/claimed_elsewhere")
            raise RecordDropped(
                "claimed_elsewhere",
                f"article {ident} is {'delivered' if got == 'exported' else 'another worker’s'}",
                settles=False,
                log_level="DEBUG",
            )
        return item


def lease_lost(crawler: Crawler, message: str) -> None:
    """This worker's work was handed to others: fail the run and stop it."""
    stats = crawler.stats
    if stats is not None and stats.get_value("newsbot/failures/lease_lost"):
        return
    fail_and_stop(crawler, "lease_lost", message, later=False)


class WorkerExtension:
    """Heartbeat, reaping, orphans, and when to stop (see module docs)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        # The store comes from the delivery service once the extensions are built (this one's
        # from_crawler is too early for crawler.get_extension).
        self._store: RedisStateStore | None = None
        self.interval = max(0.1, crawler.settings.getfloat("NEWSBOT_REDIS_LEASE", 30.0) / 5)
        # How soon an idle worker sees requests others queued (a few cheap Redis calls).
        self.poll = min(0.1, self.interval)
        self._beat: LoopingCall | None = None
        self._poll: LoopingCall | None = None
        self._announced = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerExtension:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    @property
    def store(self) -> RedisStateStore:
        if self._store is None:
            self._store = redis_store(self.crawler)
        return self._store

    def _inc(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, n)

    def spider_opened(self, spider: Spider) -> None:
        if not self.store.registered:
            return
        self._beat = LoopingCall(self.beat)
        self._beat.start(self.interval, now=False).addErrback(self._loop_failed)
        self._poll = LoopingCall(_wake_engine, self.crawler)
        self._poll.start(self.poll, now=False).addErrback(self._loop_failed)

    def _loop_failed(self, failure: Any) -> None:
        self.engine_stopped()
        if isinstance(failure.value, RedisUnavailable):
            return  # said once already (the run fails with redis_failed and stops)
        logger.error(
            "Distributed worker loop failed: %s",
            failure.value,
            exc_info=(failure.type, failure.value, failure.getTracebackObject()),
        )
        fail_and_stop(self.crawler, "redis_failed", str(failure.value))

    def engine_stopped(self) -> None:
        for loop in (self._beat, self._poll):
            if loop is not None and loop.running:
                loop.stop()

    def beat(self) -> None:
        """Renew this worker's lease, reap dead workers, settle their publishes, ask for
        orphaned articles again."""
        store = self.store
        if store.closed:
            self.engine_stopped()
            return
        if not store.heartbeat():
            lease_lost(self.crawler, store._lost_message())
            return
        for dead in store.dead_workers():
            got = store.reap(dead)
            if got is not None:
                self._inc("newsbot/redis/reaped_workers")
                self._inc("newsbot/redis/requeued", got[0] + got[1])
                logger.warning(
                    "Worker %s is gone (no heartbeat): %d requests and %d articles it held are "
                    "back in the queue, %d wait for its publish to be settled",
                    dead,
                    got[0],
                    got[1],
                    got[2],
                )
        recovery = store.recover()
        if recovery.published or recovery.discarded:
            logger.warning(
                "Settled publishes of dead workers: %d records exported, %d back to the queue",
                recovery.published,
                recovery.discarded,
            )
        self._ask_orphans()

    def _ask_orphans(self) -> int:
        """Requests for articles handed back without one; how many were queued."""
        engine = running_engine(self.crawler)
        if not isinstance(self.crawler.spider, ArticleSource) or engine is None:
            return 0
        if engine.spider is None:
            return 0
        n = 0
        for ident, date, column in self.store.orphans():
            if date is None:  # no URL can be made for it (it was never given one): nothing to do
                continue
            request = request_article(
                self.crawler, article_url(date, ident), column=column, mark="owed"
            )
            if request is not None:
                engine.crawl(request)
                n += 1
        self._inc("newsbot/redis/orphans_requested", n)
        return n

    def spider_idle(self, spider: Spider) -> None:
        if self.store.closed or not self.store.registered or self.store.joined is None:
            return
        try:
            verdict = self.store.verdict()
        except RedisUnavailable:
            return  # said once already: the worker stops
        if verdict == "reap":
            self.beat()
            raise DontCloseSpider
        if verdict == "orphans" and self._ask_orphans():
            raise DontCloseSpider
        if verdict in ("work", "wait"):
            if verdict != self._announced and verdict == "wait":
                logger.info("Nothing to do now: waiting for the other workers")
            self._announced = verdict
            raise DontCloseSpider
        logger.info(
            "Job %s is %s: this worker stops",
            self.store.joined.job,
            "over" if verdict == "gone" else "done",
        )

    def item_dropped(
        self, item: Any, response: Any, exception: BaseException, spider: Spider
    ) -> None:
        if getattr(exception, "settles", True):
            return  # recorded as dropped, which lets go of the article
        try:
            ident = ItemAdapter(item).get("article_id")
        except TypeError:
            return
        if ident:
            with contextlib.suppress(RedisUnavailable):  # gone: the lease lets go for us
                self.store.release(str(ident))
