"""What newsbot's requests carry in ``request.meta``, typed, and the one way to ask for an article.

Every article request carries an :class:`ArticleMeta` under ``meta["newsbot"]``, made with
:func:`new_article_meta` by the spider (which also announces the article as discovered and keeps
the run's one fetch per found article). A list page request carries a :class:`ListMeta` under
``meta["newsbot_list"]``; a request popped from a distributed crawl's queue carries its lease
under ``meta["newsbot_lease"]``.

Components other than the spider -- the delivery middleware (owed and recheck requests), the
replay middleware (``retry_failed=1``), the distributed worker (orphaned articles) -- ask for an
article with :func:`request_article`, so there is one builder and one meta, not one per module.
The meta stays a plain dict (a :class:`~typing.TypedDict`): Scrapy copies it into retries and
redirects, and a distributed crawl sends it through Redis as JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

#: ``request.meta`` key of an article request's :class:`ArticleMeta`.
ARTICLE = "newsbot"
#: ``request.meta`` key of a list page request's :class:`ListMeta`.
LIST = "newsbot_list"
#: ``request.meta`` key of a popped request's lease: a lease id, or ``own`` for an article.
LEASE = "newsbot_lease"


class ArticleMeta(TypedDict):
    """What an article request says about the article it fetches."""

    article_id: str
    """The id in the article's URL."""
    url: str
    """Canonical article URL (records keep it, whatever host the request went to)."""
    column: str | None
    """The column whose list page listed it; None in url and query modes."""
    listed_at: str | None
    """Publication time the list page (or search answer) gave, ISO 8601."""
    list_title: str | None
    """Title the list page gave."""
    owed: NotRequired[bool]
    """Asked for by a component, not found by the spider: an earlier run left it pending or
    failed, a replay, or a distributed worker's orphan. The delivery middleware lets it pass."""
    recheck: NotRequired[bool]
    """Fetched again to find a revision (``recheck_days``); also forces it through a
    distributed crawl's queue."""
    replay: NotRequired[bool]
    """Part of a ``retry_failed=1`` run."""


class ListMeta(TypedDict):
    """Which list page a list request fetches."""

    column: str
    page: int
    guessed: NotRequired[bool]
    """The page number was guessed (no next link): a 404 or a page that is no list ends the
    column quietly."""


def new_article_meta(
    article_id: str,
    url: str,
    *,
    column: str | None = None,
    listed_at: str | None = None,
    list_title: str | None = None,
) -> ArticleMeta:
    """The meta of a new article request (the one place an :class:`ArticleMeta` is made).

    >>> new_article_meta("5", "https://www.nbd.com.cn/articles/2021-04-01/5.html", column="3")
    {'article_id': '5', 'url': 'https://www.nbd.com.cn/articles/2021-04-01/5.html', \
'column': '3', 'listed_at': None, 'list_title': None}
    """
    return {
        "article_id": article_id,
        "url": url,
        "column": column,
        "listed_at": listed_at,
        "list_title": list_title,
    }


def article_meta(request: Request) -> ArticleMeta | None:
    """The request's :class:`ArticleMeta`, or None for any other request."""
    meta = request.meta.get(ARTICLE)
    if isinstance(meta, dict) and meta.get("article_id"):
        return meta  # type: ignore[return-value]  # only article_request puts one there
    return None


def article_id_of(request: Request) -> str:
    """The article id an article request fetches; ``""`` for any other request."""
    meta = article_meta(request)
    return str(meta["article_id"]) if meta is not None else ""


def list_meta(request: Request) -> ListMeta | None:
    """The request's :class:`ListMeta`, or None for any other request."""
    meta = request.meta.get(LIST)
    return meta if isinstance(meta, dict) and meta else None  # type: ignore[return-value]


@runtime_checkable
class ArticleSource(Protocol):
    """A spider that can make article requests (the ``nbd`` spider)."""

    def article_request(self, url: str, *, column: str | None = None) -> Request | None: ...


def request_article(
    crawler: Crawler,
    url: str,
    *,
    column: str | None = None,
    mark: Literal["owed", "recheck"],
    **flags: Any,
) -> Request | None:
    """The request for the article at ``url``, asked for by a component (``mark`` says why,
    see :class:`ArticleMeta`; ``flags`` adds other markers such as ``replay=True``). It is made
    even if the run requested the article before (that request did not settle it: it is owed
    again); None once max_articles is reached.

    Raises :class:`NotConfigured` when the run's spider cannot make article requests.
    """
    spider = crawler.spider
    if not isinstance(spider, ArticleSource):
        name = getattr(spider, "name", "?")
        raise NotConfigured(f"spider {name} has no article_request: it cannot fetch {url}")
    request = spider.article_request(url, column=column)
    if request is None:
        return None
    meta = request.meta[ARTICLE]
    # Marked so that retries (which copy the meta) pass the delivery middleware, while the
    # spider finding the same article on a list page does not fetch it a second time.
    meta[mark] = True
    meta.update(flags)
    return request
