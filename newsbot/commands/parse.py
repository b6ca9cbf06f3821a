"""``scrapy parse --spider nbd URL``: one page through the spider, as in a crawl, nothing kept.

Scrapy's command fetches the URL and calls the spider's ``parse``; the nbd spider reads the page
as what its path says (:mod:`newsbot.spiders.entry`): an article gives its record, a column list
page the article requests it lists and its next page, the search API (``…/news-search/
queryByMatch?keyword=碳中和``, or the API's URL with ``-a query=碳中和``) the requests of its
results. ``-c parse_article`` (or ``parse_list``, ``parse_search``) names the callback as usual.

Differences from Scrapy's own command:

- The page is looked at, not delivered: no state store, run report or progress log
  (:func:`one_page_settings`; ``-s NEWSBOT_STATE_ENABLED=1`` would bring the store back).
- A URL outside ``NEWSBOT_SITE_ROOT`` (the local copy's, a mirror's) sets the root to the site it
  is on, unless the root was given with ``-s``.
- The exit status tells: 1 when nothing was downloaded, the page gave no record (an article:
  its reason is logged), a list page could not be read, or the callback raised.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import TYPE_CHECKING, Any

from scrapy.commands.parse import Command as ScrapyParseCommand
from scrapy.exceptions import ScrapyDeprecationWarning, UsageError
from scrapy.http import JsonRequest
from scrapy.settings import SETTINGS_PRIORITIES
from w3lib.url import is_url

from newsbot.pages.search import search_body
from newsbot.perimeter import SitePerimeter
from newsbot.spiders.arguments import run_arguments
from newsbot.spiders.entry import page_kind, site_root_of

if TYPE_CHECKING:
    import argparse

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

logger = logging.getLogger("newsbot")

#: Above the project's settings and a spider's, below the command line (``-s`` still wins).
_PRIORITY = (SETTINGS_PRIORITIES["spider"] + SETTINGS_PRIORITIES["cmdline"]) // 2

#: Stats prefixes that mean the page did not give what it should.
_FAILED = (
    "newsbot/failed/",
    "newsbot/list/failed/",
    "newsbot/search/failed/",
    "spider_exceptions/",
)
_FAILED_KEYS = (
    "newsbot/list/unreadable",
    "newsbot/list/no_articles",
    "newsbot/search/invalid_answers",
    "newsbot/parse/unknown_page",
)


def one_page_settings(settings: Settings) -> None:
    """Settings of a command that looks at pages without delivering them (``parse``, ``check``):
    no state store (nothing is delivered, and a scheduled crawl may hold its lock), no run
    report (there is no run to judge), no progress log."""
    settings.set("NEWSBOT_STATE_ENABLED", False, priority=_PRIORITY)
    settings.set("NEWSBOT_OPS_ENABLED", False, priority=_PRIORITY)
    settings.set("NEWSBOT_PROGRESS_INTERVAL", 0, priority=_PRIORITY)


class Command(ScrapyParseCommand):
    def long_desc(self) -> str:
        return (
            "Fetch a page and show what the nbd spider makes of it: an article URL gives its "
            "record, a column list page (/columns/ID/[page/N]) the requests it leads to, the "
            "search API (/news-search/queryByMatch?keyword=WORD) its results. Nothing is "
            "delivered or recorded. Exit status 1 when the page gives nothing it should."
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        one_page_settings(self.settings)
        if len(args) != 1 or not is_url(args[0]):
            return  # Scrapy's usage error follows
        url = args[0]
        perimeter = SitePerimeter.from_settings(self.settings)
        root = site_root_of(url)
        given = self.settings.getpriority("NEWSBOT_SITE_ROOT") or 0
        if root and perimeter.why_refused(url) and given < SETTINGS_PRIORITIES["cmdline"]:
            logger.info("Reading %s as a page of the site at %s (NEWSBOT_SITE_ROOT)", url, root)
            self.settings.set("NEWSBOT_SITE_ROOT", root, priority=_PRIORITY)
        kind = page_kind(url)
        if kind is not None and kind.kind == "search" and kind.keyword:
            opts.spargs.setdefault("query", kind.keyword)

    def prepare_request(
        self, spider: Spider, request: Request, opts: argparse.Namespace
    ) -> Request:
        kind = page_kind(request.url)
        query = run_arguments(spider).query
        if kind is not None and kind.kind == "search" and query:
            # The search API answers POSTs of a JSON body: the URL names the keyword, the
            # request is the one a crawl sends for the first answer page.
            size = spider.settings.getint("NEWSBOT_SEARCH_PAGE_SIZE", 16)
            request = JsonRequest(
                request.url.split("?", 1)[0],
                data=search_body(query, 0, size),
                cb_kwargs={"offset": 0},
                dont_filter=True,
            )
        return super().prepare_request(spider, request, opts)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if opts.callback and self.crawler_process is not None and opts.spider:
            try:
                spidercls = self.crawler_process.spider_loader.load(opts.spider)
            except KeyError:
                spidercls = None  # Scrapy's own error follows
            if spidercls is not None and not callable(getattr(spidercls, opts.callback, None)):
                known = ", ".join(
                    name
                    for name in ("parse", "parse_article", "parse_list", "parse_search")
                    if hasattr(spidercls, name)
                )
                raise UsageError(
                    f"{opts.spider} has no callback {opts.callback!r} (use one of: {known})",
                    print_help=False,
                )
        with warnings.catch_warnings():
            # Scrapy's parse command wraps every callback in one returning a Deferred, which
            # Scrapy 2.19 itself deprecates: a warning about the command, not about the spider.
            warnings.filterwarnings("ignore", "(?s).*returned a Deferred", ScrapyDeprecationWarning)
            super().run(args, opts)
        crawler = self._parse_crawler
        if self.exitcode or crawler is None or crawler.stats is None:
            return
        stats: dict[str, Any] = crawler.stats.get_stats()
        failed = sorted(
            f"{key} {value}"
            for key, value in stats.items()
            if key.startswith(_FAILED) or (key in _FAILED_KEYS and value)
        )
        if self.first_response is None:
            self.exitcode = 1
        elif failed:
            logger.error("The page gave no result: %s", json.dumps(failed, ensure_ascii=False))
            self.exitcode = 1

    _parse_crawler: Crawler | None = None

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._parse_crawler = crawler
        return crawler
