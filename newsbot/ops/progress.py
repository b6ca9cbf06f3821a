"""A periodic progress line for crawls: articles done out of those expected, rate and ETA.

    Progress: 12/~40 articles done (30%), 5.0/min, ETA 5m36s (about 10:05 UTC); 3 list pages read
    Progress: 120/450 articles done (27%), 3.2/min, ETA 1h43m (about 10:05 UTC)

"Done" counts articles that reached an outcome (a record, a drop, a failure). While list (or
search) pages are still being read, the total is an estimate (``~``): the articles discovered so
far, plus the list pages still to read (up to the page limit, ``max_pages`` or
``NEWSBOT_MAX_LIST_PAGES``; at least those on their way without one) times the articles a list
page has given so far. Once every list page is read, the total is exact. The percentage never
goes down: a line never shows less than the one before, even when the estimate grows. The rate
is measured over the last few minutes, from the start.

The first line comes a few seconds after the start, then one every ``NEWSBOT_PROGRESS_INTERVAL``
seconds (30 by default; 0 turns it off), and a last one as the spider closes, each only when
something changed since the line before: an idle or stalled crawl does not flood the log.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import call_later, create_looping_call

from newsbot import signals as nb_signals
from newsbot.idset import IdSet
from newsbot.requestmeta import list_meta

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.utils.asyncio import AsyncioLoopingCall, CallLaterResult
    from twisted.internet.task import LoopingCall

logger = logging.getLogger(__name__)

#: Seconds over which the rate is measured.
RATE_WINDOW = 300.0
#: Seconds after the start before the first line (when the interval is longer).
FIRST_LINE_AFTER = 5.0


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


def estimate_total(
    known: int, pages_read: Mapping[str, int], paging: set[str], limit: int
) -> int | None:
    """The articles a run will have discovered once its list pages are read: ``known`` so far,
    plus, for each column still ``paging``, its list pages still to read (``limit`` less those
    read, or one without a limit) times the articles a list page gave so far. None before any
    list page was read (nothing to go by).

    >>> estimate_total(40, {"3": 2, "332": 2}, {"3", "332"}, 10)  # 10 a page, 16 pages to go
    200
    >>> estimate_total(40, {"3": 2, "332": 2}, {"3"}, 0)  # no limit: the next page at least
    50
    >>> estimate_total(40, {"3": 4}, set(), 10), estimate_total(0, {}, {"3"}, 10)
    (40, None)
    """
    read = sum(pages_read.values())
    if not paging:
        return known
    if not read:
        return None
    per_page = known / read
    to_read = sum(max(1, limit - pages_read.get(c, 0)) if limit else 1 for c in paging)
    return known + round(to_read * per_page)


def progress_line(
    done: int,
    total: int,
    *,
    exact: bool,
    share: float | None,
    rate_per_s: float | None,
    now: float,
    pages_read: int = 0,
) -> str:
    """The line itself; ``share`` is the share done to show (kept monotone by the caller).

    >>> progress_line(120, 450, exact=True, share=0.27, rate_per_s=3.2 / 60, now=1.7e9)
    'Progress: 120/450 articles done (27%), 3.2/min, ETA 1h43m (about 23:56 UTC)'
    >>> print(progress_line(12, 40, exact=False, share=0.3, rate_per_s=5 / 60, now=0, pages_read=3))
    Progress: 12/~40 articles done (30%), 5.0/min, ETA 5m36s (about 00:05 UTC); 3 list pages read
    >>> progress_line(0, 0, exact=False, share=None, rate_per_s=0.0, now=0.0)
    'Progress: 0/≥0 articles done, 0.0/min, ETA unknown (no article done yet); reading list pages'
    """
    shown = f" ({share:.0%})" if share is not None else ""
    mark = "" if exact else ("~" if share is not None else "≥")
    line = f"Progress: {done}/{mark}{total} articles done{shown}"
    if rate_per_s is not None:
        line += f", {rate_per_s * 60:.1f}/min"
        if rate_per_s > 0 and share is not None:
            eta = max(0, total - done) / rate_per_s
            clock = time.strftime("%H:%M", time.gmtime(now + eta))
            line += f", ETA {duration(eta)} (about {clock} UTC)"
        else:
            line += ", ETA unknown " + ("(no progress lately)" if done else "(no article done yet)")
    if not exact:
        line += f"; {pages_read} list pages read" if pages_read else "; reading list pages"
    return line


class ProgressLog:
    """See the module docs."""

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.known = IdSet()
        self.done = IdSet()
        self._pages_open: set[tuple[str, Any]] = set()
        # Columns from their first list request until the spider says their listing ended:
        # between a list page's answer and its next page's request the column still pages.
        self._paging: set[str] = set()
        # Articles known when the spider was last done with a list page: the estimate goes by
        # whole pages, not by one whose article requests are still coming out.
        self._settled = 0
        self._pages_read: Counter[str] = Counter()  # column (or "(search)") -> pages read
        self._samples: deque[tuple[float, int]] = deque()
        self._last: tuple[int, int, bool] | None = None
        self._shown = 0.0  # the share last shown: never shown lower
        self._first: CallLaterResult | None = None
        self._task: AsyncioLoopingCall | LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLog:
        interval = crawler.settings.getfloat("NEWSBOT_PROGRESS_INTERVAL", 30.0)
        if interval <= 0:
            raise NotConfigured  # turned off on purpose: nothing to warn about
        ext = cls(crawler, interval)
        connect = crawler.signals.connect
        connect(ext.spider_opened, signal=signals.spider_opened)
        connect(ext.spider_closed, signal=signals.spider_closed)
        connect(ext.request_scheduled, signal=signals.request_scheduled)
        connect(ext.response_received, signal=signals.response_received)
        connect(ext.article_discovered, signal=nb_signals.article_discovered)
        connect(ext.finished, signal=nb_signals.article_failed)
        connect(ext.skipped, signal=nb_signals.article_skipped)
        connect(ext.item_done, signal=signals.item_scraped)
        connect(ext.item_done, signal=signals.item_dropped)
        connect(ext.item_done, signal=signals.item_error)
        connect(ext.list_failed, signal=nb_signals.list_page_failed)
        connect(ext.list_page_done, signal=nb_signals.list_page_done)
        return ext

    # -- counting -------------------------------------------------------------------------

    def article_discovered(self, article_id: str) -> None:
        self.known.add(str(article_id))

    def finished(self, article_id: str | None) -> None:
        if article_id:
            self.done.add(str(article_id))

    def skipped(self, article_id: str) -> None:
        # Known already when skipped after its discovery (search, URL lists): done with it.
        if str(article_id) in self.known:
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
            if key[0] != "(search)":
                self._paging.add(key[0])

    def response_received(self, request: Request) -> None:
        # Responses a retry replaces never arrive here; failed downloads come as list_failed.
        # A column's list page is read once the spider is done with it (list_page_done).
        key = self._page_key(request)
        if key is not None and key[0] == "(search)" and key in self._pages_open:
            self._pages_open.discard(key)
            self._pages_read[key[0]] += 1
            self._settled = len(self.known)

    def list_page_done(self, column: str, page: int, last: bool) -> None:
        key = (str(column), page)
        if key in self._pages_open:
            self._pages_open.discard(key)
            self._pages_read[key[0]] += 1
        self._settled = len(self.known)
        if last:
            self._paging.discard(str(column))

    def list_failed(self, column: str, page: int) -> None:
        self._pages_open.discard((str(column), page))
        self._paging.discard(str(column))

    # -- logging --------------------------------------------------------------------------

    @property
    def listing(self) -> bool:
        return bool(self._pages_open or self._paging)

    def _page_limit(self) -> int:
        """List (or search) pages per column the run reads at most; 0 for no limit."""
        from newsbot.spiders.nbd import NbdSpider

        spider = self.crawler.spider
        return spider.config.max_pages if isinstance(spider, NbdSpider) else 0

    def spider_opened(self) -> None:
        self._samples.append((time.time(), 0))
        self._task = create_looping_call(self.log)
        # A first line within seconds (is it working? how long will it take?), then the rhythm.
        first = min(FIRST_LINE_AFTER, self.interval)
        self._first = call_later(first, self._start)

    def _start(self) -> None:
        assert self._task is not None
        self._task.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self._first is not None:
            self._first.cancel()
        if self._task is not None and self._task.running:
            self._task.stop()
        # The last word on a crawl that ended between two lines (a change since the last one
        # only, as ever): how many of how many were done.
        self.log()

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
        done, known, listing = len(self.done), len(self.known), self.listing
        if (done, known, listing) == self._last:
            return
        self._last = (done, known, listing)
        paging = {column for column, _ in self._pages_open} | self._paging
        total = estimate_total(self._settled, self._pages_read, paging, self._page_limit())
        share = None
        if total is not None:
            total = max(total, known, done)
            share = done / total if total else 1.0
            self._shown = share = max(self._shown, share)
        line = progress_line(
            done,
            known if total is None else total,
            exact=not listing,
            share=share,
            rate_per_s=rate,
            now=now,
            pages_read=sum(self._pages_read.values()),
        )
        logger.info("%s", line)
