"""How a component says "this run failed", so that the run exits non-zero.

Scrapy's ``crawl`` command exits 0 unless the crawler could not start. newsbot's own ``crawl``
command (:mod:`newsbot.commands.crawl`) also exits 1 when a component called :func:`fail_run`,
and logs the first reason as its last line.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

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


def running_engine(crawler: Crawler | None) -> ExecutionEngine | None:
    """The crawler's engine, or None before the crawl has started (``crawler.engine`` raises
    then)."""
    if crawler is None:
        return None
    try:
        return crawler.engine
    except RuntimeError:
        return None


def failure(crawler: Crawler) -> str | None:
    """The first recorded failure, or None when the run has not failed."""
    stats = crawler.stats
    return stats.get_value(FAILURE_KEY) if stats is not None else None
