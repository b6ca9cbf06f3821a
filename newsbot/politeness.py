"""Being a polite client of one site: backing off, honouring Retry-After, giving up when blocked.

- :class:`PoliteRetryMiddleware` replaces Scrapy's RetryMiddleware. Scrapy retries at once; this
  one waits before each retry (exponential backoff with jitter, ``NEWSBOT_RETRY_BACKOFF`` ×
  2^(n-1), at most ``NEWSBOT_RETRY_BACKOFF_MAX``), and on a 429 or 503 with ``Retry-After``
  pauses the whole host for that long (at most ``NEWSBOT_RETRY_AFTER_MAX``; a longer wait is not
  retried in this run). It also holds the host pauses other components ask for.
- :class:`BlockedGuard` listens to :data:`newsbot.signals.page_blocked` (a 200-status challenge
  page): each one pauses the host, drops it to one request at a time and raises its delay; at
  ``NEWSBOT_BLOCKED_LIMIT`` challenge pages it stops the crawl with the close reason
  ``blocked`` instead of exporting junk. The spider reads a page only after the downloader has
  moved on, so the guard also takes a first look at each page as it arrives
  (:func:`~newsbot.pages.challenge.challenge_at_a_glance`) and holds the host at once: no
  request goes out between a challenge page and the spider's verdict on it.

A pause holds both the requests still to pass the downloader middlewares and those already
waiting in the host's downloader slot.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.asyncio import call_later, sleep
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message

from newsbot.pages.challenge import challenge_at_a_glance
from newsbot.signals import page_blocked

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: Request meta key: wall-clock time (``time.time()``) before which the request is not sent.
NOT_BEFORE = "newsbot_not_before"
#: Request meta key: the host was paused for this request's Retry-After when it arrived.
_PAUSED = "_newsbot_paused"


def retry_after_seconds(value: bytes | str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or HTTP-date), or None.

    >>> retry_after_seconds(b"120"), retry_after_seconds("  3 ")
    (120.0, 3.0)
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0)
    10.0
    >>> retry_after_seconds("soon") is None, retry_after_seconds(None) is None
    (True, True)
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0)
    0.0
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_seconds(attempt: int, base: float, cap: float, *, jitter: float = 0.5) -> float:
    """The wait before retry number ``attempt`` (1, 2, …): base × 2^(attempt-1), at most
    ``cap``, varied by ±``jitter`` so that many failed requests do not come back together.

    >>> [backoff_seconds(n, 1.0, 5.0, jitter=0) for n in (1, 2, 3, 4)]
    [1.0, 2.0, 4.0, 5.0]
    >>> 0.5 <= backoff_seconds(1, 1.0, 60.0) <= 1.5
    True
    """
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay * (1 + random.uniform(-jitter, jitter))


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware with waits: see the module docstring."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        settings = crawler.settings
        self.backoff = settings.getfloat("NEWSBOT_RETRY_BACKOFF", 1.0)
        self.backoff_max = settings.getfloat("NEWSBOT_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("NEWSBOT_RETRY_AFTER_MAX", 300.0)
        #: host -> time.time() before which nothing is sent to it
        self.paused_until: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mw = cls(crawler)
        crawler.signals.connect(mw.response_downloaded, signal=signals.response_downloaded)
        return mw

    def _retry_after(self, request: Request, response: Response) -> float | None:
        """The wait a retryable 429 or 503 asks for, or None."""
        if request.meta.get("dont_retry", False) or response.status not in (429, 503):
            return None
        if response.status not in self.retry_http_codes:
            return None
        return retry_after_seconds(response.headers.get(b"Retry-After"))

    def response_downloaded(self, response: Response, request: Request) -> None:
        """Pause for a ``Retry-After`` as soon as the response arrives: by the time
        :meth:`process_response` runs, the host's downloader slot has sent its next request."""
        wait = self._retry_after(request, response)
        if wait is not None:
            host = urlparse_cached(request).hostname or ""
            self.pause(host, min(wait, self.retry_after_max), f"http_{response.status}")
            request.meta[_PAUSED] = True

    def pause(self, host: str, seconds: float, why: str) -> None:
        """Send nothing to ``host`` for ``seconds`` (pauses only ever get longer)."""
        now = time.time()
        until = now + seconds
        before = self.paused_until.get(host, 0.0)
        if until > before:
            self.paused_until[host] = until
            log = logger.info if before <= now else logger.debug
            log("Pausing requests to %s for %.1f s (%s)", host, seconds, why)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"newsbot/paused/{why}")
            self._hold_slot(host, seconds)

    def _hold_slot(self, host: str, seconds: float) -> None:
        """Hold the requests already waiting in the host's downloader slot: they passed
        :meth:`process_request` before the pause, and the slot would send them at its own pace
        (up to ``CONCURRENT_REQUESTS`` of them). Scrapy has no public call for this; a slot's
        ``latercall`` is how Scrapy itself holds a queue for a download delay, so we set one that
        fires when the pause ends.

        Scrapy ceiling (pyproject.toml): ``Downloader._latercall`` and ``Slot.latercall`` are
        private."""
        engine = self.crawler.engine
        downloader = getattr(engine, "downloader", None)
        slot = downloader.slots.get(host) if downloader is not None else None
        release = getattr(downloader, "_latercall", None)
        if slot is None or release is None or not hasattr(slot, "latercall"):
            return
        if slot.latercall is not None:
            slot.latercall.cancel()
        slot.latercall = call_later(seconds, release, slot)

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        not_before = max(self.paused_until.get(host, 0.0), request.meta.get(NOT_BEFORE, 0.0))
        # A pause can be extended while we wait (another 429): wait until it really is over.
        while (wait := not_before - time.time()) > 0:
            await sleep(wait)
            not_before = max(self.paused_until.get(host, 0.0), request.meta.get(NOT_BEFORE, 0.0))

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        paused = request.meta.pop(_PAUSED, False)
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        wait = self._retry_after(request, response)
        if wait is not None:
            if not paused:  # a response that was not downloaded (a cache's, a middleware's)
                host = urlparse_cached(request).hostname or ""
                self.pause(host, min(wait, self.retry_after_max), f"http_{response.status}")
            if wait > self.retry_after_max:
                logger.warning(
                    "%s asks to come back in %.0f s (more than NEWSBOT_RETRY_AFTER_MAX=%.0f): "
                    "not retried in this run",
                    request.url,
                    wait,
                    self.retry_after_max,
                )
                return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if wait is None:
            wait = backoff_seconds(retry.meta["retry_times"], self.backoff, self.backoff_max)
        retry.meta[NOT_BEFORE] = time.time() + wait
        return retry

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request) and "retry_times" in retry.meta:
            wait = backoff_seconds(retry.meta["retry_times"], self.backoff, self.backoff_max)
            retry.meta[NOT_BEFORE] = time.time() + wait
        return retry


