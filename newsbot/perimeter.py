"""Where newsbot's requests may go, enforced below the spider.

:class:`SitePerimeter` is the pure rule: http(s) only, to the configured site root
(``NEWSBOT_SITE_ROOT``) and, when that root is the real site, to the site's other hosts
(nbd.com.cn's subdomains, the second article host www.mrjjxw.com); never to the spam upload
hosts. :class:`PerimeterMiddleware` applies it to *every* request that
reaches the downloader: start requests with ``dont_filter``, redirects, robots.txt fetches and
requests other components make. Scrapy's own offsite check lets ``dont_filter`` requests through;
this one has no such exception.

:class:`RobotsTxtMiddleware` is Scrapy's, with two fixes: every request that waits for a
robots.txt still being fetched is checked against it, and a robots.txt that cannot be fetched
(5xx, timeout, refused connection) means "disallow everything" (RFC 9309, 2.3.1.4).

A redirect to another host of the site is followed on the configured root when that root is a
mirror (the same path there, counted as ``newsbot/redirect/onto_root``): the mirror holds the
site's whole URL tree, and the real host must not be reached from it.

Every refusal raises :class:`Refused` and is counted as ``newsbot/refused/<why>``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from scrapy import exceptions as scrapy_exceptions
from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import (
    RobotsTxtMiddleware as _ScrapyRobotsTxtMiddleware,
)
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.spider import DefaultSpider
from twisted.internet import error as tx_error
from twisted.internet.defer import Deferred

from newsbot.urls import (
    CANONICAL_ROOT,
    SPAM_HOSTS,
    canonical_article_url,
    column_ref,
    is_site_host,
    join_url,
)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser
    from scrapy.settings import BaseSettings
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: Download failures that say the site is unreachable, not that newsbot has a bug.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    scrapy_exceptions.DownloadConnectionRefusedError,
    scrapy_exceptions.DownloadTimeoutError,
    scrapy_exceptions.DownloadFailedError,
    scrapy_exceptions.CannotResolveHostError,
    scrapy_exceptions.ResponseDataLossError,
    tx_error.ConnectError,
    tx_error.TimeoutError,
    tx_error.ConnectionLost,
    tx_error.DNSLookupError,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# An article page: redirects onto a mirror root follow these and column lists, nothing else.
_ARTICLE_PATH = re.compile(r"^/articles/\d{4}-\d{2}-\d{2}/\d{1,12}\.html?(?:\?.*)?$", re.ASCII)
_DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class Refused(IgnoreRequest):
    """A request newsbot will not send. ``why`` is the stats key suffix and failure reason:
    ``scheme``, ``bad_url``, ``spam_host``, ``offsite``, ``offsite_redirect``,
    ``robots_forbidden``, ``robots_unreachable``. ``redirect``: the refused URL is where a
    response redirected to (the run report counts those per column)."""

    def __init__(self, why: str, url: str, *, redirect: bool = False) -> None:
        super().__init__(f"refused ({why}): {url}")
        self.why = why
        self.url = url
        self.redirect = redirect


class SitePerimeter:
    """The hosts newsbot may request, and the mapping of site links onto the configured root.

    >>> p = SitePerimeter("http://127.0.0.1:8765")
    >>> p.why_refused("http://127.0.0.1:8765/articles/2021-04-01/1.html") is None
    True
    >>> [p.why_refused(u) for u in ("https://www.nbd.com.cn/", "http://127.0.0.1:22/",
    ...     "javascript:alert(1)", "http://lianghua.nbd.com.cn/Uploads/view.php/x",
    ...     "http://www.nbd.com.cn@evil.test/", "http://2130706433:8765/")]
    ['offsite', 'offsite', 'scheme', 'spam_host', 'bad_url', 'offsite']
    >>> p.to_site("//www.nbd.com.cn/articles/2021-04-01/1.html?x=1")
    'http://127.0.0.1:8765/articles/2021-04-01/1.html?x=1'
    >>> p.to_site("https://evil.test/articles/2021-04-01/1.html") is None
    True
    >>> mirror = SitePerimeter("http://mirror.test:8080/nbd", ["cdn.mirror.test", "img.test:81"])
    >>> [mirror.why_refused(u) for u in ("http://cdn.mirror.test/a", "http://img.test:81/b",
    ...     "http://img.test/b", "https://m.nbd.com.cn/articles/2021-04-01/1.html")]
    [None, None, 'offsite', 'offsite']
    >>> real = SitePerimeter("https://www.nbd.com.cn")
    >>> [real.why_refused(u) for u in ("http://m.nbd.com.cn/a", "https://stocks.nbd.com.cn/",
    ...     "https://nbd.com.cn.evil.test/", "https://www.nbd.com.cn:8443/",
    ...     "https://www.mrjjxw.com/articles/2026-07-21/4490136.html")]
    [None, None, 'offsite', 'offsite', None]
    >>> p.why_refused("https://www.mrjjxw.com/articles/2026-07-21/4490136.html")
    'offsite'
    """

    def __init__(self, root: str, extra_hosts: Iterable[str] = ()) -> None:
        parts = urlsplit(root.strip())
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in _DEFAULT_PORTS
            or not parts.hostname
            or port == -1
            or parts.query
            or parts.fragment
            or parts.username is not None
            or not parts.hostname.isascii()
        ):
            raise ValueError(
                f"NEWSBOT_SITE_ROOT must look like https://host[:port][/prefix], got {root!r}"
            )
        self.scheme = parts.scheme
        self.host = parts.hostname.rstrip(".")
        self.port = port or _DEFAULT_PORTS[parts.scheme]
        self.prefix = parts.path.rstrip("/")
        netloc = self.host if port is None else f"{self.host}:{port}"
        #: The configured root, without a trailing slash: ``http://127.0.0.1:8765``.
        self.root = f"{self.scheme}://{netloc}{self.prefix}"
        # A mirror or a test server must not leak requests to the real site through a redirect
        # or a link: the site's hosts are part of the perimeter only when the root is one of them.
        self.nbd_hosts = is_site_host(self.host)
        self.extra_hosts = {_host_port(h) for h in extra_hosts if h.strip()}

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        return cls(
            settings.get("NEWSBOT_SITE_ROOT") or CANONICAL_ROOT,
            settings.getlist("NEWSBOT_ALLOWED_HOSTS"),
        )

    def _split(self, url: str) -> tuple[str, str, int] | str:
        """``(scheme, host, port)`` of an http(s) URL, or the reason it is not one."""
        if url.startswith("//"):
            url = f"{self.scheme}:{url}"
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            return "bad_url"
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return "scheme"
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            return "bad_url"
        if not host or not host.isascii() or parts.username is not None:
            return "bad_url"
        return scheme, host.rstrip("."), port or _DEFAULT_PORTS[scheme]

    def _is_root(self, host: str, port: int) -> bool:
        if host != self.host:
            return False
        # http<->https redirects of a root on default ports change the port: same site.
        return port == self.port or {port, self.port} <= {80, 443}

    def why_refused(self, url: str) -> str | None:
        """Why a request for ``url`` must not be sent, or None when it may."""
        split = self._split(url)
        if isinstance(split, str):
            return split
        _, host, port = split
        if host in SPAM_HOSTS:
            return "spam_host"
        if self._is_root(host, port):
            return None
        if (host, port) in self.extra_hosts or (host, None) in self.extra_hosts:
            return None
        # The root's own port too: the real site's names served elsewhere (a test on loopback).
        if self.nbd_hosts and is_site_host(host) and (port in (80, 443) or port == self.port):
            return None
        return "offsite"

    def link_refusal(self, url: str) -> str | None:
        """Why a link found on the site is not the site's own (so is never followed), or None.

        Unlike :meth:`why_refused`, links to the real site count as on-site whatever the root:
        :meth:`to_site` moves them onto it.

        >>> p = SitePerimeter("http://127.0.0.1:8765")
        >>> [p.link_refusal(u) for u in ("https://m.nbd.com.cn/a", "mailto:x@nbd.com.cn",
        ...     "https://activity.nbd.com.cn/Upload/view.php/1", "http://localhost:8765/")]
        [None, 'scheme', 'spam_host', 'offsite']
        """
        split = self._split(url)
        if isinstance(split, str):
            return split
        _, host, port = split
        if host in SPAM_HOSTS:
            return "spam_host"
        if is_site_host(host) or self._is_root(host, port):
            return None
        return "offsite"

    def site_path(self, url: str) -> str | None:
        """The path (and query) of an on-site link, relative to the site, or None.

        >>> SitePerimeter("http://127.0.0.1:8765/mirror").site_path(
        ...     "http://127.0.0.1:8765/mirror/columns/3/")
        '/columns/3/'
        """
        if self.link_refusal(url) is not None:
            return None
        if url.startswith("//"):
            url = f"{self.scheme}:{url}"
        parts = urlsplit(url.strip())
        path = parts.path or "/"
        host = (parts.hostname or "").rstrip(".")
        on_root = self._is_root(host, parts.port or _DEFAULT_PORTS[parts.scheme.lower()])
        if on_root and self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            path = path[len(self.prefix) :] or "/"
        return path + (f"?{parts.query}" if parts.query else "")

    def to_site(self, url: str) -> str | None:
        """Where to fetch an on-site link from: the same path under the configured root."""
        path = self.site_path(url)
        return None if path is None else self.root + path

    def fetch_url(self, url: str) -> str | None:
        """Where to fetch an on-site page (a column list) from: on the link's own host when the
        root is the real site and the link is on one of its hosts (a channel host's list is its
        own), the way the root is reached (scheme, port); else the same path under the
        configured root; None for an off-site link.

        >>> SitePerimeter("https://www.nbd.com.cn").fetch_url("//money.nbd.com.cn/columns/432.html/")
        'https://money.nbd.com.cn/columns/432.html/'
        >>> SitePerimeter("http://www.nbd.com.cn:8080").fetch_url("https://m.nbd.com.cn/columns/3/")
        'http://m.nbd.com.cn:8080/columns/3/'
        >>> SitePerimeter("http://127.0.0.1:8765").fetch_url("https://money.nbd.com.cn/columns/4/")
        'http://127.0.0.1:8765/columns/4/'
        """
        path = self.site_path(url)
        if path is None:
            return None
        if self.nbd_hosts:
            absolute = f"{self.scheme}:{url.strip()}" if url.strip().startswith("//") else url
            split = self._split(absolute)
            if not isinstance(split, str) and is_site_host(split[1]):
                port = "" if self.port == _DEFAULT_PORTS[self.scheme] else f":{self.port}"
                return f"{self.scheme}://{split[1].lower()}{port}{self.prefix}{path}"
        return self.root + path

    def redirect_onto_root(self, url: str) -> str | None:
        """Where to follow a redirect to ``url`` that :meth:`why_refused` refuses as off-site:
        the same path under a mirror root when ``url`` is an article page or a column list on
        another host of the site (exactly the site's layouts: ``/articles/YYYY-MM-DD/ID.html``,
        the list forms of :func:`~newsbot.urls.column_ref`); else None (refused).

        >>> mirror = SitePerimeter("http://127.0.0.1:8765")
        >>> mirror.redirect_onto_root("https://www.mrjjxw.com/articles/2026-07-21/4490136.html")
        'http://127.0.0.1:8765/articles/2026-07-21/4490136.html'
        >>> mirror.redirect_onto_root("http://localhost:8765/articles/2026-07-21/1.html")
        >>> mirror.redirect_onto_root("http://m.nbd.com.cn/@evil.test/articles/2026-07-21/1.html")
        >>> mirror.redirect_onto_root("https://money.nbd.com.cn/columns/432.html/")
        'http://127.0.0.1:8765/columns/432.html/'
        """
        split = self._split(url)
        if isinstance(split, str) or not is_site_host(split[1]) or self.nbd_hosts:
            return None
        path = self.site_path(url)
        if path is None or not (_ARTICLE_PATH.match(path) or column_ref(url)):
            return None
        return self.root + path

    def article_url(self, url: str) -> str | None:
        """The canonical URL of the article an on-site link names, or None.

        >>> SitePerimeter("http://127.0.0.1:8765").article_url(
        ...     "http://127.0.0.1:8765/articles/2021-04-01/0001.html?from=list")
        'https://www.nbd.com.cn/articles/2021-04-01/1.html'
        """
        path = self.site_path(url)
        if path is None:
            return None
        return canonical_article_url(CANONICAL_ROOT + path)


def _host_port(entry: str) -> tuple[str, int | None]:
    """``host`` or ``host:port`` from NEWSBOT_ALLOWED_HOSTS.

    >>> _host_port("Mirror.Example:8080"), _host_port("cdn.example")
    (('mirror.example', 8080), ('cdn.example', None))
    """
    parts = urlsplit("//" + entry.strip())
    return (parts.hostname or "").rstrip("."), parts.port


class PerimeterMiddleware:
    """Downloader middleware refusing every request outside :class:`SitePerimeter`.

    It runs first (before robots.txt, so no robots.txt is ever fetched from a refused host) and
    has no ``dont_filter`` exception, so start requests and redirects are checked too.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.perimeter = SitePerimeter.from_settings(crawler.settings)
        self.stats = crawler.stats
        self._logged: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if crawler.spidercls is DefaultSpider:
            # `scrapy shell URL`, `fetch`, `view` (no spider): the URL is the one a person
            # typed, a local copy's or a saved file's included; the perimeter guards crawls.
            raise NotConfigured
        return cls(crawler)

    def process_request(self, request: Request) -> Request | None:
        why = self.perimeter.why_refused(request.url)
        if why is None:
            return None
        redirected = bool(request.meta.get("redirect_urls"))
        if why == "offsite" and redirected:
            onto = self.perimeter.redirect_onto_root(request.url)
            if onto is not None and onto != request.url:
                # The site moved the page to another of its hosts: a mirror serves that path too.
                assert self.stats is not None
                self.stats.inc_value("newsbot/redirect/onto_root")
                logger.debug("Redirect to %s followed on the root: %s", request.url, onto)
                return request.replace(url=onto, dont_filter=True)
            why = "offsite_redirect"
        self._refuse(why, request.url, urlparse_cached(request).netloc, redirect=redirected)

    def process_response(self, request: Request, response: Response) -> Response:
        """A redirect Scrapy does not follow (a ``Location`` of another scheme: ``ftp:``,
        ``file:``…) reaches here as a 3xx response: it is refused like the redirects Scrapy
        follows, so the article fails as a refused redirect, not as an HTTP error."""
        location = response.headers.get(b"Location") if 300 <= response.status < 400 else None
        if not location:
            return response
        target = join_url(request.url, location.decode("utf-8", "replace").strip())
        why = self.perimeter.why_refused(target) if target else "bad_url"
        if why is None or target is None:
            return response
        parts = urlsplit(target)
        why = "offsite_redirect" if why == "offsite" else why
        self._refuse(why, target, parts.netloc or parts.scheme, redirect=True)

    def _refuse(self, why: str, url: str, where: str, *, redirect: bool = False) -> NoReturn:
        assert self.stats is not None
        self.stats.inc_value(f"newsbot/refused/{why}")
        key = (why, where)
        level = logging.DEBUG if key in self._logged else logging.WARNING
        self._logged.add(key)
        logger.log(level, "Refused (%s) %s", why, url)
        raise Refused(why, url, redirect=redirect)


