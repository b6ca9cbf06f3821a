"""A periodic progress line for long crawls: articles done out of known, rate and ETA.

    Progress: 120/450 articles done (27%), 3.2/min, ETA 1h43m (about 10:05 UTC)
    Progress: 12/≥40 articles done (30%), 5.0/min, ETA after the list pages are read

"Done" counts articles that reached an outcome (a record, a drop, a failure); "known" those
discovered so far. While list pages (or search pages) are still being read, more articles will
come, so "known" is a lower bound (``≥``) and no ETA is given. The rate is measured over the last
few minutes. A line is logged every ``NEWSBOT_PROGRESS_INTERVAL`` seconds (60 by default; 0
turns it off), and only when something changed since the last one: an idle or stalled crawl
does not flood the log.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

from newsbot import signals as nb_signals
from newsbot.idset import IdSet
from newsbot.requestmeta import list_meta

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Seconds over which the rate is measured.
RATE_WINDOW = 300.0


def duration(seconds: float) -> str:
    """A short human duration.

    >>> duration(42), duration(125), duration(6200), duration(200000)
    ('42s', '2m05s', '1h43m', '2d07h')
    """
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def progress_line(
    done: int, known: int, listing: bool, rate_per_s: float | None, now: float
) -> str:
    """The line itself.

    >>> progress_line(120, 450, False, 3.2 / 60, 1_700_000_000.0)
    'Progress: 120/450 articles done (27%), 3.2/min, ETA 1h43m (about 23:56 UTC)'
    >>> progress_line(12, 40, True, 5 / 60, 0.0)
    'Progress: 12/≥40 articles done (30%), 5.0/min, ETA after the list pages are read'
    >>> progress_line(0, 0, True, None, 0.0)
    'Progress: 0/≥0 articles done, reading list pages'
    """
    share = f" ({done / known:.0%})" if known else ""
    head = f"Progress: {done}/{'≥' if listing else ''}{known} articles done{share}"
    if rate_per_s is None:
        return head + (", reading list pages" if listing else "")
    line = f"{head}, {rate_per_s * 60:.1f}/min"
    if listing:
        return line + ", ETA after the list pages are read"
    left = max(0, known - done)
    if rate_per_s <= 0:
        return line + ", ETA unknown (no progress lately)"
    eta = left / rate_per_s
    clock = time.strftime("%H:%M", time.gmtime(now + eta))
    return f"{line}, ETA {duration(eta)} (about {clock} UTC)"


class ProgressLog:
    """See the module docs."""

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.known = IdSet()
        self.done = IdSet()
        self._pages_open: set[tuple[str, Any]] = set()
        self._samples: deque[tuple[float, int]] = deque()
        self._last: tuple[int, int, bool] | None = None
        self._task: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLog:
        interval = crawler.settings.getfloat("NEWSBOT_PROGRESS_INTERVAL", 60.0)
        if interval <= 0:
            raise NotConfigured("NEWSBOT_PROGRESS_INTERVAL is 0")
        ext = cls(crawler, interval)
        connect = crawler.signals.connect
        connect(ext.spider_opened, signal=signals.spider_opened)
        connect(ext.spider_closed, signal=signals.spider_closed)
        connect(ext.request_scheduled, signal=signals.request_scheduled)
        connect(ext.response_received, signal=signals.response_received)
        connect(ext.article_discovered, signal=nb_signals.article_discovered)
        connect(ext.finished, signal=nb_signals.article_failed)
        connect(ext.item_done, signal=signals.item_scraped)
        connect(ext.item_done, signal=signals.item_dropped)
        connect(ext.item_done, signal=signals.item_error)
        connect(ext.list_failed, signal=nb_signals.list_page_failed)
        return ext

    # -- counting -------------------------------------------------------------------------

    def article_discovered(self, article_id: str) -> None:
        self.known.add(str(article_id))

    def finished(self, article_id: str | None) -> None:
        if article_id:
            self.done.add(str(article_id))

    def item_done(self, item: Any) -> None:
        ident = getattr(item, "article_id", None)
        if ident is None and isinstance(item, dict):
            ident = item.get("article_id")
        if ident:
            self.done.add(str(ident))

    @staticmethod
    def _page_key(request: Request) -> tuple[str, Any] | None:
        """A list or search page request's key (retries of one page share it)."""
        listing = list_meta(request)
        if listing:
            return (str(listing["column"]), listing["page"])
        if getattr(request.callback, "__name__", "") == "parse_search":
            return ("(search)", request.cb_kwargs.get("offset"))
        return None

    def request_scheduled(self, request: Request) -> None:
        key = self._page_key(request)
        if key is not None:
            self._pages_open.add(key)

    def response_received(self, request: Request) -> None:
        # Responses a retry replaces never arrive here; failed downloads come as list_failed.
        key = self._page_key(request)
        if key is not None:
            self._pages_open.discard(key)

    def list_failed(self, column: str, page: int) -> None:
        self._pages_open.discard((str(column), page))

    # -- logging --------------------------------------------------------------------------

    @property
    def listing(self) -> bool:
        return bool(self._pages_open)

    def spider_opened(self) -> None:
        self._samples.append((time.time(), 0))
        self._task = LoopingCall(self.log)
        self._task.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()

    def rate(self, now: float) -> float | None:
        done = len(self.done)
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW:
            self._samples.popleft()
        first_at, first_done = self._samples[0]
        if now - first_at <= 0 or len(self._samples) < 2:
            return None
        return (done - first_done) / (now - first_at)

    def log(self) -> None:
        now = time.time()
        rate = self.rate(now)
        state = (len(self.done), len(self.known), self.listing)
        if state == self._last:
            return
        self._last = state
        logger.info("%s", progress_line(state[0], state[1], state[2], rate, now))
