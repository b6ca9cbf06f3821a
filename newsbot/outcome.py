"""How a component says "this run failed", so that the run exits non-zero.

Scrapy's ``crawl`` command exits 0 unless the crawler could not start. newsbot's own ``crawl``
command (:mod:`newsbot.commands.crawl`) also exits 1 when a component called :func:`fail_run`,
and logs the first reason as its last line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Stats key holding the first failure's one-line reason.
FAILURE_KEY = "newsbot/failure"


def fail_run(crawler: Crawler, code: str, message: str) -> None:
    """Record a failure: ``code`` is a short stable name (``storage_failed``), counted as
    ``newsbot/failures/<code>``; ``message`` is the one line a person reads."""
    stats = crawler.stats
    assert stats is not None
    stats.inc_value(f"newsbot/failures/{code}")
    if not stats.get_value(FAILURE_KEY):
        stats.set_value(FAILURE_KEY, f"{code}: {message}")
    logger.error("run failed: %s: %s", code, message)


def fail_and_stop(crawler: Crawler, code: str, message: str, *, later: bool = True) -> None:
    """Fail the run (:func:`fail_run`) and close the spider with ``code`` as its close reason:
    for a failure after which nothing fetched could be delivered (a full disk under the state
    store, a feed target that refuses writes, a distributed worker's lost lease), so fetching
    more would only cost the site.

    ``later``: on the next turn of the event loop, not from inside the handler that hit the
    error (an item or a signal handler the engine is still running). Nothing happens to a
    spider that is not open or already closing.
    """
    fail_run(crawler, code, message)
    engine = running_engine(crawler)
    if engine is None or engine.spider is None:
        return
    if later:
        from scrapy.utils.asyncio import call_later

        call_later(0, _close_spider, crawler, code)
    else:
        _close_spider(crawler, code)


def _close_spider(crawler: Crawler, reason: str) -> None:
    from scrapy.utils.defer import deferred_from_coro

    engine = running_engine(crawler)
    if engine is not None and engine.spider is not None and engine.running:
        deferred_from_coro(engine.close_spider_async(reason=reason))


def running_engine(crawler: Crawler | None) -> ExecutionEngine | None:
    """The crawler's engine, or None before the crawl has started (``crawler.engine`` raises
    then)."""
    if crawler is None:
        return None
    try:
        return crawler.engine
    except RuntimeError:
        return None


def failed_feeds(stats: Mapping[str, Any]) -> int:
    """How many feeds Scrapy's feed exporter could not store (its
    ``feedexport/failed_count/<storage>`` stats), from a stats dict.

    >>> failed_feeds({"feedexport/failed_count/FileFeedStorage": 2, "item_scraped_count": 9})
    2
    """
    return sum(int(v) for k, v in stats.items() if k.startswith("feedexport/failed_count/"))


def failure(crawler: Crawler) -> str | None:
    """The first recorded failure, or None when the run has not failed."""
    stats = crawler.stats
    return stats.get_value(FAILURE_KEY) if stats is not None else None
