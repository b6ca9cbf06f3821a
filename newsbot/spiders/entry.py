"""What a single page is, for Scrapy's own commands (``parse``, ``check``, ``shell``).

A crawl knows what each request is for: the spider made it. ``scrapy parse URL`` and ``scrapy
check`` hand the spider one page out of context, so the page's kind (article, column list page,
search answer) and its parameters (the column, the page number) come from its URL here, and the
site root a URL of a mirror or the local copy lives under comes from the URL too.

:class:`SitePathContract` is the ``@path`` contract of the spider's callbacks: the sample page at
a path under ``NEWSBOT_SITE_ROOT``, so ``scrapy check`` runs the same contracts against the real
site, a mirror or the local copy (``tools/sitecopy.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from scrapy.contracts import Contract

from newsbot.pages.search import SEARCH_PATH
from newsbot.urls import article_path_parts

if TYPE_CHECKING:
    from collections.abc import Callable

_COLUMN_PATH = re.compile(r"/columns/(\d+)(?:/page/(\d+))?/?$", re.ASCII)
#: Where the site's own paths start: what comes before them in a URL is its site root.
_SITE_PATHS = re.compile(r"/(?:articles/\d{4}-\d{2}-\d{2}/|columns/\d+|news-search/)", re.ASCII)


@dataclass(frozen=True)
class PageKind:
    """What a site path is, as far as the nbd spider reads it."""

    kind: str
    """``article``, ``list`` or ``search``."""
    column: str | None = None
    """The column of a list page."""
    page: int = 1
    """The list page's number (1 for ``/columns/<id>/``)."""
    keyword: str | None = None
    """The search keyword given in the URL's query (``?keyword=``)."""


def page_kind(path: str) -> PageKind | None:
    """The kind of page a site path (with its query) is, or None for a page the spider never
    reads.

    >>> page_kind("/articles/2021-10-12/1967420.html").kind
    'article'
    >>> page_kind("/columns/3/")
    PageKind(kind='list', column='3', page=1, keyword=None)
    >>> page_kind("/columns/3/page/4").page
    4
    >>> page_kind("/news-search/queryByMatch?keyword=%E7%A2%B3%E4%B8%AD%E5%92%8C")
    PageKind(kind='search', column=None, page=1, keyword='碳中和')
    >>> page_kind("/about.html") is None
    True
    """
    parts = urlsplit(path)
    if article_path_parts(parts.path) is not None:
        return PageKind("article")
    m = _COLUMN_PATH.search(parts.path)
    if m:
        return PageKind("list", column=m.group(1), page=int(m.group(2) or 1))
    if parts.path.rstrip("/").endswith(SEARCH_PATH):
        keywords = parse_qs(parts.query).get("keyword")
        return PageKind("search", keyword=keywords[0] if keywords else None)
    return None


def site_root_of(url: str) -> str | None:
    """The site root a page URL lives under: scheme, host, port and any path prefix before the
    site's own paths (none when the path is none of them); None for a URL that is not http(s).

    >>> site_root_of("http://127.0.0.1:8765/articles/2021-10-12/1967420.html")
    'http://127.0.0.1:8765'
    >>> site_root_of("http://mirror.test/nbd/columns/3/page/2")
    'http://mirror.test/nbd'
    >>> site_root_of("http://127.0.0.1:8765/news-search/queryByMatch?keyword=x")
    'http://127.0.0.1:8765'
    >>> site_root_of("http://127.0.0.1:8765/about.html")
    'http://127.0.0.1:8765'
    >>> site_root_of("file:///tmp/page.html") is None
    True
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    m = _SITE_PATHS.search(parts.path)
    if m is None:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}://{parts.netloc}{parts.path[: m.start()]}"


class SitePathContract(Contract):
    """``@path /columns/1161/``: the sample request of a callback is that path under the
    spider's site root (``NEWSBOT_SITE_ROOT``), where the crawl's own requests go."""

    name = "path"

    def __init__(self, method: Callable[..., Any], *args: Any) -> None:
        super().__init__(method, *args)
        self.method = method

    def adjust_request_args(self, args: dict[str, Any]) -> dict[str, Any]:
        spider = self.method.__self__  # type: ignore[attr-defined]
        args["url"] = spider.perimeter.root + self.args[0]
        return args
