"""``scrapy state report``: the page of a known state directory, opened in a real headless
Chromium, shows the numbers the crawls left behind.

The state directory is made by crawling the local site copy three times with failures injected
(a column full of broken links; then the same with the default failure threshold, so the run
fails; then a column whose list page lists nothing). The expected numbers are not written in the
test: they come from what the crawls delivered (the records), the run reports and the
dead-letter file, and the page must agree with them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from newsbot.ops.history import collect, read_reports
from newsbot.ops.storeview import Window
from tests.browserkit import chromium, full_page_screenshot
from tests.crawlkit import PROJECT, run_crawl
from tests.opskit import reports
from testsite import Reply, SiteCopy

BEIJING = dt.timezone(dt.timedelta(hours=8))
EMPTY_LIST = (
    b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>x</title></head><body>"
    b"<div class='g-list-con'><ul class='u-news-list'></ul></div></body></html>"
)


def state_report(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "state", "report", *args,
         "-s", f"NEWSBOT_STATE_DIR={state}"],
        cwd=PROJECT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def known_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three crawls of the site copy into one state directory; what they delivered."""
    tmp = tmp_path_factory.mktemp("history")
    trap = SiteCopy("127.0.0.2", serve_site=False).start()
    site = SiteCopy(offsite_root=trap.root).start()
    try:
        records: list[dict[str, Any]] = []
        codes = []
        # 1. Column 3 (fine) and column 2 (broken links), the failure threshold raised: OK.
        first = run_crawl(site.root, "columns=3,2", tmp_path=tmp,
                          settings={"NEWSBOT_MAX_FAILED_SHARE": "0.5"})  # fmt: skip
        records += first.records
        codes.append(first.returncode)
        # 2. The same with the default threshold: the failures are retried, the run fails.
        second = run_crawl(site.root, "columns=3,2", tmp_path=tmp)
        records += second.records
        codes.append(second.returncode)
        # 3. Column 3's list page stops listing anything.
        site.route(r"/columns/3/?", lambda hit: Reply(200, EMPTY_LIST))
        third = run_crawl(site.root, "columns=3", tmp_path=tmp)
        records += third.records
        codes.append(third.returncode)
    finally:
        site.stop()
        trap.stop()
    state = tmp / "state"
    dead = [json.loads(line) for line in (state / "dead-letter.jsonl").read_text().splitlines()]
    return {
        "state": state,
        "records": records,
        "codes": codes,
        "reports": reports(state),
        "dead": dead,
        "logs": [first.explain(), second.explain(), third.explain()],
    }


def _dom(driver: Any) -> dict[str, Any]:
    """What the page shows, read from the DOM by the browser (textContent: details included)."""
    return driver.execute_script(
        """
        const text = (el) => el ? el.textContent.trim() : null;
        const tiles = {};
        document.querySelectorAll('[data-metric]').forEach(
            t => tiles[t.dataset.metric] = text(t.querySelector('b')));
        const table = (id) => Array.from(document.querySelectorAll(`#${id} tbody tr`)).map(tr => {
            const row = {_class: tr.className};
            tr.querySelectorAll('td').forEach(td => row[td.dataset.key] = text(td));
            return row;
        });
        return {
            title: document.title,
            tiles: tiles,
            runs: table('runs-table'),
            published: table('published-table'),
            reasons: table('reasons-table'),
            columns: table('columns-table'),
            dead: table('dead-letter-table'),
            deadCount: text(document.querySelector('#dead-letter-count')),
            svgs: document.querySelectorAll('svg').length,
            svgText: Array.from(document.querySelectorAll('svg text')).map(t => t.textContent),
            scripts: document.querySelectorAll('script').length,
            resources: performance.getEntriesByType('resource').length,
            external: Array.from(document.querySelectorAll('[src],[href]')).length,
        };
        """
    )


