"""``scrapy crawl``, checking the spider's arguments before anything starts, and exiting with
the truth at the end.

Scrapy builds the spider inside the running crawl, so a spider that rejects its arguments ends
the process with an asyncio traceback. This command asks the spider class first (its
``check_arguments(settings, kwargs)``, when it has one) and turns a bad argument into a usage
error: one line naming the argument, exit status 2, nothing fetched.

At the end, a run that failed (:func:`newsbot.outcome.failure`) exits 1 with ``Run failed:
<code>: <message>`` as its last log line; a clean one exits 0 with ``Run OK: ...``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

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
        # Every failure newsbot.outcome.fail_run recorded (delivery: a full disk, a refused feed
        # target; operations: the rules of newsbot.ops.monitors) makes the run exit 1, and the
        # first one is the last log line. A clean run ends with its accounting.
        crawler = self._newsbot_crawler
        reason = failure(crawler) if crawler is not None else None
        log = logging.getLogger("newsbot")
        if reason and not self.exitcode:
            self.exitcode = 1
            log.error("Run failed: %s", reason)
        elif not self.exitcode:
            report = _report(crawler)
            if report:
                done = report["accounting"]
                log.info(
                    "Run OK: %d discovered, %d exported, %d unchanged, %d dropped, %d failed "
                    "(report: %s)",
                    done["discovered"],
                    done["exported"],
                    done["unchanged"],
                    done["dropped"],
                    done["failed"],
                    report["report_path"],
                )

    _newsbot_crawler: Crawler | None = None

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        # Scrapy ceiling (pyproject.toml): CrawlerProcess-based commands have no public hook that
        # hands over the crawler they create; this private one does.
        crawler = super()._create_crawler(spidercls)
        self._newsbot_crawler = crawler
        return crawler


def _report(crawler: Crawler | None) -> dict[str, Any] | None:
    """The run report the run reporter wrote, if the crawl got that far."""
    from newsbot.ops.extension import RunReporter

    if crawler is None:
        return None
    try:
        reporter = crawler.get_extension(RunReporter)
    except RuntimeError:  # the crawl never built its extensions
        return None
    return reporter.report if reporter is not None else None
