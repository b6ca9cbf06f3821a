"""``-a retry_failed=1``: fetch again just the articles the dead-letter list holds.

The state store keeps every article that failed, with its reason and attempts (the same list
``dead-letter.jsonl`` shows). A run with ``retry_failed=1`` starts with requests for those
articles, whatever their attempt count, and nothing else: no list pages, no search, no resumed
or rechecked articles. Each one then ends exported, dropped, or failed again (one more attempt).

This spider middleware sits before the delivery middleware's start (it receives the start
requests after that one has added its own) and, in a replay, replaces the whole start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from newsbot.outcome import fail_run
from newsbot.requestmeta import ArticleSource, request_article
from newsbot.spiders.arguments import run_arguments
from newsbot.state.model import url_date_str
from newsbot.state.service import delivery_service
from newsbot.urls import article_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def wants_replay(spider: Any) -> bool:
    return run_arguments(spider).retry_failed


class RetryFailedMiddleware(BaseSpiderMiddleware):
    """See the module docs."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryFailedMiddleware:
        if not crawler.settings.getbool("NEWSBOT_OPS_ENABLED", True):
            raise NotConfigured
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        if not wants_replay(spider):
            async for o in start:
                yield o
            return
        state = delivery_service(self.crawler)
        if state is None:
            fail_run(
                self.crawler,
                "retry_failed_without_state",
                "retry_failed=1 replays the state store's failed articles, but the store is "
                "off (NEWSBOT_STATE_ENABLED)",
            )
            return
        if not isinstance(spider, ArticleSource):
            raise NotConfigured(f"spider {getattr(spider, 'name', '?')} has no article_request")
        failed = list(state.store.failed_articles())
        logger.info(
            "retry_failed=1: fetching the %d articles of the dead-letter list, and nothing else",
            len(failed),
        )
        for row in failed:
            date = url_date_str(row.url_date)
            if date is None:
                logger.warning("Cannot replay article %s: its URL is not known", row.article_id)
                continue
            # The delivery middleware lets "owed" requests through like its own resumed ones.
            request = request_article(
                self.crawler,
                article_url(date, row.article_id),
                column=row.column,
                mark="owed",
                replay=True,
            )
            if request is not None:
                yield request