def _published_days(records: list[dict[str, Any]], column: str | None = None) -> Counter[str]:
    """Exported articles per Beijing publication day, from the delivered records."""
    latest = {r["article_id"]: r for r in records if column is None or r["column"] == column}
    return Counter(
        dt.datetime.fromisoformat(r["published_at"]).astimezone(BEIJING).date().isoformat()
        for r in latest.values()
    )


def test_report_in_a_browser_shows_the_crawls_numbers(known_state: dict[str, Any], tmp_path: Path):
    state, records, runs = known_state["state"], known_state["records"], known_state["reports"]
    # The crawls went as planned: OK, failed (too many failures), failed (empty list page).
    assert known_state["codes"] == [0, 1, 1], "\n".join(known_state["logs"])
    assert [r["status"] for r in runs] == ["ok", "failed", "failed"]
    # The runs follow each other within a second or two: their start times still tell them apart.
    started = [dt.datetime.fromisoformat(r["started_at"]) for r in runs]
    assert started == sorted(set(started)), started

    page = tmp_path / "report.html"
    done = state_report(state, "-o", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text("utf-8")
    # Nothing the browser could fetch: no script, and every reference is inside the page.
    assert "<script" not in html
    assert not re.search(r'(?:src|href)\s*=\s*"(?!#)|url\((?!#)|@import', html)

    with chromium() as driver:
        driver.get(page.as_uri())
        dom = _dom(driver)
        full_page_screenshot(driver, str(tmp_path / "report.png"))
        readme_shot = os.environ.get("NEWSBOT_REPORT_SCREENSHOT")
        if readme_shot:  # how the README's screenshot is made (see README: the history report)
            full_page_screenshot(driver, readme_shot)
    assert (tmp_path / "report.png").stat().st_size > 10_000

    # Self-contained: nothing loaded, no script, no link or source of any kind.
    assert dom["resources"] == 0 and dom["scripts"] == 0 and dom["external"] == 0
    assert dom["svgs"] == 3  # published, runs, failures/drops

    exported = {r["article_id"] for r in records}
    assert dom["tiles"]["exported"] == str(len(exported))
    assert dom["tiles"]["failed"] == str(len(known_state["dead"]))
    assert dom["tiles"]["runs"] == str(len(runs))
    assert dom["tiles"]["runs_failed"] == "2"
    assert dom["tiles"]["last_run"] == "failed"

    # Runs, newest first, with their reports' status, failure code and counts.
    assert [r["run"] for r in dom["runs"]] == [r["run_id"] for r in reversed(runs)]
    for row, report in zip(dom["runs"], reversed(runs), strict=True):
        assert row["status"] == report["status"]
        assert row["failure"] == ((report["failure"] or {}).get("code") or "")
        assert int(row["exported"]) == report["accounting"]["exported"]
        assert int(row["failed"]) == report["accounting"]["failed"]
        assert int(row["discovered"]) == report["accounting"]["discovered"]
        assert row["_class"] == ("failed" if report["status"] != "ok" else "")

    # Articles per publication day: the delivered records' days.
    shown = {r["day"]: int(r["total"]) for r in dom["published"]}
    assert shown == dict(_published_days(records))

    # The dead-letter list is the dead-letter file; reasons held now match it.
    assert {r["article"] for r in dom["dead"]} == {d["article_id"] for d in known_state["dead"]}
    for row in dom["dead"]:
        line = next(d for d in known_state["dead"] if d["article_id"] == row["article"])
        assert (row["reason"], int(row["attempts"]), row["column"]) == (
            line["reason"], line["attempts"], line["column"],
        )  # fmt: skip
    held = Counter(d["reason"] for d in known_state["dead"])
    store_reasons = {
        r["reason"]: int(r["store"]) for r in dom["reasons"] if r["outcome"] == "failed"
    }
    assert {k: v for k, v in store_reasons.items() if v} == dict(held)
    in_runs = Counter()
    for report in runs:
        for book in report["columns"].values():
            in_runs.update(book["failed"])
    assert {r["reason"]: int(r["runs"]) for r in dom["reasons"] if r["outcome"] == "failed"} == (
        dict(in_runs)
    )

    # Column 3's list page stopped giving articles in the last run: flagged; column 2 not.
    columns = {r["column"]: r for r in dom["columns"]}
    assert columns["3"]["_class"] == "stopped" and columns["3"]["dry_runs"] == "1"
    assert columns["3"]["listed_last"] == "0"
    assert columns["2"]["_class"] == "" and int(columns["2"]["listed_last"]) > 0
    assert columns["3"]["last_listing_run"] == runs[1]["run_id"]
    for name in ("2", "3"):
        assert int(columns[name]["exported"]) == len(
            {r["article_id"] for r in records if r["column"] == name}
        )
    # The charts' text is text: the column ids are in the legend.
    assert "3" in dom["svgText"] and "2" in dom["svgText"]


def test_report_narrowed_to_a_column_and_dates(known_state: dict[str, Any], tmp_path: Path):
    state, records = known_state["state"], known_state["records"]
    page = tmp_path / "column2.html"
    assert state_report(state, "-o", str(page), "--column", "2").returncode == 0
    days = sorted(_published_days(records))
    window = tmp_path / "window.html"
    since, until = days[1], days[-2]
    assert (
        state_report(state, "-o", str(window), "--since", since, "--until", until).returncode == 0
    )

    with chromium() as driver:
        driver.get(page.as_uri())
        column = _dom(driver)
        driver.get(window.as_uri())
        dated = _dom(driver)

    assert column["tiles"]["exported"] == str(
        len({r["article_id"] for r in records if r["column"] == "2"})
    )
    assert [r["column"] for r in column["columns"]] == ["2"]
    # The runs that had column 2 (the third retried its failed articles), its counts only.
    had = [r for r in known_state["reports"] if "2" in r["columns"]]
    assert [r["run"] for r in column["runs"]] == [r["run_id"] for r in reversed(had)]
    for row, report in zip(column["runs"], reversed(had), strict=True):
        book = report["columns"]["2"]
        assert row["exported"] == str(book["new"] + book["updated"])
        assert row["failed"] == str(sum(book["failed"].values()))
        assert row["discovered"] == str(book["discovered"])
    assert {r["day"]: int(r["total"]) for r in column["published"]} == dict(
        _published_days(records, "2")
    )

    # A window of publication days: only those days; the runs (made today) are outside it.
    expected = {d: n for d, n in _published_days(records).items() if since <= d <= until}
    assert {r["day"]: int(r["total"]) for r in dated["published"]} == expected
    assert dated["tiles"]["exported"] == str(sum(expected.values()))
    assert dated["runs"] == [] and dated["tiles"]["runs"] == "0"


def test_report_reads_the_warnings_other_versions_add(known_state: dict[str, Any], tmp_path: Path):
    """``boilerplate_candidates``, ``time_disagreements`` and ``redirects_refused`` (keys of
    newer run reports) are shown when a report has them."""
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)
    report = dict(known_state["reports"][0])
    report["boilerplate_candidates"] = [
        {"text": "本文仅供参考，不构成投资建议", "articles": 9, "of": 13}
    ]
    report["time_disagreements"] = [
        {"article_id": "1700701", "url": "https://www.nbd.com.cn/articles/2021-04-07/1700701.html",
         "visible": "2021-04-07T10:00:00+08:00", "other": "2021-04-06T10:00:00+08:00",
         "other_source": "json-ld"},
    ]  # fmt: skip
    report["columns"] = {k: dict(v) for k, v in report["columns"].items()}
    report["columns"]["2"]["redirects_refused"] = 3
    (state / "runs" / f"{report['run_id']}.json").write_text(json.dumps(report), "utf-8")
    (state / "runs" / "20260101T000000Z-broken.json").write_text("{not json", "utf-8")
    page = tmp_path / "r.html"
    done = state_report(state, "-o", str(page))
    assert done.returncode == 0, done.stderr
    with chromium() as driver:
        driver.get(page.as_uri())
        found = driver.execute_script(
            """
            const cells = (id) => Array.from(document.querySelectorAll(`#${id} td`))
                .map(td => td.textContent);
            return {boiler: cells('boilerplate-table'), times: cells('disagreements-table'),
                    columns: cells('columns-table'), body: document.body.textContent};
            """
        )
    assert found["boiler"][:3] == ["本文仅供参考，不构成投资建议", "9", "13"]
    assert found["times"][0] == "1700701" and "json-ld" in found["times"]
    assert "3" in found["columns"]
    # No store in this directory and one file that is not a report: both said, nothing lost.
    assert "there is no state store" in found["body"]
    assert "20260101T000000Z-broken.json" in found["body"]


