"""scrapy-redis's scheduler, adapted so that workers can come, go and die.

:class:`RedisScheduler` is scrapy-redis's :class:`~scrapy_redis.scheduler.Scheduler` with:

- a worker closing never flushes the shared queue nor the dupefilter (scrapy-redis flushes both
  on close unless ``SCHEDULER_PERSIST`` is set: one worker finishing would end the others' crawl);
- a queue (:class:`LeasedQueue`, scrapy-redis's priority queue) whose pops are leases: a popped
  request stays recorded as this worker's until its outcome is in the queue (or, for an
  article, in the state), and goes back if the worker dies (see
  :mod:`newsbot.state.redis_store`); an article is queued and fetched by one worker at a time;
- the dupefilter of the current job (:class:`JobDupeFilter`), so that the next crawl (the next
  hourly run) reads list pages again instead of finding them all "seen";
- requests stored as JSON (:mod:`newsbot.distributed.serializer`), not pickle.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import CloseSpider
from scrapy.http import FormRequest, JsonRequest, Request
from scrapy.utils.request import request_from_dict
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from newsbot.distributed import serializer
from newsbot.distributed.worker import join_crawl
from newsbot.outcome import fail_run
from newsbot.requestmeta import LEASE, article_id_of, article_meta
from newsbot.spiders.arguments import run_arguments
from newsbot.state.errors import StateError
from newsbot.state.redis_store import RedisStateStore
from newsbot.state.service import delivery_service

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Request classes a queued request may name (``_class``): nothing else is ever built from it.
REQUEST_CLASSES = {
    f"{cls.__module__}.{cls.__name__}": cls for cls in (Request, FormRequest, JsonRequest)
}


class JobDupeFilter(RFPDupeFilter):
    """scrapy-redis's dupefilter, never cleared by a worker closing (the job's end clears it)."""

    def close(self, reason: str = "") -> None:
        """Keep the fingerprints: other workers are still crawling."""


class LeasedQueue(PriorityQueue):
    """scrapy-redis's priority queue, with every push and pop done by the state store's Lua
    scripts (dedupe of articles, leases, ownership)."""

    def __init__(self, store: RedisStateStore, spider: Spider) -> None:
        super().__init__(store.redis, spider, store.k("requests"), serializer)
        self.store = store

    def push(self, request: Request) -> bool:
        lease = request.meta.get(LEASE) or ""
        data = request.to_dict(spider=self.spider)
        data["meta"] = {k: v for k, v in data["meta"].items() if k != LEASE}
        ident = article_id_of(request)
        meta = article_meta(request)
        recheck = meta is not None and bool(meta.get("recheck"))
        force = bool(ident) and (recheck or run_arguments(self.spider).full)
        member = f"{ident}|{'1' if force else '0'}|{self.serializer.dumps(data)}"
        # List and search pages go before articles of the same priority: they feed the queue,
        # and a worker waiting for the next list page has nothing to do.
        score = -request.priority - (0 if ident else 0.5)
        return self.store.push(score, member, ident, force, str(lease))

    def pop(self, timeout: int = 0) -> Request | None:
        while (got := self.store.pop()) is not None:
            member, lease = got
            ident, _, payload = member.split("|", 2)
            try:
                request = self._decode_request(payload)
            except (ValueError, TypeError, KeyError) as exc:
                # Not a request newsbot queued (or from an incompatible version): dropped, loudly,
                # rather than handed from worker to worker forever.
                logger.error("Dropping an unreadable queued request (%s): %.200s", exc, payload)
                if ident:
                    self.store.release(ident)
                else:
                    self.store.release_lease(lease)
                continue
            request.meta[LEASE] = lease
            return request
        return None

    def _decode_request(self, encoded_request: Any) -> Request:
        data = self.serializer.loads(encoded_request)
        name = data.pop("_class", None)
        if name is not None and name not in REQUEST_CLASSES:
            raise ValueError(f"queued request of unknown class {name!r} refused")
        if name is not None:
            data["_class"] = name
        return request_from_dict(data, spider=self.spider)


class RedisScheduler(Scheduler):
    """The scheduler of a distributed run (``NEWSBOT_REDIS_URL``; see module docs)."""

    def __init__(self, crawler: Crawler, store: RedisStateStore) -> None:
        super().__init__(
            server=store.redis,
            persist=True,
            flush_on_start=False,
            queue_key=store.k("requests"),
            serializer=serializer,
        )
        self.crawler = crawler
        self.store = store
        self.stats = crawler.stats
        self.seed_only = crawler.settings.getbool("NEWSBOT_REDIS_SEED_ONLY", False)
        self.debug = crawler.settings.getbool("DUPEFILTER_DEBUG")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisScheduler:
        service = delivery_service(crawler)
        store = service.store if service is not None else None
        if not isinstance(store, RedisStateStore):
            raise RuntimeError(
                "distributed crawling (NEWSBOT_REDIS_URL) keeps its state in Redis; the state "
                "extension did not open a Redis store"
            )
        return cls(crawler, store)

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.queue = LeasedQueue(self.store, spider)
        try:
            job = join_crawl(self.crawler, self.store, spider, seed_only=self.seed_only)
        except StateError as exc:
            fail_run(self.crawler, "distributed_refused", str(exc))
            raise CloseSpider("distributed_refused") from None
        self.df = JobDupeFilter(
            self.server, key=self.store.k(f"dupefilter:{job}"), debug=self.debug
        )
        queued = len(self.queue)
        if queued:
            logger.info("Job %s: %d requests already queued", job, queued)

    def close(self, reason: str) -> None:
        """The shared queue and the dupefilter stay as they are for the other workers: what
        this worker still holds is handed back when the state store closes (after the feeds
        have published)."""

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            self._inc("newsbot/redis/filtered")
            return False
        if self.queue.push(request):
            self._inc("newsbot/redis/pushed")
            return True
        self._inc("newsbot/redis/not_needed")
        return False

    def next_request(self) -> Request | None:
        if self.seed_only:
            return None
        request = self.queue.pop()
        if request is not None:
            self._inc("newsbot/redis/popped")
        return request

    def has_pending_requests(self) -> bool:
        return not self.seed_only and len(self.queue) > 0
