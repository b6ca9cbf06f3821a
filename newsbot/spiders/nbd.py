"""The ``nbd`` spider: decides what to fetch from 每经网, and nothing else.

Modes (see :mod:`newsbot.spiders.arguments` and README.md, Crawling):

- columns (default): read column list pages (``/columns/<id>/`` or any other list form of
  :func:`newsbot.urls.column_ref`, and their further pages) and fetch the articles they list,
  never wandering through other links;
- urls: fetch the article URLs given with ``-a url=`` / ``-a urls_file=``;
- query: find articles with the site's search API.

Pages are read by the page objects (:mod:`newsbot.pages`); every request goes to
``NEWSBOT_SITE_ROOT`` whatever form the link had, while records keep canonical URLs. Every
article request carries an :class:`~newsbot.requestmeta.ArticleMeta` (article_id, url, column,
listed_at, list_title), made by :meth:`NbdSpider._article_request` only;
each article found is announced once with :data:`~newsbot.signals.article_discovered`, and one
that cannot become a record with :data:`~newsbot.signals.article_failed` and a reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import JsonRequest, Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.misc import load_object

from newsbot.addon import ADDONS
from newsbot.idset import IdSet
from newsbot.inputs import DEFAULT_MAX_INPUT_BYTES
from newsbot.items import ArticleItem
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.pages.challenge import looks_blocked
from newsbot.pages.listing import ListPage, ListRow, NotListPage
from newsbot.pages.search import SEARCH_PATH, SearchAnswerError, parse_answer, search_body
from newsbot.perimeter import Refused, SitePerimeter
from newsbot.processors import BEIJING
from newsbot.requestmeta import ARTICLE, LIST, ArticleMeta, ListMeta, list_meta, new_article_meta
from newsbot.signals import (
    article_discovered,
    article_failed,
    list_page_done,
    list_page_failed,
    list_page_read,
    page_blocked,
    redirect_refused,
    time_disagreement,
)
from newsbot.spiders.arguments import (
    ArgumentError,
    ArgumentSpider,
    CrawlArguments,
    feed_param_names,
    parse_arguments,
    parse_columns,
    unbatchable_feeds,
)
from newsbot.spiders.entry import PageKind, page_kind
from newsbot.state.incremental import incremental_of
from newsbot.urls import (
    CANONICAL_ROOT,
    ColumnRef,
    article_path_parts,
    canonical_article_url,
    column_ref,
    join_url,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: Close reasons of runs that did not do their job (the operations side maps them to exit codes).
FAILED_CLOSE_REASONS = ("blocked", "search_failed", "search_answer_invalid")


@dataclass
class Found:
    """An article link found on a list page or in a search answer."""

    url: str
    """Canonical article URL."""
    title: str | None
    listed_at: datetime | None


@dataclass(frozen=True)
class CrawlConfig:
    """The settings a run uses, checked, with the arguments' defaults filled in."""

    perimeter: SitePerimeter
    column_refs: tuple[ColumnRef, ...]
    """The columns to read, in the order asked for."""
    max_pages: int
    """List (or search) pages per column (or query); 0 for no limit."""
    search_size: int
    guess_pages: bool
    blocked_retries: int

    @classmethod
    def from_settings(cls, settings: BaseSettings, args: CrawlArguments) -> CrawlConfig:
        try:
            perimeter = SitePerimeter.from_settings(settings)
        except ValueError as e:
            raise ArgumentError(str(e)) from None
        columns = args.columns
        if columns is None:
            columns = parse_columns(
                ",".join(settings.getlist("NEWSBOT_COLUMNS")), name="NEWSBOT_COLUMNS setting"
            )
        # A date window ends paging by itself; otherwise the page limit does.
        default_pages = 0 if args.since else settings.getint("NEWSBOT_MAX_LIST_PAGES", 10)
        if default_pages < 0:
            raise ArgumentError(
                f"NEWSBOT_MAX_LIST_PAGES: {default_pages} is not a whole number (0: no limit)"
            )
        search_size = settings.getint("NEWSBOT_SEARCH_PAGE_SIZE", 16)
        if not 1 <= search_size <= 100:
            raise ArgumentError(f"NEWSBOT_SEARCH_PAGE_SIZE: {search_size} is not between 1 and 100")
        refs = tuple(ref for ref in map(column_ref, columns) if ref is not None)
        return cls(
            perimeter=perimeter,
            column_refs=refs,
            # max_pages=0 means no limit, as NEWSBOT_MAX_LIST_PAGES=0 does.
            max_pages=default_pages if args.max_pages is None else args.max_pages,
            search_size=search_size,
            guess_pages=settings.getbool("NEWSBOT_GUESS_NEXT_PAGE", True),
            blocked_retries=settings.getint("NEWSBOT_BLOCKED_RETRIES", 1),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns' labels (what records, stats and the run report call them)."""
        return tuple(ref.label for ref in self.column_refs)

    def describe(self, args: CrawlArguments) -> str:
        what = {
            "columns": f"columns {','.join(self.columns)}",
            "urls": f"{len(args.urls)} URLs",
            "query": f"query {args.query!r}",
        }[args.mode]
        if args.since or args.until:
            what += f", published {args.since or '…'} to {args.until or '…'}"
        return what


def list_priority(page: int) -> int:
    """Scheduler priority of a column's list page ``page``, next to :func:`article_priority`.

    Paging runs one page ahead of fetching, no more: page n+1 goes before the articles of page
    n, so it is fetched as soon as page n is read (its articles are queued before page n's run
    out, and no download slot idles while a list page is fetched), but after those of page
    n-1. Unbounded, paging would run ahead (a list page is one cheap request for 50 articles)
    and the scheduler would hold every article request of the column at once, in memory;
    strictly after them, every 50 articles the crawl would wait for a list page with its slots
    idle.

    >>> [list_priority(p) for p in (1, 2, 3, 4)], [article_priority(p) for p in (1, 2, 3)]
    ([0, -1, -3, -5], [-2, -4, -6])
    """
    return 0 if page <= 1 else 3 - 2 * page


def article_priority(page: int) -> int:
    """Scheduler priority of an article listed on page ``page`` (see :func:`list_priority`)."""
    return -2 * page


class NbdSpider(ArgumentSpider):
    """Crawls 每经网 articles: columns (default), URL lists or keyword search."""

    name = "nbd"
    perimeter: SitePerimeter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            raise ArgumentError(f"unexpected positional arguments {args!r}: use -a name=value")
        super().__init__()
        #: The run's arguments (:func:`~newsbot.spiders.arguments.run_arguments`), checked
        #: (again, knowing the feed URIs and the settings, in from_crawler, which also reads a
        #: urls_file).
        self.args: CrawlArguments = parse_arguments(kwargs, feed_params=kwargs, read_files=False)
        self._config: tuple[CrawlArguments, CrawlConfig] | None = None
        self._seen = IdSet()
        self._pages: dict[str, int] = {}  # column (or "query") -> pages requested
        self._listed: dict[str, IdSet] = {}  # column -> article ids its pages listed
        self._refs: dict[str, ColumnRef] = {}  # column label -> its list
        self._limit_logged = False

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # newsbot's add-ons install its components (newsbot.addon): they must run whatever
        # ADDONS a user's settings, a script's or scrapyd's give.
        for path, order in ADDONS:
            settings.setdefault_in_component_priority_dict("ADDONS", load_object(path), order)
        # Above the command line's priority: the crawler process merges its own settings (a
        # user's ADDONS among them) into the crawler's again when the crawl starts. The dict
        # keeps the user's add-ons; newsbot's are only added to it.
        priority = max(settings.getpriority("ADDONS") or 0, SETTINGS_PRIORITIES["cmdline"]) + 1
        settings.set("ADDONS", settings.getdict("ADDONS"), priority)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        feed_params = feed_param_names(crawler.settings.getdict("FEEDS"))
        spider.args = cls.arguments_from(crawler.settings, kwargs)
        cls._check_feeds(crawler.settings)
        # Scrapy fills feed URI parameters from spider attributes.
        for name in feed_params & kwargs.keys():
            setattr(spider, name, kwargs[name])
        spider.perimeter = spider.config.perimeter
        logger.info(
            "Crawling %s from %s", spider.config.describe(spider.args), spider.perimeter.root
        )
        return spider

    @property
    def config(self) -> CrawlConfig:
        """The settings the run uses with its arguments, checked; made again when the run's
        arguments were replaced (:func:`~newsbot.spiders.arguments.take_arguments`)."""
        made = self._config
        if made is None or made[0] is not self.args:
            made = (self.args, CrawlConfig.from_settings(self.crawler.settings, self.args))
            self._config = made
        return made[1]

    @classmethod
    def check_arguments(cls, settings: BaseSettings, kwargs: dict[str, Any]) -> None:
        """Raise :class:`ArgumentError` if a run with these arguments and settings cannot start
        (the ``crawl`` command calls it before starting anything)."""
        cls.arguments_from(settings, kwargs)
        cls._check_feeds(settings)

    @staticmethod
    def _check_feeds(settings: BaseSettings) -> None:
        problem = unbatchable_feeds(
            settings.getdict("FEEDS"), settings.getint("FEED_EXPORT_BATCH_ITEM_COUNT")
        )
        if problem is not None:
            raise ArgumentError(problem)

    @classmethod
    def arguments_from(cls, settings: BaseSettings, kwargs: Mapping[str, Any]) -> CrawlArguments:
        """``kwargs`` checked as the spider's arguments, and with these settings."""
        args = parse_arguments(
            kwargs,
            feed_params=feed_param_names(settings.getdict("FEEDS")),
            reserved=cls.own_names(),
            max_input_bytes=settings.getint("NEWSBOT_MAX_INPUT_BYTES", DEFAULT_MAX_INPUT_BYTES),
        )
        CrawlConfig.from_settings(settings, args)
        return args

    @classmethod
    def own_names(cls) -> frozenset[str]:
        """The names of the spider's attributes and methods: Scrapy fills ``%(name)s`` in a
        feed path from the spider's attributes, so an argument of one of these names (``-a
        args=x``, ``crawler``, ``start``) would replace the spider's own."""
        names = set(dir(cls)) | set(vars(cls()))
        for klass in cls.__mro__:
            names |= set(getattr(klass, "__annotations__", {}))
        return frozenset(names | {"crawler", "settings"})

    # -- start ------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        if self.args.mode == "urls":
            for url in self.args.urls:
                request = self._article_request(Found(url, None, None), column=None)
                if request is not None:
                    yield request
        elif self.args.mode == "query":
            yield self._search_request(0)
        else:
            for ref in self.config.column_refs:
                self._refs[ref.label] = ref
                first = self.perimeter.fetch_url(ref.url)
                assert first is not None  # column_ref takes the site's hosts only
                yield self._list_request(ref.label, 1, first, guessed=False)

    # -- one page out of context: `scrapy parse URL` ------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """A page given by URL alone (``scrapy parse --spider nbd URL``): read as what its path
        says it is, an article, a column list page or a search answer."""
        path = self.perimeter.site_path(response.url) or urlsplit(response.url).path
        kind = page_kind(path)
        if kind is None and column_ref(CANONICAL_ROOT + path) is not None:
            kind = PageKind("list")  # another list form of the site (a .html/ channel list)
        if kind is None:
            logger.error(
                "%s is not a page the nbd spider reads (an article /articles/DATE/ID.html, a "
                "column list /columns/ID/[page/N] or the search API %s)",
                response.url,
                SEARCH_PATH,
            )
            self._inc("newsbot/parse/unknown_page")
            return
        if kind.kind == "article":
            yield from self.parse_article(response)
        elif kind.kind == "list":
            yield from self.parse_list(response)
        else:
            yield from self.parse_search(response, **kwargs)

    # -- articles ---------------------------------------------------------------------------

    def article_request(self, url: str, *, column: str | None = None) -> Request | None:
        """The request for the article at ``url`` (any URL form) that another component asks
        for (:func:`newsbot.requestmeta.request_article`), announcing it as discovered; made
        even if this run requested it before, since the component knows it is still owed; None
        past max_articles."""
        canonical = canonical_article_url(url)
        if canonical is None:
            raise ValueError(f"not an article URL: {url!r}")
        # Counted once against max_articles however often it is asked for.
        self._seen.discard(article_path_parts(canonical)[1])  # type: ignore[index]
        return self._article_request(Found(canonical, None, None), column=column)

    def _article_request(
        self, found: Found, *, column: str | None, priority: int = 0
    ) -> Request | None:
        """The request for a found article, announcing it; None for a repeat or past the limit."""
        parts = article_path_parts(found.url)
        assert parts is not None
        article_id = parts[1]
        if article_id in self._seen:
            self._inc("newsbot/discovery/duplicates")
            return None
        if self._limit_reached():
            return None
        self._seen.add(article_id)
        meta = new_article_meta(
            article_id,
            found.url,
            column=column,
            listed_at=found.listed_at.isoformat() if found.listed_at else None,
            list_title=found.title,
        )
        self._inc("newsbot/discovered")
        self.crawler.signals.send_catch_log(
            article_discovered, article_id=article_id, url=found.url, meta=dict(meta), spider=self
        )
        # dont_filter: repeats are already weeded out by id above, and an article request that
        # Scrapy's dupefilter dropped silently would leave a discovered article unaccounted for.
        return Request(
            self.perimeter.root + urlsplit(found.url).path,
            callback=self.parse_article,
            errback=self.article_error,
            meta={ARTICLE: meta},
            dont_filter=True,
            priority=priority,
        )

    def _limit_reached(self) -> bool:
        limit = self.args.max_articles
        if limit is None or len(self._seen) < limit:
            return False
        if not self._limit_logged:
            self._limit_logged = True
            logger.info("max_articles=%d reached: no further articles or pages", limit)
            self._inc("newsbot/discovery/max_articles_reached")
        return True

    def parse_article(self, response: Response) -> Iterator[Any]:
        """An article page: its record, or a failure with the reason.

        @path /articles/2021-10-12/1967420.html
        @returns items 1 1
        @returns requests 0 0
        @scrapes url article_id title published_at body
        """
        meta: ArticleMeta = response.meta.get(ARTICLE) or self._meta_from_url(response.url)
        if not isinstance(response, TextResponse):
            self._fail(meta, "not_text")
            return
        page = ArticlePage(response, fetched_at=datetime.now(timezone.utc))
        try:
            item = page.to_item()
        except NotArticle as e:
            if e.reason == "blocked":
                yield from self._blocked(response, "article", meta)
                return
            self._fail(meta, e.reason, detail=e.detail)
            return
        for removed in page.removed:  # nothing leaves a body uncounted
            self._inc(f"newsbot/removed/{removed.kind}")
        # How much of the page was parsed: a site change that sends pages to the whole-page
        # parse shows here before it shows in the crawl's speed.
        self._inc(f"newsbot/parsed/{page.parsed}")
        if page.left_out:
            self._inc("newsbot/parsed_without/navigation")
        self._check_time(item, page)
        yield from self._deliver(item, meta)

    def _meta_from_url(self, url: str) -> ArticleMeta:
        """The request meta of an article page fetched without one (``scrapy parse``,
        ``scrapy check``): what its URL tells."""
        path = self.perimeter.site_path(url) or urlsplit(url).path
        canonical = canonical_article_url(CANONICAL_ROOT + path)
        parts = article_path_parts(canonical) if canonical else None
        return new_article_meta(parts[1] if parts else "", canonical or url)

    def _check_time(self, item: ArticleItem, page: ArticlePage) -> None:
        """Count and report a page whose time sources disagree (the record keeps the visible
        time; the URL date check of the validation pipeline still applies)."""
        other = page.published.disagreement
        visible = page.published.chosen
        if other is None or visible is None or other.value is None or visible.value is None:
            return
        self._inc("newsbot/time/disagreement")
        logger.warning(
            "Article %s: %s says %s, the page shows %s: keeping the visible time",
            item.url,
            other.source,
            other.raw,
            visible.raw,
        )
        self.crawler.signals.send_catch_log(
            time_disagreement,
            article_id=item.article_id,
            url=item.url,
            visible=visible.value.isoformat(),
            other=other.value.isoformat(),
            other_source=other.source,
            spider=self,
        )

    def _deliver(self, item: ArticleItem, meta: ArticleMeta) -> Iterator[Any]:
        if item.article_id != meta["article_id"]:
            # The site answered with another article (a redirect): account for both.
            logger.warning("%s gave article %s instead", meta["url"], item.url)
            self._fail(meta, "moved")
            if item.article_id in self._seen or item.url is None:
                return
            self._seen.add(item.article_id)  # type: ignore[arg-type]
            meta = {**meta, "article_id": item.article_id, "url": item.url}  # type: ignore[typeddict-item]
            self._inc("newsbot/discovered")
            self.crawler.signals.send_catch_log(
                article_discovered,
                article_id=item.article_id,
                url=item.url,
                meta=dict(meta),
                spider=self,
            )
        item.column = meta["column"]
        yield item

    def article_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        meta: ArticleMeta = request.meta[ARTICLE]
        exc = failure.value
        if isinstance(exc, Refused) and exc.redirect:
            self._inc("newsbot/redirects_refused")
            self.crawler.signals.send_catch_log(
                redirect_refused,
                column=meta["column"],
                url=meta["url"],
                target=exc.url,
                why=exc.why,
                spider=self,
            )
        self._fail(meta, failure_reason(failure), detail=str(exc))

    def _fail(self, meta: ArticleMeta, reason: str, *, detail: str = "") -> None:
        self._inc(f"newsbot/failed/{reason}")
        logger.warning("Article %s failed (%s) %s", meta["url"], reason, detail)
        self.crawler.signals.send_catch_log(
            article_failed,
            article_id=meta["article_id"],
            url=meta["url"],
            reason=reason,
            spider=self,
        )

    def _blocked(self, response: Response, kind: str, meta: ArticleMeta | None) -> Iterator[Any]:
        """A challenge page: tell the guard (which slows down or stops), then retry or fail."""
        self.crawler.signals.send_catch_log(page_blocked, response=response, kind=kind, spider=self)
        tries = response.meta.get("newsbot_blocked", 0)
        if tries < self.config.blocked_retries:
            # The retry waits for the pause the guard has just put on the host.
            request = response.request
            assert request is not None
            retry = request.replace(dont_filter=True)
            retry.meta["newsbot_blocked"] = tries + 1
            yield retry
        elif meta is not None:
            self._fail(meta, "blocked")
        else:
            logger.error("Challenge page instead of a %s at %s", kind, response.url)
            assert response.request is not None
            listed = list_meta(response.request)
            if listed:
                self._list_failed(listed["column"], listed["page"], response.url, "blocked")

    # -- columns ----------------------------------------------------------------------------

    def _list_request(self, column: str, page: int, url: str, *, guessed: bool) -> Request:
        self._pages[column] = self._pages.get(column, 0) + 1
        listed: ListMeta = {"column": column, "page": page}
        meta: dict[str, Any] = {LIST: listed}
        if guessed:
            # A column without pagination answers 404 to a guessed page: the normal end.
            meta["handle_httpstatus_list"] = [404]
            listed["guessed"] = True
        return Request(
            url,
            callback=self.parse_list,
            errback=self.list_error,
            meta=meta,
            cb_kwargs={"column": column, "page": page},
            priority=list_priority(page),
        )

    def parse_list(
        self, response: Response, column: str | None = None, page: int | None = None
    ) -> Iterator[Any]:
        """A column list page: a request per listed article, then the next page's.

        @path /columns/1161/
        @returns requests 2
        @returns items 0 0
        """
        paging = False
        for output in self._read_list(response, column, page):
            paging = paging or (isinstance(output, Request) and list_meta(output) is not None)
            yield output
        if column is not None and page is not None:
            # Progress learns here, not from the next page's request (which comes only after
            # the listed articles' requests), how far the column's listing has got.
            self.crawler.signals.send_catch_log(
                list_page_done, column=column, page=page, last=not paging, spider=self
            )

    def _read_list(self, response: Response, column: str | None, page: int | None) -> Iterator[Any]:
        if column is None or page is None:
            # Out of context (scrapy parse, check): the column and page come from the URL.
            path = self.perimeter.site_path(response.url) or urlsplit(response.url).path
            kind, ref = page_kind(path), column_ref(CANONICAL_ROOT + path)
            label = ref.label if ref is not None else (kind.column if kind else None)
            if label is None:
                logger.error("%s is not a column list page", response.url)
                self._inc("newsbot/parse/unknown_page")
                return
            column = column or label
            page = page or (kind.page if kind else 1)
            if ref is not None:
                self._refs.setdefault(column, ref)
        if response.status == 404:
            self._inc("newsbot/list/guessed_page_missing")
            logger.info("Column %s has no page %d: done with it", column, page)
            return
        if not isinstance(response, TextResponse):
            self._list_broken(column, page, response.url, "not a text response")
            return
        path = self.perimeter.site_path(response.url) or urlsplit(response.url).path
        ref = self._ref(column)
        # The list form that answered: the column's own, or where a redirect took it (a column
        # moved to a channel host's .html/ list no longer pages like /columns/<id>/).
        served = column_ref(response.url) or column_ref(f"https://{ref.host}{path}") or ref
        # Relative links on a channel host's list are that host's (same path, same article).
        listing = ListPage(response, base_url=f"https://{served.host}{path}")
        try:
            rows = listing.rows
        except NotListPage as e:
            if e.reason == "blocked":
                yield from self._blocked(response, "list", None)
            elif _guessed(response):
                # A site without pagination may answer a guessed page number with any page.
                self._inc("newsbot/list/guessed_page_unreadable")
                logger.info("Column %s: guessed page %d is no list page: done", column, page)
            else:
                self._list_broken(column, page, response.url, e.detail)
            return
        self._inc("newsbot/list/pages")
        self._inc(f"newsbot/list/layout/{listing.layout}")
        found = list(self._found_on_list(rows))
        listed = self._listed.setdefault(column, IdSet())
        ordered = [article_path_parts(f.url)[1] for f in found]  # type: ignore[index]
        ids = set(ordered)
        self.crawler.signals.send_catch_log(
            list_page_read,
            column=column,
            page=page,
            url=response.url,
            article_ids=ordered,
            spider=self,
        )
        if page > 1 and found and listed.issuperset(ids):
            # A site without pagination may answer any page number with the first page.
            self._inc("newsbot/list/repeated_page")
            logger.info("Column %s page %d repeats earlier rows: done with it", column, page)
            return
        listed.update(ids)
        if not found:
            if page == 1:
                self._inc("newsbot/list/no_articles")
                logger.error(
                    "Column %s (%s) lists no article links: the site's list markup or link form "
                    "may have changed",
                    column,
                    response.url,
                )
            return
        for item in found:
            if self._in_window(item) and not self._delivered_before(item.url, column):
                request = self._article_request(
                    item, column=column, priority=article_priority(page)
                )
                if request is not None:
                    yield request
        next_request = self._next_list_request(column, page, listing, found, served)
        if next_request is not None:
            yield next_request

    def _found_on_list(self, rows: Iterable[ListRow]) -> Iterator[Found]:
        for row in rows:
            why = self.perimeter.link_refusal(row.url)
            if why is not None:
                self._inc(f"newsbot/refused/{why}")
                logger.debug("List link refused (%s): %s", why, row.url)
                continue
            url = self.perimeter.article_url(row.url)
            if url is None:
                self._inc("newsbot/list/other_links")
                continue
            self._inc("newsbot/list/article_links")
            yield Found(url, row.title, row.listed_at)

    def _next_list_request(
        self, column: str, page: int, listing: ListPage, found: list[Found], ref: ColumnRef
    ) -> Request | None:
        if self._limit_reached():
            return None
        if self.config.max_pages and page >= self.config.max_pages:
            self._inc("newsbot/list/page_limit_reached")
            logger.info("Column %s: page limit (%d) reached", column, self.config.max_pages)
            return None
        if self._reached_since(found):
            self._inc("newsbot/list/since_reached")
            logger.info("Column %s: page %d reaches before since=%s", column, page, self.args.since)
            return None
        if self._caught_up(column, found):
            self._inc("newsbot/list/caught_up")
            logger.info("Column %s: page %d holds only delivered articles: done", column, page)
            return None
        link = listing.next_page_url
        path = self.perimeter.site_path(link) if link else None
        url = self.perimeter.fetch_url(link) if link and path is not None else None
        if url is not None and path is not None and ref.owns(path):
            return self._list_request(column, page + 1, url, guessed=False)
        if link is not None:
            logger.warning("Column %s: ignoring next-page link %s (not this column)", column, link)
        if ref.guess is None:
            # A list form that never paged (.html/, channel hosts, the mobile web app): a page
            # of about 80 rows without a next link is the whole column, not a broken list.
            self._inc("newsbot/list/whole_column_page")
            logger.info("Column %s: %d rows and no next page: the whole column", column, len(found))
            return None
        if not self.config.guess_pages:
            return None
        guessed = self.perimeter.fetch_url(f"https://{ref.host}" + ref.guess.format(n=page + 1))
        assert guessed is not None
        return self._list_request(column, page + 1, guessed, guessed=True)

    def _ref(self, column: str) -> ColumnRef:
        """The list of a column label (also for a column whose list requests this spider did
        not make itself: a request queued elsewhere, ``scrapy parse``)."""
        ref = self._refs.get(column)
        if ref is None:
            ref = next((r for r in self.config.column_refs if r.label == column), None)
            ref = ref or column_ref(column)
            assert ref is not None, column
            self._refs[column] = ref
        return ref

    def _reached_since(self, found: list[Found]) -> bool:
        """Lists and search answers are newest first (grouped by day): once a page's last row
        is older than ``since``, every further page is older still and is not asked for."""
        since = self.args.since
        return since is not None and bool(found) and _published(found[-1]) < since

    def _caught_up(self, column: str, found: list[Found]) -> bool:
        """The incremental stop (the rule lives in newsbot.state.incremental)."""
        incremental = incremental_of(self.crawler)
        if incremental is None:
            return False
        listed = [(article_path_parts(f.url)[1], f.listed_at) for f in found]  # type: ignore[index]
        return incremental.caught_up(column, listed)

    def _delivered_before(self, url: str, column: str) -> bool:
        """Column mode does not even announce what an earlier run delivered (the rule, and its
        count, live in newsbot.state.incremental)."""
        incremental = incremental_of(self.crawler)
        parts = article_path_parts(url)
        return (
            incremental is not None
            and parts is not None
            and incremental.skip_delivered(parts[1], url=url, column=column)
        )

    def _in_window(self, found: Found) -> bool:
        since, until = self.args.since, self.args.until
        if since is None and until is None:
            return True
        published = _published(found)
        if (since and published < since) or (until and published > until):
            self._inc("newsbot/skipped/outside_window")
            return False
        return True

    def _list_broken(self, column: str, page: int, url: str, detail: str) -> None:
        self._inc("newsbot/list/unreadable")
        self._list_failed(column, page, url, "unreadable")
        logger.error(
            "Column %s page %d (%s) is not a list page the spider can read (%s): the site's "
            "layout may have changed",
            column,
            page,
            url,
            detail,
        )

    def list_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        reason = failure_reason(failure)
        self._inc(f"newsbot/list/failed/{reason}")
        logger.error("List page %s failed (%s): %s", request.url, reason, failure.value)
        listed = list_meta(request)
        if listed:
            self._list_failed(listed["column"], listed["page"], request.url, reason)

    def _list_failed(self, column: str, page: int, url: str, reason: str) -> None:
        self.crawler.signals.send_catch_log(
            list_page_failed, column=column, page=page, url=url, reason=reason, spider=self
        )

    # -- search -----------------------------------------------------------------------------

    def _search_request(self, offset: int, keyword: str | None = None) -> Request:
        keyword = keyword or self.args.query
        assert keyword is not None
        self._pages["query"] = self._pages.get("query", 0) + 1
        return JsonRequest(
            self.perimeter.root + SEARCH_PATH,
            data=search_body(keyword, offset, self.config.search_size),
            callback=self.parse_search,
            errback=self.search_error,
            cb_kwargs={"offset": offset},
            dont_filter=True,
        )

    def parse_search(self, response: Response, offset: int = 0) -> Iterator[Any]:
        """A search API answer: a request per result in the date window, then the next page's.

        @path /news-search/queryByMatch
        @method POST
        @header Content-Type application/json
        @body {"keyword": "碳中和", "from": 0, "size": 16, "includeAd": true, "platform": [0, 1]}
        @returns requests 1
        @returns items 0 0
        """
        try:
            answer = parse_answer(response.body)
        except SearchAnswerError as e:
            if isinstance(response, TextResponse) and looks_blocked(response.text):
                yield from self._blocked(response, "search", None)
                return
            self._inc("newsbot/search/invalid_answers")
            logger.error(
                "The search API at %s answered something unreadable (%s): has the API changed?",
                response.url,
                e,
            )
            raise CloseSpider("search_answer_invalid") from None
        self._inc("newsbot/search/pages")
        found: list[Found] = []
        for hit in answer.hits:
            link = join_url(CANONICAL_ROOT + "/", hit.url) or hit.url
            why = self.perimeter.link_refusal(link)
            url = self.perimeter.article_url(link) if why is None else None
            if url is None:
                self._inc(f"newsbot/refused/{why}" if why else "newsbot/search/other_links")
                continue
            found.append(Found(url, hit.title, hit.published_at))
        for item in found:
            if self._in_window(item):
                request = self._article_request(item, column=None)
                if request is not None:
                    yield request
        # `from` counts results; advertisements the answer adds (includeAd) do not move it.
        offset += self.config.search_size
        if not answer.hits or offset >= answer.total or self._limit_reached():
            return
        if self.config.max_pages and self._pages["query"] >= self.config.max_pages:
            self._inc("newsbot/search/page_limit_reached")
            return
        if self._reached_since(found):
            self._inc("newsbot/search/since_reached")
            return
        yield self._search_request(offset, _asked_keyword(response) or self.args.query)

    def search_error(self, failure: Failure) -> None:
        reason = failure_reason(failure)
        self._inc(f"newsbot/search/failed/{reason}")
        logger.error("The search API failed (%s): %s", reason, failure.value)
        raise CloseSpider("search_failed")

    # -- helpers ----------------------------------------------------------------------------

    def _inc(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key)


def _asked_keyword(response: Response) -> str | None:
    """The keyword the search request of ``response`` asked for (its JSON body)."""
    request = response.request
    try:
        keyword = json.loads(request.body)["keyword"] if request is not None else None
    except (ValueError, TypeError, KeyError):
        return None
    return keyword if isinstance(keyword, str) else None


def _guessed(response: Response) -> bool:
    """Whether a list page's number was guessed (no next link led to it)."""
    listed = list_meta(response.request) if response.request is not None else None
    return bool(listed and listed.get("guessed"))


def _published(found: Found) -> date:
    """The Beijing publication date of a found article: the one in its URL (the site's own
    record of it, NBD.md), else the list's."""
    parts = article_path_parts(found.url)
    if parts is not None:
        return date.fromisoformat(parts[0])
    assert found.listed_at is not None
    return found.listed_at.astimezone(BEIJING).date()


def failure_reason(failure: Failure) -> str:
    """A short stable code for why a download failed (stats key suffix, failure reason)."""
    from scrapy import exceptions as e
    from twisted.internet import error as tx

    exc = failure.value
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, Refused):
        return exc.why
    if isinstance(exc, IgnoreRequest):
        text = str(exc).lower()
        if "max size" in text or "download_maxsize" in text:
            return "too_large"
        # Scrapy's RedirectMiddleware past REDIRECT_MAX_TIMES: a loop or an endless chain.
        return "too_many_redirects" if "max redirections" in text else "ignored"
    kinds: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
        ((e.DownloadTimeoutError, tx.TimeoutError), "timeout"),
        ((e.DownloadConnectionRefusedError, tx.ConnectionRefusedError), "connection_refused"),
        ((e.CannotResolveHostError, tx.DNSLookupError), "dns_error"),
        ((e.DownloadCancelledError,), "too_large"),
        ((e.ResponseDataLossError,), "data_loss"),
        ((e.DownloadFailedError, tx.ConnectionLost, tx.ConnectionDone), "connection_lost"),
    )
    for types, reason in kinds:
        if isinstance(exc, types):
            return reason
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