def test_runs_in_one_second_keep_the_order_they_ran(tmp_path: Path):
    """Run ids name whole seconds and end in a random part; the history orders by the reports'
    start times, which keep milliseconds, so a run started in the same second as the one before
    is still the later one (its column verdict is the one that counts). Times are compared as
    times, whatever offset or precision a report was written with."""
    runs = tmp_path / "runs"
    runs.mkdir()
    listed = {"list_pages": 1, "listed": 4}
    written = [  # (file name, started_at, column 3's book), in the order they ran
        ("20261202T171525Z-zzzzzz", "2026-12-03T01:15:25+08:00", listed),  # another writer
        ("20261202T171526Z-ffffff", "2026-12-02T17:15:26.040+00:00", listed),
        ("20261202T171526Z-000000", "2026-12-02T17:15:26.910+00:00", {"list_pages": 1}),
    ]
    for name, started, book in written:
        report = {"run_id": name, "started_at": started, "finished_at": started,
                  "status": "ok", "columns": {"3": book}}  # fmt: skip
        (runs / f"{name}.json").write_text(json.dumps(report), "utf-8")
    found, bad = read_reports(runs, Window())
    assert bad == []
    assert [r["run_id"] for r in found] == [name for name, _, _ in written]
    health = collect(tmp_path, Window(), read_store=False).columns["3"]
    assert health.dry_runs == 1 and health.stopped


