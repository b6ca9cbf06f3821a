"""Spider middleware for incremental runs: what the state store says to fetch, or not.

- Article requests (``meta["newsbot"]["article_id"]``) for articles an earlier run delivered are
  dropped, in every mode, unless the run is ``full=1`` (counted ``newsbot/skipped/delivered``).
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
from newsbot.signals import article_discovered
from newsbot.state.extension import spider_flag
from newsbot.state.service import delivery_service

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from newsbot.state.service import DeliveryService

logger = logging.getLogger(__name__)


def recheck_days(spider: Spider, default: int) -> int:
    """Days to recheck: the spider argument ``recheck_days`` if given, else the setting."""
    args = getattr(spider, "args", None)
    value = getattr(args, "recheck_days", None) if args is not None else None
    if value is None:
        value = getattr(spider, "recheck_days", None)
    if value is None or value == "":
        return default
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"recheck_days: {value!r} is not a whole number of days") from None
    if days < 0:
        raise ValueError(f"recheck_days: {value!r} is negative")
    return days


class DeliveryMiddleware(BaseSpiderMiddleware):
    """Skip delivered articles; add owed and recheck requests (see module docs)."""

    def __init__(self, crawler: Crawler, state: DeliveryService) -> None:
        super().__init__(crawler)
        self.state = state
        settings = crawler.settings
        self.resume = settings.getbool("NEWSBOT_STATE_RESUME", True)
        self.max_attempts = settings.getint("NEWSBOT_STATE_MAX_ATTEMPTS", 3)
        self.default_recheck = settings.getint("NEWSBOT_RECHECK_DAYS", 0)
        self.root = (settings.get("NEWSBOT_SITE_ROOT") or "https://www.nbd.com.cn").rstrip("/")
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
        days = recheck_days(spider, self.default_recheck)
        if days:
            since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
            n = 0
            for ident, date, column in self.state.store.exported_since(since):
                request = self._article_request(spider, ident, date, column, recheck=True)
                if request is not None:
                    n += 1
                    yield request
            self._inc("newsbot/recheck/requested", n)
            logger.info("Rechecking %d articles published in the last %d days", n, days)
        if self.resume:
            owed = list(self.state.store.open_articles(self.max_attempts))
            n = 0
            for ident, date, column in owed:
                request = self._article_request(spider, ident, date, column, recheck=False)
                if request is not None:
                    n += 1
                    yield request
            if n:
                self._inc("newsbot/resumed", n)
                logger.info("Fetching %d articles that earlier runs left pending or failed", n)

    def _article_request(
        self, spider: Spider, ident: str, date: str | None, column: str | None, *, recheck: bool
    ) -> Request | None:
        if date is None or ident in self._requested:
            return None
        url = f"https://www.nbd.com.cn/articles/{date}/{ident}.html"
        maker = getattr(spider, "article_request", None)
        if maker is not None:
            request = maker(url, column=column)
            if request is None:
                return None
        else:
            parse = getattr(spider, "parse_article", None)
            if parse is None:
                logger.warning(
                    "Spider %s has no parse_article: cannot refetch %s", spider.name, url
                )
                return None
            meta = {
                "article_id": ident,
                "url": url,
                "column": column,
                "listed_at": None,
                "list_title": None,
            }
            self.crawler.signals.send_catch_log(
                article_discovered, article_id=ident, url=url, meta=dict(meta), spider=spider
            )
            request = Request(
                f"{self.root}/articles/{date}/{ident}.html",
                callback=parse,
                errback=getattr(spider, "article_error", None),
                meta={"newsbot": meta},
                dont_filter=True,
            )
        # Marked so that retries (which copy the meta) pass, while the spider finding the same
        # article on a list page does not fetch it a second time.
        request.meta["newsbot"]["recheck" if recheck else "owed"] = True
        self._requested.add(ident)
        return request

    # -- spider output --------------------------------------------------------------------

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        meta = request.meta.get("newsbot")
        if not isinstance(meta, dict) or not meta.get("article_id"):
            return request
        ident = str(meta["article_id"])
        if meta.get("recheck") or meta.get("owed"):
            return request
        if ident in self._requested:
            # Already asked for at start (owed or recheck): one fetch per article per run.
            self._inc("newsbot/skipped/requested")
            return None
        spider = self.crawler.spider
        if (
            spider is not None
            and not spider_flag(spider, "full")
            and self.state.is_delivered(ident)
        ):
            self._inc("newsbot/skipped/delivered")
            return None
        return request
