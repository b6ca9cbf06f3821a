"""The progress line, end to end: a first line within seconds, an estimate of the total and an
ETA from the start, percentages that never go down, and no flood while nothing moves."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from pathlib import Path

import pytest
from scrapy import Request, signals
from scrapy.crawler import Crawler

from newsbot.ops.progress import ProgressLog
from newsbot.requestmeta import article_meta
from tests.crawlkit import PROJECT, run_crawl, scrapy_crawl
from tests.deliverykit import crawl_command, start
from testsite import DeliverySite
from testsite.delivery import COLUMN

LINE = re.compile(
    r"^(\S+ \S+) \[newsbot\.ops\.progress\] INFO: Progress: (\d+)/([~≥]?)(\d+) articles done"
    r"(?: \((\d+)%\))?(?:, ([\d.]+)/min(?:, ETA (.*?))?)?(; \d+ list pages read|; reading list "
    r"pages)?$"
)


def progress(log: str) -> list[dict]:
    """Each progress line, parsed; every one must parse."""
    out = []
    for line in log.splitlines():
        if "Progress:" in line:
            m = LINE.search(line)
            assert m, f"unexpected progress line: {line!r}"
            out.append(
                {
                    "at": dt.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S"),
                    "done": int(m[2]),
                    "listing": m[3] != "",
                    "total": int(m[4]),
                    "percent": int(m[5]) if m[5] else None,
                    "eta": m[7] or "",
                    "pages": m[8] or "",
                }
            )
    return out


def opened_at(log: str) -> dt.datetime:
    line = next(line for line in log.splitlines() if "Spider opened" in line)
    return dt.datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")


@pytest.mark.process
def test_progress_lines_without_flooding(tmp_path: Path):
    interval = 0.2
    with DeliverySite(24, per_page=8) as site:
        site.latency = 0.05
        # A stall (nothing moves for two seconds) once the third and last list page is read:
        # the spider reads a column's next list page after the articles already listed.
        site.hold_after(17)
        cmd = crawl_command(
            site.root, tmp_path / "state", "-o", f"{tmp_path}/out.jsonl",
            args={"columns": COLUMN},
            settings={"NEWSBOT_PROGRESS_INTERVAL": str(interval),
                      "CONCURRENT_REQUESTS_PER_DOMAIN": "2"},
        )  # fmt: skip
        log = tmp_path / "run.log"
        began = time.monotonic()
        proc = start(cmd, PROJECT, log)
        try:
            site.wait_served(17)
            time.sleep(2.0)
            site.release()
            assert proc.wait(60) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
        elapsed = time.monotonic() - began
    lines = progress(log.read_text())
    assert len(lines) >= 3, lines
    # Only a change makes a line: consecutive lines differ, so the two-second stall (ten
    # intervals) added at most one.
    key = [(x["done"], x["total"], x["listing"]) for x in lines]
    assert all(a != b for a, b in itertools.pairwise(key)), lines
    assert len(lines) < elapsed / interval - 5, (len(lines), elapsed)
    done = [x["done"] for x in lines]
    assert done == sorted(done)
    assert all(x["done"] <= x["total"] for x in lines)
    percent = [x["percent"] for x in lines if x["percent"] is not None]
    assert percent == sorted(percent), lines  # never goes down
    # While list pages are still being read the total is an estimate (or a lower bound before
    # the first list page), and the line says how many list pages were read.
    for x in lines:
        assert bool(x["pages"]) == x["listing"], x
    finished = [x for x in lines if not x["listing"]]
    assert finished and finished[-1]["total"] == 24
    # The last line, as the spider closes: all of them.
    assert (lines[-1]["done"], lines[-1]["total"], lines[-1]["listing"]) == (24, 24, False)
    assert any(re.match(r"\d+[smhd]", x["eta"]) for x in finished), lines
    # An ETA before the last list page is read: from the estimate.
    assert any(x["listing"] and re.match(r"\d+[smhd]", x["eta"]) for x in lines), lines


class ListingProbe:
    """A test extension: whenever an article request is scheduled, whether the progress line
    would say list pages are still being read, counted in the stats."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.closing, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ListingProbe:
        return cls(crawler)

    def scheduled(self, request: Request) -> None:
        if article_meta(request) is None:
            return
        progress = self.crawler.get_extension(ProgressLog)
        assert self.crawler.stats is not None and progress is not None
        self.crawler.stats.inc_value(f"probe/listing/{progress.listing}")

    def closing(self) -> None:
        progress = self.crawler.get_extension(ProgressLog)
        assert self.crawler.stats is not None and progress is not None
        self.crawler.stats.set_value("probe/listing_when_idle", progress.listing)


def test_a_column_is_listing_until_its_last_list_page_is_done(tmp_path: Path):
    """The next list page is asked for after the articles a page listed: in between, the column
    is still being listed (an exact total there would be the articles of the pages so far).
    Every article of the three pages is scheduled while the column lists; after the run, not."""
    with DeliverySite(24, per_page=8) as site:
        result = run_crawl(
            site.root, f"columns={COLUMN}", tmp_path=tmp_path,
            settings={"NEWSBOT_PROGRESS_INTERVAL": "60",
                      "EXTENSIONS": '{"tests.test_ops_progress.ListingProbe": 0}'},
        )  # fmt: skip
    assert result.returncode == 0, result.explain()
    assert len(result.records) == 24
    assert result.stat("probe/listing/True") == 24, result.prefixed("probe/")
    assert result.stat("probe/listing/False") == 0
    assert result.stats["probe/listing_when_idle"] is False


def test_first_line_within_seconds_with_an_estimate_from_the_page_limit(tmp_path: Path):
    # 40 articles, 8 a list page, max_pages=5: once a list page is read, the estimate is the
    # whole column (8 known + 4 pages to go x 8), long before its last page is read.
    with DeliverySite(60, per_page=8) as site:
        site.latency = 0.6
        cmd = crawl_command(
            site.root, tmp_path / "state", "-o", f"{tmp_path}/out.jsonl",
            args={"columns": COLUMN, "max_pages": "5"},
            settings={"CONCURRENT_REQUESTS_PER_DOMAIN": "1"},  # the default interval (30 s)
        )  # fmt: skip
        done = scrapy_crawl(cmd, timeout=120)
    log = done.stderr + done.stdout
    assert done.returncode == 0, log[-3000:]
    lines = progress(log)
    assert lines, log[-3000:]
    assert (lines[0]["at"] - opened_at(log)).total_seconds() <= 6, lines[0]
    estimated = [x for x in lines if x["listing"] and x["percent"] is not None]
    assert estimated, lines
    assert all(x["total"] == 40 for x in estimated), lines
    assert re.match(r"\d+[smhd] \(about \d\d:\d\d UTC\)", estimated[0]["eta"]), lines