def test_report_refuses_bad_options(tmp_path: Path):
    (tmp_path / "state").mkdir()
    bad = state_report(tmp_path / "state", "--since", "2021-13-01")
    assert bad.returncode == 2 and "--since '2021-13-01' is not a date" in bad.stderr
    backwards = state_report(tmp_path / "state", "--since", "2021-05-01", "--until", "2021-04-01")
    assert backwards.returncode == 2 and "is after --until" in backwards.stderr
    missing = state_report(tmp_path / "nowhere")
    assert missing.returncode == 1 and "there is no state directory" in missing.stderr


def test_the_benchmark_runs_on_a_small_store():
    """benchmarks/history_report.py still works (its numbers go in the README, not here)."""
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "history_report.py"),
         "--ids", "3000", "--runs", "30"],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for step in ("store (3,000 articles)", "runs (30 reports)", "page (charts + HTML)",
                 "command, everything", "command, 1 column, 1 year"):  # fmt: skip
        row = re.search(rf"{re.escape(step)} \|\s+(\d+\.\d{{3}})$", done.stdout, re.M)
        assert row and float(row[1]) >= 0, done.stdout


def test_the_page_goes_to_the_current_directory_not_into_the_state(tmp_path: Path):
    """A page in a state directory that has no store yet would make the first crawl refuse
    it as "used before": by default the page goes to ./newsbot-report.html."""
    state = tmp_path / "state"
    state.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "state", "report", "-s", f"NEWSBOT_STATE_DIR={state}"],
        cwd=work, capture_output=True, text=True, timeout=120,
        env={**os.environ, "SCRAPY_SETTINGS_MODULE": "newsbot.settings",
             "PYTHONPATH": str(PROJECT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (work / "newsbot-report.html").is_file()
    assert list(state.iterdir()) == []