class RobotsTxtMiddleware(_ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, made to hold under concurrency and fail closed.

    Use it in place of ``scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware``.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        #: netloc -> why its robots.txt could not be read
        self.unreachable: dict[str, str] = {}
        # Scrapy logs a robots.txt that could not be downloaded with two chained tracebacks
        # (about 20 lines per host, more with retries); _mark_unreachable says it in one line.
        self._quiet = _DownloadErrorFilter()
        _SCRAPY_ROBOTS_LOG.addFilter(self._quiet)
        crawler.signals.connect(self._engine_stopped, signal=signals.engine_stopped)

    def _engine_stopped(self) -> None:
        _SCRAPY_ROBOTS_LOG.removeFilter(self._quiet)

    # Scrapy ceiling (pyproject.toml): this class overrides and reads private parts of Scrapy's
    # RobotsTxtMiddleware (_parsers, _parse_robots, _robots_error, _parserimpl, _stats): the
    # only way to make it fail closed and to fix its concurrent waiters (see robot_parser).

    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(pending, Deferred):
            # Scrapy (2.14-2.19) lets every waiter await the same Deferred through asFuture(),
            # which consumes its result: the first waiter gets the parser, every later one gets
            # None and is let through unchecked. Each waiter gets a Deferred of its own here.
            mine: Deferred[Any] = Deferred()
            pending.addBoth(_relay, mine)
            result: RobotParser | None = await maybe_deferred_to_future(mine)
            return result
        return await super().robot_parser(request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            self._mark_unreachable(netloc, f"HTTP {response.status}")
            response = response.replace(body=_DISALLOW_ALL)
        elif response.status >= 400:
            # RFC 9309 2.3.1.3: "unavailable" (4xx) means no rules at all.
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        why = exc.why if isinstance(exc, Refused) else type(exc).__name__
        self._mark_unreachable(netloc, why)
        if not isinstance(exc, IgnoreRequest):
            self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        rp_dfd = self._parsers[netloc]
        assert isinstance(rp_dfd, Deferred)
        parser = build_from_crawler(self._parserimpl, self.crawler, _DISALLOW_ALL)
        self._parsers[netloc] = parser
        rp_dfd.callback(parser)

    def _mark_unreachable(self, netloc: str, why: str) -> None:
        self.unreachable[netloc] = why
        self._stats.set_value(f"newsbot/robots/unreachable/{netloc}", why)
        logger.error(
            "robots.txt of %s could not be read (%s): every request to %s is refused for this "
            "run (RFC 9309: an unreachable robots.txt means disallow)",
            netloc,
            why,
            netloc,
        )

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        netloc = urlparse_cached(request).netloc
        why = "robots_unreachable" if netloc in self.unreachable else "robots_forbidden"
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            self._stats.inc_value(f"newsbot/refused/{why}")
            raise Refused(why, request.url) from None


_SCRAPY_ROBOTS_LOG = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")


class _DownloadErrorFilter(logging.Filter):
    """Drops Scrapy's "Error downloading <robots.txt>" record when the error is the network's
    (refused, reset, timed out, DNS): an expected failure, reported by newsbot in one line.
    Any other exception (a bug) keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _NETWORK_ERRORS)


def _relay(result: Any, waiter: Deferred[Any]) -> Any:
    waiter.callback(result)
    return result
