"""Spider middleware for incremental runs: what the state store says to fetch, or not.

- Article requests (:class:`~newsbot.requestmeta.ArticleMeta`) for articles an earlier run
  delivered are dropped, in every mode, unless the run is ``full=1``: the rule of
  :class:`~newsbot.state.incremental.Incremental`, which this middleware owns.
- At start it adds requests for what earlier runs still owe: articles left pending by an
  interrupted run, and failed ones with fewer than ``NEWSBOT_STATE_MAX_ATTEMPTS`` attempts
  (``NEWSBOT_STATE_RESUME``).
- ``-a recheck_days=N`` (or ``NEWSBOT_RECHECK_DAYS``) adds requests for the articles exported
  with a publication time in the last N days; the delivery pipeline then re-exports only those
  whose content changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from newsbot.idset import IdSet
from newsbot.requestmeta import ArticleSource, article_meta, request_article
from newsbot.spiders.arguments import run_arguments
from newsbot.state.incremental import Incremental
from newsbot.state.service import delivery_service
from newsbot.urls import article_url

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from newsbot.state.service import DeliveryService

logger = logging.getLogger(__name__)


class DeliveryMiddleware(BaseSpiderMiddleware):
    """Skip delivered articles; add owed and recheck requests (see module docs)."""

    def __init__(self, crawler: Crawler, state: DeliveryService) -> None:
        super().__init__(crawler)
        self.state = state
        settings = crawler.settings
        self.resume = settings.getbool("NEWSBOT_STATE_RESUME", True)
        self.max_attempts = settings.getint("NEWSBOT_STATE_MAX_ATTEMPTS", 3)
        self.default_recheck = settings.getint("NEWSBOT_RECHECK_DAYS", 0)
        #: The incremental rule (the spider asks it too, see newsbot.state.incremental).
        self.incremental = Incremental(crawler, state)
        self._requested = IdSet()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeliveryMiddleware:
        state = delivery_service(crawler)
        if state is None:
            raise NotConfigured("no state store (NEWSBOT_STATE_ENABLED is off)")
        return cls(crawler, state)

    def _inc(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, n)

    # -- start ----------------------------------------------------------------------------

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        assert spider is not None
        for request in self._extra_requests(spider):
            yield request
        async for o in start:
            if (o := self._get_processed(o, None)) is not None:
                yield o

    def _extra_requests(self, spider: Spider) -> Iterator[Request]:
        days = run_arguments(spider).recheck_days
        if days is None:
            days = self.default_recheck
        if days:
            since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
            n = 0
            for ident, date, column in self.state.store.exported_since(since):
                request = self._article_request(ident, date, column, recheck=True)
                if request is not None:
                    n += 1
                    yield request
            self._inc("newsbot/recheck/requested", n)
            logger.info("Rechecking %d articles published in the last %d days", n, days)
        if self.resume:
            owed = list(self.state.store.open_articles(self.max_attempts))
            n = 0
            for ident, date, column in owed:
                request = self._article_request(ident, date, column, recheck=False)
                if request is not None:
                    n += 1
                    yield request
            if n:
                self._inc("newsbot/resumed", n)
                logger.info("Fetching %d articles that earlier runs left pending or failed", n)

    def _article_request(
        self, ident: str, date: str | None, column: str | None, *, recheck: bool
    ) -> Request | None:
        if date is None or ident in self._requested:
            return None
        spider = self.crawler.spider
        if not isinstance(spider, ArticleSource):
            logger.warning(
                "Spider %s has no article_request: cannot refetch article %s",
                getattr(spider, "name", "?"),
                ident,
            )
            return None
        request = request_article(
            self.crawler,
            article_url(date, ident),
            column=column,
            mark="recheck" if recheck else "owed",
        )
        if request is not None:
            self._requested.add(ident)
        return request

    # -- spider output --------------------------------------------------------------------

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        meta = article_meta(request)
        if meta is None:
            return request
        ident = str(meta["article_id"])
        if meta.get("recheck") or meta.get("owed"):
            return request
        if ident in self._requested:
            # Already asked for at start (owed or recheck): one fetch per article per run.
            self._inc("newsbot/skipped/requested")
            return None
        if self.incremental.skip_delivered(ident, url=meta["url"], column=meta.get("column")):
            return None
        return request