class BlockedGuard:
    """Extension: slow down on challenge pages, and stop the crawl past a limit.

    Settings: ``NEWSBOT_BLOCKED_LIMIT`` (challenge pages before the crawl stops; 0 never stops),
    ``NEWSBOT_BLOCKED_PAUSE`` (seconds the host is paused after the first one, doubling with
    each further one up to ``NEWSBOT_BLOCKED_PAUSE_MAX``), ``NEWSBOT_BLOCKED_DELAY`` (the least
    download delay of the host afterwards).
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("NEWSBOT_BLOCKED_GUARD", True):
            raise NotConfigured
        self.crawler = crawler
        self.limit = settings.getint("NEWSBOT_BLOCKED_LIMIT", 5)
        self.pause = settings.getfloat("NEWSBOT_BLOCKED_PAUSE", 60.0)
        self.pause_max = settings.getfloat("NEWSBOT_BLOCKED_PAUSE_MAX", 600.0)
        self.delay = settings.getfloat("NEWSBOT_BLOCKED_DELAY", 5.0)
        self.count = 0
        self.closing = False
        crawler.signals.connect(self.page_blocked, signal=page_blocked)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _pause_for(self, count: int) -> float:
        """The pause after challenge page number ``count``: doubling, at most the maximum."""
        return min(self.pause_max, self.pause * 2 ** (count - 1))

    def response_downloaded(self, response: Response, request: Request) -> None:
        """Hold the host as soon as a page that looks like a challenge arrives: Scrapy hands it
        to the spider only after the downloader has taken the next requests."""
        if response.status != 200 or not isinstance(response, HtmlResponse) or self.closing:
            return
        if not challenge_at_a_glance(response.body, lambda: response.text):
            return
        retry = self.crawler.get_downloader_middleware(PoliteRetryMiddleware)
        if retry is not None:
            host = (urlsplit(response.url).hostname or "").rstrip(".")
            retry.pause(host, self._pause_for(self.count + 1), "challenge_seen")

    def page_blocked(self, response: Response, kind: str) -> None:
        self.count += 1
        stats = self.crawler.stats
        engine = self.crawler.engine
        assert stats is not None
        assert engine is not None
        stats.inc_value("newsbot/blocked/pages")
        stats.inc_value(f"newsbot/blocked/{kind}")
        if self.limit and self.count >= self.limit:
            if not self.closing:
                self.closing = True
                logger.error(
                    "Stopping: %d challenge pages (NEWSBOT_BLOCKED_LIMIT=%d), the last at %s. "
                    "The site is blocking this crawler: try again later, more slowly.",
                    self.count,
                    self.limit,
                    response.url,
                )
                deferred_from_coro(engine.close_spider_async(reason="blocked"))
            return
        logger.warning(
            "Challenge page instead of a %s at %s (%d of NEWSBOT_BLOCKED_LIMIT=%d): slowing down",
            kind,
            response.url,
            self.count,
            self.limit,
        )
        host = (urlsplit(response.url).hostname or "").rstrip(".")
        # Scrapy ceiling (pyproject.toml): the downloader's slots and their concurrency and delay
        # are undocumented; they are the only way to slow one host down mid-crawl.
        slot = engine.downloader.slots.get(host)
        if slot is not None:
            slot.concurrency = 1
            slot.delay = max(slot.delay, self.delay)
        retry = self.crawler.get_downloader_middleware(PoliteRetryMiddleware)
        if retry is not None:
            retry.pause(host, self._pause_for(self.count), "blocked")
