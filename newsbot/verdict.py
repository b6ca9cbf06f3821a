"""A run's verdict and exit code, for every way of running the crawl.

``scrapy crawl`` and ``scrapy runspider`` (newsbot's commands) end with it: the last log line is
``Run OK: …`` or ``Run failed: <code>: <message>``, and the process exits with its code. A script
that runs the crawl itself (``CrawlerProcess``, ``AsyncCrawlerProcess``) asks for it::

    import sys
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings
    from newsbot.verdict import verdict

    process = CrawlerProcess(get_project_settings())
    crawler = process.create_crawler("nbd")
    process.crawl(crawler, columns="3,332")
    process.start()
    result = verdict(crawler)
    print(result.line)
    sys.exit(result.exit_code)

A crawler that never started (its settings were refused, its spider arguments were wrong) has
the verdict ``not_started`` and exit code 1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from newsbot.outcome import FAILURE_KEY

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


@dataclass(frozen=True)
class Verdict:
    """How a run ended, as the exit code and the last log line tell it."""

    exit_code: int
    """0 when the run did its job, 1 when it did not."""
    failure: str | None
    """``<code>: <message>`` of the first failure; None for a run that did its job."""
    report: dict[str, Any] | None
    """The run report (``state/runs/<run id>.json``), when the operations side made one."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def line(self) -> str:
        """The verdict's log line: ``Run failed: …`` or ``Run OK: …``."""
        if self.failure:
            return f"Run failed: {self.failure}"
        if self.report is None:
            return "Run OK"
        done = self.report["accounting"]
        return (
            f"Run OK: {done['discovered']} discovered, {done['exported']} exported, "
            f"{done['unchanged']} unchanged, {done['dropped']} dropped, {done['failed']} failed "
            f"(report: {self.report['report_path']})"
        )


def verdict(crawler: Crawler) -> Verdict:
    """The verdict of the run ``crawler`` made (call it once the crawl is over)."""
    from newsbot.ops.extension import RunReporter

    try:
        stats = crawler.stats
    except RuntimeError:  # Scrapy 2.19: no stats before the crawl started
        stats = None
    failure = stats.get_value(FAILURE_KEY) if stats is not None else None
    if not failure and (stats is None or stats.get_value("start_time") is None):
        # Refused before it began, with no reason recorded (a component's reason, such as a
        # feed target refused while the feeds were set up, is the verdict instead).
        return Verdict(1, "not_started: the crawl did not start (see the log)", None)
    try:
        reporter = crawler.get_extension(RunReporter)
    except RuntimeError:  # the crawl never built its extensions
        reporter = None
    report = reporter.report if reporter is not None else None
    return Verdict(1 if failure else 0, str(failure) if failure else None, report)


def conclude(crawler: Crawler, exit_code: int = 0) -> int:
    """End a run the way newsbot's commands do: log the verdict as the last line and return the
    exit status (``exit_code``, what the process had already decided, wins when it is not 0).

    The crawl command and whoever runs a crawl in-process (the tests' runner) share it, so a run
    ends with the same line and status however it was started.
    """
    result = verdict(crawler)
    log = logging.getLogger("newsbot")
    if result.failure:
        # Every failure newsbot.outcome.fail_run recorded (delivery: a full disk, a refused
        # feed target; operations: the rules of newsbot.ops.monitors), or a crawl that never
        # started, makes the run exit 1, and the first one is the last log line.
        log.error("%s", result.line)
        return exit_code or result.exit_code
    if not exit_code and result.report is not None:
        log.info("%s", result.line)
    return exit_code
