"""``scrapy shell [URL|FILE]``: Scrapy's console, for any URL and for saved pages.

- Without ``--spider`` the URL is the one a person typed: the crawl's perimeter is not applied
  (a local copy's URL, a mirror's, a saved file ``./page.html`` all load), robots.txt still is.
- Nothing is delivered or recorded (no state store, run report or progress log), with
  ``--spider nbd`` too.
- With ``--spider nbd``, a URL outside ``NEWSBOT_SITE_ROOT`` sets the root to the site it is on
  (as ``scrapy parse`` does), unless the root was given with ``-s``.
- A page that could not be fetched gives one line saying why on stderr, never a traceback; with
  ``-c CODE`` the command then exits 1 instead of running the code against no response.
- ``extract()`` in the console shows the record the crawl's extractor makes of ``response`` (or
  why it gives none).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.commands.shell import Command as ScrapyShellCommand
from scrapy.http import TextResponse
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.url import guess_scheme

from newsbot.commands.parse import one_page_settings
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.perimeter import SitePerimeter
from newsbot.spiders.entry import site_root_of

if TYPE_CHECKING:
    import argparse

    from scrapy.http import Response

_PRIORITY = (SETTINGS_PRIORITIES["spider"] + SETTINGS_PRIORITIES["cmdline"]) // 2


def extract_record(response: Response | None) -> dict[str, Any] | str:
    """The record of an article page, as the crawl would make it; else why there is none."""
    if response is None:
        return "no response (fetch(url) first)"
    if not isinstance(response, TextResponse):
        return f"not_text: {response.url} is not a text page"
    try:
        item = ArticlePage(response, fetched_at=datetime.now(timezone.utc)).to_item()
    except NotArticle as e:
        return f"{e.reason}: {e.detail}" if e.detail else e.reason
    return ItemAdapter(item).asdict()


class Command(ScrapyShellCommand):
    _code: str | None = None
    _settings_root: str = ""

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        self._code = opts.code
        assert self.settings is not None
        # With --spider nbd too: the console looks at pages, it never takes the state lock.
        one_page_settings(self.settings)
        if not (args and opts.spider):
            return
        url = guess_scheme(args[0])
        given = self.settings.getpriority("NEWSBOT_SITE_ROOT") or 0
        root = site_root_of(url)
        if root and given < SETTINGS_PRIORITIES["cmdline"]:
            try:
                refused = SitePerimeter.from_settings(self.settings).why_refused(url)
            except ValueError:
                refused = None  # the spider reports a bad NEWSBOT_SITE_ROOT itself
            if refused == "offsite":
                self.settings.set("NEWSBOT_SITE_ROOT", root, priority=_PRIORITY)

    def update_vars(self, vars: dict[str, Any]) -> None:
        vars["extract"] = lambda: _show(extract_record(vars.get("response")))
        request, response = vars.get("request"), vars.get("response")
        if request is None or response is not None:
            return
        crawler = vars.get("crawler")
        stats = crawler.stats.get_stats() if crawler is not None and crawler.stats else {}
        refused = sorted(k.rsplit("/", 1)[1] for k in stats if k.startswith("newsbot/refused/"))
        why = f"refused ({', '.join(refused)})" if refused else "see the log above"
        hint = ""
        if "offsite" in refused or "scheme" in refused:
            hint = (
                " — it is outside NEWSBOT_SITE_ROOT: leave out --spider to open any URL or file, "
                "or give the site's root with -s NEWSBOT_SITE_ROOT=…"
            )
        print(f"newsbot: no response for {request.url}: {why}{hint}", file=sys.stderr)
        if self._code:
            # The code would only fail on `response` being None, with a traceback.
            raise SystemExit(1)


def _show(result: dict[str, Any] | str) -> None:
    print(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, indent=1))
