"""The dead-letter list and ``-a retry_failed=1``, end to end against the local site copy: a
replay fetches just the failed articles (no list page, nothing else), and a success empties
the list."""

from __future__ import annotations

import json
from pathlib import Path

from tests.crawlkit import run_crawl
from tests.opskit import assert_failed, report_of
from testsite import Hit, Reply, SiteCopy

BROKEN = {"1700502": "2021-04-05", "1700401": "2021-04-04"}


def dead_letter(state: Path) -> dict[str, dict]:
    lines = (state / "dead-letter.jsonl").read_text("utf-8").splitlines()
    return {d["article_id"]: d for d in map(json.loads, lines)}


def test_retry_failed_replays_just_the_dead_letter_list(site: SiteCopy, tmp_path: Path):
    state = tmp_path / "state"
    broken = {"on": True}

    def fail(hit: Hit) -> Reply | None:
        return Reply(500, b"broken") if broken["on"] else None

    for ident, day in BROKEN.items():
        site.route(rf"/articles/{day}/{ident}\.html", fail)
    relaxed = {"RETRY_TIMES": "0", "NEWSBOT_MAX_FAILED_SHARE": "0.5"}

    first = run_crawl(site.root, "columns=3", tmp_path=tmp_path, settings=relaxed)
    assert first.returncode == 0, first.explain()
    assert len(first.records) == 11
    dead = dead_letter(state)
    assert sorted(dead) == sorted(BROKEN)
    assert {d["reason"] for d in dead.values()} == {"http_500"}
    assert {d["attempts"] for d in dead.values()} == {1}
    assert dead["1700502"]["url"] == "https://www.nbd.com.cn/articles/2021-04-05/1700502.html"

    # Still broken: the replay asks for those two pages only, and they fail again.
    seen = len(site.hits)
    second = run_crawl(site.root, "columns=3", "retry_failed=1", tmp_path=tmp_path,
                       settings={"RETRY_TIMES": "0"})  # fmt: skip
    assert_failed(second, "too_many_failures")
    asked = [h.path for h in site.hits[seen:]]
    assert sorted(asked) == sorted(
        ["/robots.txt"] + [f"/articles/{d}/{i}.html" for i, d in BROKEN.items()]
    )
    assert {d["attempts"] for d in dead_letter(state).values()} == {2}
    assert "retry_failed=1: fetching the 2 articles of the dead-letter list" in second.log

    # Repaired: the replay delivers them and empties the list.
    broken["on"] = False
    seen = len(site.hits)
    third = run_crawl(site.root, "retry_failed=1", tmp_path=tmp_path)
    assert third.returncode == 0, third.explain()
    assert sorted(third.ids()) == sorted(BROKEN)
    assert sorted(h.path for h in site.hits[seen:] if h.path != "/robots.txt") == sorted(
        f"/articles/{d}/{i}.html" for i, d in BROKEN.items()
    )
    assert dead_letter(state) == {}
    report = report_of(third, state)
    assert report["accounting"]["new"] == 2 and report["dead_letter"]["count"] == 0
    assert report["columns"]["3"]["new"] == 2  # the replayed articles keep their column

    # Nothing left to replay: nothing is fetched, and that is not a failure.
    seen = len(site.hits)
    fourth = run_crawl(site.root, "retry_failed=1", tmp_path=tmp_path)
    assert fourth.returncode == 0, fourth.explain()
    assert site.hits[seen:] == []
    assert report_of(fourth, state)["accounting"]["discovered"] == 0


def test_retry_failed_needs_the_state_store(site: SiteCopy, tmp_path: Path):
    result = run_crawl(
        site.root, "retry_failed=1", tmp_path=tmp_path, settings={"NEWSBOT_STATE_ENABLED": "0"}
    )
    line = assert_failed(result, "retry_failed_without_state")
    assert "NEWSBOT_STATE_ENABLED" in line
    assert site.hits == []
