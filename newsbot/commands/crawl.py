"""``scrapy crawl``, checking the spider's arguments and the settings before anything starts,
and exiting with the truth at the end.

Scrapy builds the spider inside the running crawl, so a spider that rejects its arguments ends
the process with an asyncio traceback. This command asks the spider class first (its
``check_arguments(settings, kwargs)``, when it has one) and newsbot's add-ons (settings newsbot
will not run with, :mod:`newsbot.addon`), and turns a refusal into a usage error: one line
naming what to change, exit status 2, nothing fetched. When the log goes to a file (``LOG_FILE``:
scrapyd's job log, tools/cron-run.sh) the same line ends that log.

At the end the run's verdict (:func:`newsbot.verdict.verdict`) is the last log line and the
exit status: 1 with ``Run failed: <code>: <message>``, 0 with ``Run OK: ...``.
:class:`VerdictCommand` does the same for ``scrapy runspider`` (:mod:`newsbot.commands.runspider`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.utils.misc import load_object

from newsbot.addon import ADDONS
from newsbot.verdict import conclude

if TYPE_CHECKING:
    import argparse

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings


def check_settings(settings: Settings) -> None:
    """Run newsbot's add-ons on a copy of ``settings``; a refusal becomes a usage error."""
    trial = settings.copy()
    for path, _order in ADDONS:
        try:
            load_object(path)().update_settings(trial)
        except (ValueError, ImportError) as e:
            raise UsageError(str(e), print_help=False) from None


class VerdictCommand:
    """Mixin of the commands that run a crawl: settings checked first, the verdict at the end."""

    settings: Settings | None
    exitcode: int
    _verdict_crawler: Crawler | None = None

    def _run_with_verdict(self, run: Any, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        check_settings(self.settings)
        run(args, opts)
        crawler = self._verdict_crawler
        if crawler is None:
            return
        self.exitcode = conclude(crawler, self.exitcode)

    def _remember(self, crawler: Crawler) -> Crawler:
        self._verdict_crawler = crawler
        return crawler


class Command(VerdictCommand, ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            self._check_arguments(args, opts)
            self._run_with_verdict(super().run, args, opts)
        except UsageError as e:
            if str(e) and self.settings is not None and self.settings.get("LOG_FILE"):
                # Under scrapyd (and cron-run.sh) the log file is the job's record and stderr
                # goes elsewhere: the reason must be in the log too.
                logging.getLogger("newsbot").error("Run refused (usage): %s", e)
            raise

    def _check_arguments(self, args: list[str], opts: argparse.Namespace) -> None:
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

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        # Scrapy ceiling (pyproject.toml): CrawlerProcess-based commands have no public hook that
        # hands over the crawler they create; this private one does.
        return self._remember(super()._create_crawler(spidercls))
