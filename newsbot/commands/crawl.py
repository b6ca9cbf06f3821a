"""``scrapy crawl``, checking the spider's arguments before anything starts.

Scrapy builds the spider inside the running crawl, so a spider that rejects its arguments ends
the process with an asyncio traceback. This command asks the spider class first (its
``check_arguments(settings, kwargs)``, when it has one) and turns a bad argument into a usage
error: one line naming the argument, exit status 2, nothing fetched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from newsbot.outcome import failure

if TYPE_CHECKING:
    import argparse

    from scrapy import Spider
    from scrapy.crawler import Crawler


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                spidercls = None  # Scrapy's own error follows
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                assert self.settings is not None
                try:
                    check(self.settings, dict(opts.spargs))
                except ValueError as e:
                    raise UsageError(f"{args[0]}: {e}", print_help=False) from None
        super().run(args, opts)
        # Delivery failures (a full disk, a refused feed target) make the run exit 1; the
        # operations side may map more reasons (newsbot.outcome.fail_run records them).
        reason = failure(self._newsbot_crawler) if self._newsbot_crawler is not None else None
        if reason and not self.exitcode:
            self.exitcode = 1
            logging.getLogger("newsbot").error("Run failed: %s", reason)

    _newsbot_crawler: Crawler | None = None

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._newsbot_crawler = crawler
        return crawler
