"""Run reports, end to end: the summary table in the log and ``runs/<run id>.json`` in the state
directory, against the local site copy; and the report's pure parts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from newsbot.items import EXTRACTED_FIELDS
from newsbot.ops.ledger import RunLedger
from tests.crawlkit import run_crawl
from tests.opskit import report_of
from testsite import DeliverySite, SiteCopy
from testsite.delivery import COLUMN

TABLE_HEAD = "column  listed  new  updated  unchanged  dropped  failed  pending  blocked"


def test_report_of_a_run_with_failures(site: SiteCopy, tmp_path: Path):
    """Column 3 (13 articles) and the trouble column 2, with the failure threshold raised so
    that the run passes: everything is in the table, the JSON and the dead-letter file."""
    result = run_crawl(
        site.root, "columns=3,2", tmp_path=tmp_path, settings={"NEWSBOT_MAX_FAILED_SHARE": "0.5"}
    )
    assert result.returncode == 0, result.explain()
    state = tmp_path / "state"
    report = report_of(result, state)

    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", report["run_id"])
    assert Path(report["report_path"]) == state / "runs" / f"{report['run_id']}.json"
    assert report["status"] == "ok" and report["close_reason"] == "finished"
    assert report["arguments"] == {"columns": "3,2"}

    columns = report["columns"]
    assert list(columns) == ["3", "2"]
    assert {k: columns["3"][k] for k in ("listed", "new", "updated", "unchanged", "pending")} == {
        "listed": 13, "new": 13, "updated": 0, "unchanged": 0, "pending": 0,
    }  # fmt: skip
    assert columns["3"]["list_pages"] == 3
    trouble = columns["2"]
    assert trouble["listed"] == 7 and trouble["discovered"] == 8 and trouble["new"] == 1
    assert trouble["failed"] == {
        "blocked": 1, "http_404": 1, "moved": 1, "offsite_redirect": 2, "robots_forbidden": 1,
        "spam_host": 1,
    }  # fmt: skip
    assert trouble["blocked"] == 2  # the challenged article was asked for twice
    # Redirects off the site (127.0.0.2, localhost) and to a spam host, per column.
    assert trouble["redirects_refused"] == 3 and columns["3"]["redirects_refused"] == 0
    assert report["time_disagreements"] == []
    assert report["accounting"] == {
        "discovered": 21, "exported": 14, "new": 14, "updated": 0, "unchanged": 0,
        "dropped": 0, "failed": 7, "pending": 0, "balanced": True,
    }  # fmt: skip

    records = result.records
    assert len(records) == 14
    assert list(report["field_coverage"]) == list(EXTRACTED_FIELDS)
    assert report["field_coverage"]["title"] == 1.0
    with_byline = sum(1 for r in records if r["byline"]) / len(records)
    assert report["field_coverage"]["byline"] == round(with_byline, 4)
    times = sorted(r["published_at"] for r in records)
    assert report["published"] == {"earliest": times[0], "latest": times[-1]}
    assert report["outputs"] == [
        {"path": str(tmp_path / "records.jsonl"), "format": "jsonlines", "records": 14,
         "files": 1},
    ]  # fmt: skip
    assert {f["article_id"]: f["reason"] for f in report["failed_articles"]}["1700702"] == (
        "http_404"
    )
    assert report["stats"]["newsbot/exported"] == 14

    # The dead-letter list: every article the store holds as failed, with reason and attempts.
    dead = [json.loads(line) for line in (state / "dead-letter.jsonl").read_text().splitlines()]
    assert report["dead_letter"] == {"path": str(state / "dead-letter.jsonl"), "count": 7}
    by_id = {d["article_id"]: d for d in dead}
    assert by_id["1700702"]["reason"] == "http_404"
    assert by_id["1700702"]["url"] == "https://www.nbd.com.cn/articles/2021-04-07/1700702.html"
    assert by_id["1700702"]["attempts"] == 1 and by_id["1700702"]["column"] == "2"
    assert by_id["1700702"]["retried_automatically"] is True

    # The same, for people, at the end of the log.
    log = result.log
    assert TABLE_HEAD in log
    assert re.search(r"\n  3 +13 +13 +0 +0 +0 +0 +0 +0\n", log), log[-3000:]
    assert re.search(r"\n  2 +7 +1 +0 +0 +0 +7 +0 +2\n", log)
    assert "Failed by reason: column 2: blocked 1, http_404 1, moved 1" in log
    assert f"Output: {tmp_path / 'records.jsonl'} (14 records)" in log
    assert "Status: OK (exit 0)" in log


def test_new_updated_and_unchanged(tmp_path: Path):
    """A second run rechecks what the first delivered: one edited article is updated, the
    others unchanged; articles not fetched again because delivered count as unchanged too."""
    with DeliverySite(6) as site:
        first = run_crawl(site.root, f"columns={COLUMN}", tmp_path=tmp_path)
        assert first.returncode == 0, first.explain()
        assert report_of(first, tmp_path / "state")["accounting"]["new"] == 6
        site.edit(site.ids[2], "改过标题的稿件")
        again = run_crawl(site.root, f"columns={COLUMN}", "recheck_days=1", tmp_path=tmp_path)
        assert again.returncode == 0, again.explain()
        report = report_of(again, tmp_path / "state")
        assert report["accounting"] == {
            "discovered": 6, "exported": 1, "new": 0, "updated": 1, "unchanged": 5,
            "dropped": 0, "failed": 0, "pending": 0, "balanced": True,
        }  # fmt: skip
        assert report["columns"][COLUMN]["updated"] == 1
        assert [r["revision"] for r in again.records] == [2]
        # URL mode, one delivered article: not fetched, counted unchanged.
        hits = len(site.article_hits())
        url = site.article(site.ids[0]).url
        third = run_crawl(site.root, f"url={url}", tmp_path=tmp_path)
        assert third.returncode == 0, third.explain()
        assert len(site.article_hits()) == hits
        accounting = report_of(third, tmp_path / "state")["accounting"]
        assert (accounting["discovered"], accounting["unchanged"]) == (1, 1)
        assert report_of(third, tmp_path / "state")["columns"] == {
            "(urls)": {**_zero(), "discovered": 1, "unchanged": 1}
        }


def _zero() -> dict:
    return {
        "listed": 0, "list_pages": 0, "discovered": 0, "new": 0, "updated": 0, "unchanged": 0,
        "dropped": {}, "failed": {}, "pending": 0, "blocked": 0, "redirects_refused": 0,
        "list_failures": [],
    }  # fmt: skip


def test_ledger_puts_every_article_in_one_bucket():
    ledger = RunLedger(frozenset({"332"}))
    for ident, column in [("1", "3"), ("2", "3"), ("3", "332"), ("4", "332"), ("5", "3")]:
        ledger.discovered(ident, column)
    ledger.discovered("1", "332")  # found again elsewhere: still one article, of column 3
    record = {"title": "t", "published_at": "2021-04-10T23:49:51+08:00", "body": "b"}
    ledger.record({**record, "column": "3"})
    ledger.scraped("1", 1, record["published_at"])
    ledger.record({**record, "column": "332"})  # no byline in a byline column
    ledger.scraped("3", 2, "2021-04-09T08:00:00+08:00")
    ledger.failed("2", "not_article", "u")
    ledger.dropped("4", "no_title")
    stored = {
        "1": ("exported", None, 1, 0),
        "3": ("pending", None, 1, 0),
        "5": ("exported", None, 1, 0),
    }
    totals = ledger.close(stored.get, feeds_ok=True)
    assert totals.to_dict() == {
        "discovered": 5, "exported": 1, "new": 1, "updated": 0, "unchanged": 1, "dropped": 1,
        "failed": 1, "pending": 1, "balanced": True,
    }  # fmt: skip
    assert (ledger.pages_parsed, ledger.full_records, dict(ledger.missing)) == (3, 1, {"byline": 1})
    assert ledger.unreadable == {"not_article": 1}
    assert ledger.earliest.isoformat() == "2021-04-09T08:00:00+08:00"
    # Without a store, what went to the feeds is exported unless a feed failed.
    assert ledger.close(None, feeds_ok=False).pending == 3


def test_delivered_articles_count_as_unchanged_in_every_mode(site: SiteCopy, tmp_path: Path):
    """Skipped because an earlier run delivered them: unchanged, whether a list page (skipped
    by the spider) or a search answer (skipped by the delivery middleware) named them."""
    first = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    assert first.returncode == 0, first.explain()
    assert report_of(first, tmp_path / "state")["accounting"]["new"] == 13

    again = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    assert again.returncode == 0, again.explain()
    accounting = report_of(again, tmp_path / "state")["accounting"]
    # Pages 1 and 2 are read (the incremental stop): their ten articles, none fetched.
    assert again.stat("newsbot/skipped/delivered") == 12  # two of them listed twice
    assert (accounting["discovered"], accounting["unchanged"], accounting["exported"]) == (
        10, 10, 0,
    )  # fmt: skip
    assert accounting["balanced"]

    # 碳中和 names three column 3 articles (delivered) and five others.
    search = run_crawl(site.root, "query=碳中和", tmp_path=tmp_path)
    assert search.returncode == 0, search.explain()
    accounting = report_of(search, tmp_path / "state")["accounting"]
    assert search.stat("newsbot/skipped/delivered") == 3
    assert (accounting["discovered"], accounting["unchanged"], accounting["exported"]) == (
        8, 3, 5,
    )  # fmt: skip
