"""The incremental rule, in one place: what an earlier run delivered is not fetched again, and a
column's paging stops where the earlier runs left off.

- :meth:`Incremental.skip_delivered`: an article earlier runs gave to every destination of this
  run (:mod:`newsbot.state.destinations`), or dropped for a reason that does not change by
  fetching again, is not fetched, unless the run is ``full=1``; counted once, as
  ``newsbot/skipped/delivered``.
- :meth:`Incremental.caught_up`: a list page on which every article was delivered and is older
  than the column's high-water mark (less ``NEWSBOT_INCREMENTAL_OVERLAP_HOURS``) ends the
  column.

The delivery middleware owns the one instance (it also applies the rule to every article
request the spider makes); the spider asks it through :func:`incremental_of` while reading a
list page, before it announces an article as discovered.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from newsbot.signals import article_skipped
from newsbot.spiders.arguments import run_arguments

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newsbot.state.service import DeliveryService


class Incremental:
    """See the module docs."""

    def __init__(self, crawler: Crawler, state: DeliveryService) -> None:
        self.crawler = crawler
        self.state = state
        self.overlap = timedelta(
            hours=crawler.settings.getfloat("NEWSBOT_INCREMENTAL_OVERLAP_HOURS", 6)
        )

    @property
    def full(self) -> bool:
        """``full=1``: ignore what earlier runs delivered."""
        return run_arguments(self.crawler.spider).full

    def skip_delivered(self, article_id: str, *, url: str, column: str | None) -> bool:
        """True (counted, and announced with ``article_skipped``) when an earlier run settled
        this article: do not fetch it. Accounting counts it as unchanged, whether the spider
        skipped it on a list page or the delivery middleware after a search answer named it."""
        if self.full or not self.state.is_delivered(article_id):
            return False
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("newsbot/skipped/delivered")
        meta = {"article_id": article_id, "url": url, "column": column}
        self.crawler.signals.send_catch_log(
            article_skipped, article_id=article_id, url=url, meta=meta, spider=self.crawler.spider
        )
        return True

    def caught_up(self, column: str, listed: Iterable[tuple[str, datetime | None]]) -> bool:
        """Incremental stop: every ``(article_id, listed_at)`` of this list page was delivered
        by an earlier run and is older than that run's high-water mark for the column (less the
        overlap)."""
        if self.full:
            return False
        mark = self.state.high_water_mark(column)
        if mark is None:
            return False
        if mark.tzinfo is None:
            mark = mark.replace(tzinfo=timezone.utc)
        limit = mark - self.overlap
        return all(
            listed_at is not None and listed_at < limit and self.state.is_delivered(ident)
            for ident, listed_at in listed
        )


def incremental_of(crawler: Crawler) -> Incremental | None:
    """The run's incremental rule; None when delivery state (or its middleware) is off."""
    from newsbot.state.middleware import DeliveryMiddleware

    middleware = crawler.get_spider_middleware(DeliveryMiddleware)
    return middleware.incremental if middleware is not None else None
