"""Exit codes, end to end: each rule that turns a run red makes ``scrapy crawl nbd`` exit 1 with
``Run failed: <code>: ...`` as its last log line, and a clean run exits 0.

Every test runs the unmodified spider in a subprocess against the local site copy (or a port
nothing listens on), as cron would, and reads what an operator reads: the exit status, the last
log line and the run report.
"""

from __future__ import annotations

import functools
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from newsbot import EXTRACTOR_VERSION
from tests import crawlkit
from tests.crawlkit import PROJECT, TEST_SETTINGS
from tests.deliverykit import crawl_command, env, fill, run, small_filesystem, start
from tests.helpers import ARTICLES
from tests.opskit import (
    assert_failed,
    last_line,
    misdated,
    redesigned,
    report_of,
    reports,
    synthetic_route,
    without_byline,
)
from testsite import Challenge, DeliverySite, Reply, SiteCopy
from testsite.delivery import COLUMN

pytestmark = pytest.mark.process

#: The exit status is the process's: every crawl here is ``scrapy crawl`` in a subprocess.
run_crawl = functools.partial(crawlkit.run_crawl, process=True)


def test_a_clean_run_exits_0_and_accounts_for_every_article(site: SiteCopy, tmp_path: Path):
    result = run_crawl(site.root, tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    # The default columns list 20 synthetic articles and every fixture article (column 1161).
    n = 20 + len(list(ARTICLES.glob("*.html")))
    assert last_line(result.log).split("] INFO: ", 1)[1].startswith(f"Run OK: {n} discovered")
    report = report_of(result, tmp_path / "state")
    assert report["status"] == "ok" and report["exit_code"] == 0 and report["failure"] is None
    assert all(check["ok"] for check in report["checks"]) and len(report["checks"]) == 8
    accounting = report["accounting"]
    assert accounting == {
        "discovered": n,
        "exported": n,
        "new": n,
        "updated": 0,
        "unchanged": 0,
        "dropped": 0,
        "failed": 0,
        "pending": 0,
        "balanced": True,
    }
    assert len(result.records) == n
    # Every record says which extraction rules made it.
    assert {r["extractor_version"] for r in result.records} == {EXTRACTOR_VERSION}
    assert (
        f"Accounting: discovered {n} = exported {n} (new {n}, updated 0) + unchanged 0"
        in result.log
    )


def test_site_down(tmp_path: Path):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = run_crawl(dead, tmp_path=tmp_path, settings={"RETRY_TIMES": "0"})
    line = assert_failed(result, "site_unreachable")
    assert "robots.txt of 127.0.0.1" in line
    report = report_of(result, tmp_path / "state")
    assert report["failure"]["code"] == "site_unreachable"
    assert report["accounting"]["discovered"] == 0
    assert {c: b["list_failures"][0]["reason"] for c, b in report["columns"].items()} == {
        c: "robots_unreachable" for c in ("3", "332", "1161", "1367")
    }


def test_site_answering_nothing_but_robots_txt(site_factory, tmp_path: Path):
    """robots.txt answers, every page times out: not one page of the site answered."""
    site = site_factory()
    site.route(r"/(columns|articles)/.*", lambda hit: Reply(200, b"late", delay=2))
    result = run_crawl(
        site.root,
        "columns=3",
        tmp_path=tmp_path,
        settings={"DOWNLOAD_TIMEOUT": "0.5", "RETRY_TIMES": "0"},
    )
    line = assert_failed(result, "site_unreachable")
    assert "not one page of the site answered" in line


def test_blocked(site_factory, tmp_path: Path):
    site = site_factory()
    site.plan(r"/articles/.*", Challenge())
    result = run_crawl(
        site.root, "columns=3", tmp_path=tmp_path, settings={"NEWSBOT_BLOCKED_LIMIT": "2"}
    )
    line = assert_failed(result, "blocked")
    assert "challenge pages" in line
    report = report_of(result, tmp_path / "state")
    assert report["close_reason"] == "blocked"
    assert report["columns"]["3"]["blocked"] >= 2
    assert report["accounting"]["balanced"]


def test_layout_changed_list_page(site: SiteCopy, tmp_path: Path):
    """Column 5 is a list page in none of the known markups (a redesign)."""
    result = run_crawl(site.root, "columns=5", tmp_path=tmp_path)
    line = assert_failed(result, "layout_changed")
    assert "column 5 page 1" in line and "not a list page" in line


def test_layout_changed_list_page_without_links(site: SiteCopy, tmp_path: Path):
    site.route(r"/columns/3/", lambda hit: Reply(200, b'<div class="g-list-text"></div>'))
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    line = assert_failed(result, "layout_changed")
    assert "column 3" in line and "lists no article link" in line


def test_layout_changed_article_pages(site: SiteCopy, tmp_path: Path):
    """Article pages in a markup the extractor does not know: not one full record."""
    synthetic_route(site, redesigned)
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    line = assert_failed(result, "layout_changed")
    assert "only 0 of 13 article pages (0%) gave a full record" in line
    assert "13 gave no record (not_article 13)" in line
    assert result.records == []
    report = report_of(result, tmp_path / "state")
    assert report["columns"]["3"]["failed"] == {"not_article": 13}
    assert [c["code"] for c in report["failures"]] == ["layout_changed", "too_many_failures"]


def test_layout_changed_bylines_gone_from_a_byline_column(site: SiteCopy, tmp_path: Path):
    """Column 332 (original reporting) always has bylines: records without one are not full."""
    synthetic_route(site, without_byline)
    result = run_crawl(
        site.root, "columns=332", tmp_path=tmp_path, settings={"NEWSBOT_LAYOUT_MIN_PAGES": "3"}
    )
    line = assert_failed(result, "layout_changed")
    assert "only 0 of 5 article pages" in line and "lacking: byline 5" in line
    assert len(result.records) == 5  # delivered all the same: the records are valid
    # The same pages in a column without bylines are fine.
    again = run_crawl(
        site.root, "columns=332", tmp_path=tmp_path / "other",
        settings={"NEWSBOT_LAYOUT_MIN_PAGES": "3", "NEWSBOT_BYLINE_COLUMNS": "3"},
    )  # fmt: skip
    assert again.returncode == 0, again.explain()


def test_list_page_that_cannot_be_fetched(site: SiteCopy, tmp_path: Path):
    """Column 4's pages are disallowed by robots.txt: the column cannot be read at all."""
    result = run_crawl(site.root, "columns=4", tmp_path=tmp_path)
    line = assert_failed(result, "list_failed")
    assert "column 4" in line and "robots_forbidden" in line


def test_too_many_failures(site: SiteCopy, tmp_path: Path):
    """Column 2: a missing article and a challenge page among 8 (newsbot's own refusals, such
    as off-site redirects, are listed but not counted)."""
    result = run_crawl(site.root, "columns=2", tmp_path=tmp_path)
    line = assert_failed(result, "too_many_failures")
    assert "2 of 8 articles failed (25% > NEWSBOT_MAX_FAILED_SHARE=0.1)" in line
    assert "refused by newsbot's own rules" in line
    relaxed = run_crawl(
        site.root, "columns=2", tmp_path=tmp_path / "relaxed",
        settings={"NEWSBOT_MAX_FAILED_SHARE": "0.3"},
    )  # fmt: skip
    assert relaxed.returncode == 0, relaxed.explain()


def test_too_many_drops(site: SiteCopy, tmp_path: Path):
    synthetic_route(site, misdated)
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    line = assert_failed(result, "too_many_drops")
    assert "13 of 13 records were dropped" in line and "date_mismatch 13" in line
    report = report_of(result, tmp_path / "state")
    assert report["columns"]["3"]["dropped"] == {"date_mismatch": 13}


def test_disk_full(tmp_path: Path):
    """The feed's filesystem fills up: the run fails, its records stay pending, the report says
    so (it lives in the state directory, on another filesystem)."""
    state = tmp_path / "state"
    with small_filesystem(tmp_path / "disk", size_kb=64) as disk, DeliverySite(20) as site:
        fill(disk, leave_bytes=4096)
        cmd = crawl_command(
            site.root, state, "-o", f"{disk}/articles.jsonl", args={"columns": COLUMN}
        )
        done = run(cmd, PROJECT)
    line = assert_failed(done, "storage_failed")
    assert "No space left on device" in line
    report = report_of(done.stderr, state)
    assert report["status"] == "failed"
    accounting = report["accounting"]
    assert accounting["exported"] == 0
    assert accounting["pending"] == accounting["discovered"] > 0
    assert accounting["balanced"]
    assert report["outputs"] == []


def test_pending_left_when_nothing_is_delivered(site: SiteCopy, tmp_path: Path):
    """A scheduled crawl without -o delivers nothing: every article stays pending."""
    command = [sys.executable, "-m", "scrapy", "crawl", "nbd", "-a", "columns=332"]
    for name, value in {
        **TEST_SETTINGS, "NEWSBOT_SITE_ROOT": site.root,
        "NEWSBOT_STATE_DIR": str(tmp_path / "state"),
    }.items():  # fmt: skip
        command += ["-s", f"{name}={value}"]
    done = subprocess.run(
        command, cwd=PROJECT, env=env(), capture_output=True, text=True, timeout=120
    )
    line = last_line(done.stderr)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Run failed: pending_left: 5 discovered articles were neither exported" in line


def test_interrupted_run_leaves_pending_and_exits_1(tmp_path: Path):
    state = tmp_path / "state"
    with DeliverySite(10) as site:
        site.hold_after(3)
        cmd = crawl_command(
            # the target run_crawl writes: the next run goes on with the same destination
            site.root,
            state,
            "-o",
            f"{tmp_path}/records.jsonl",
            args={"columns": COLUMN},
        )
        log = tmp_path / "run.log"
        proc = start(cmd, PROJECT, log)
        try:
            site.wait_served(3)
            proc.send_signal(signal.SIGTERM)
            site.release()
            assert proc.wait(60) == 1, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
        text = log.read_text()
        assert "Run failed: interrupted: the run stopped early (shutdown)" in last_line(text)
        (report,) = reports(state)
        assert report["close_reason"] == "shutdown" and report["exit_code"] == 1
        accounting = report["accounting"]
        assert accounting["balanced"] and accounting["pending"] > 0
        # The next run fetches what was left and ends clean.
        again = run_crawl(
            site.root, f"columns={COLUMN}", tmp_path=tmp_path,
            settings={"NEWSBOT_MAX_LIST_PAGES": "0"},
        )  # fmt: skip
        assert again.returncode == 0, again.explain()
        after = report_of(again, state)["accounting"]
        assert after["pending"] == 0 and after["failed"] == 0
        assert accounting["exported"] + after["exported"] == 10


def test_closespider_limits_are_not_failures(site: SiteCopy, tmp_path: Path):
    """A limit the user set stops the run early on purpose: what it left pending is reported,
    and fetched by the next run, but the run is not red."""
    result = run_crawl(
        site.root, "columns=3", tmp_path=tmp_path,
        settings={"CLOSESPIDER_ITEMCOUNT": "2", "CONCURRENT_REQUESTS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.explain()
    report = report_of(result, tmp_path / "state")
    assert report["close_reason"] == "closespider_itemcount"
    assert report["accounting"]["pending"] > 0 and report["accounting"]["balanced"]
