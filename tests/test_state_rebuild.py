"""``scrapy state rebuild`` is all or nothing (issue 13, item 3).

- A line of the delivered files that is not a record (an id that is not one, a revision, time,
  body or column of the wrong type, an id too long for the store, not JSON at all) is named by
  file, line and what is wrong; nothing is written, so the crawl still refuses to start rather
  than deliver those articles again. ``--skip-bad-lines`` rebuilds from the others.
- A rebuild killed with SIGKILL at any point leaves the old store or none (which a crawl
  refuses), never a partial one that looks whole; SQLite and Redis alike.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from newsbot.state.rebuild import BadLines, rebuild
from newsbot.state.store import DB_NAME, StateMissing, StateStore
from tests.deliverykit import ROOT, crawl_command, env, read_records, run, start, stop
from tests.distkit import Crawl, finish, logs, scrapy, worker
from testsite import DeliverySite
from testsite.delivery import COLUMN


def record(ident: str, revision: int = 1) -> dict:
    return {
        "url": f"https://www.nbd.com.cn/articles/2021-04-10/{ident}.html",
        "article_id": ident,
        "title": f"标题{ident}",
        "published_at": "2021-04-10T23:49:51+08:00",
        "body": f"正文{ident}" * 20,
        "column": "3",
        "revision": revision,
    }


def jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def history(path: Path, n: int, first: int = 1) -> Path:
    """A delivered file of ``n`` synthetic records (ids ``first``…): bulk to rebuild from."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(first, first + n):
            fh.write(json.dumps(record(str(i)), ensure_ascii=False) + "\n")
    return path


def exported(state: Path) -> int:
    db = sqlite3.connect(f"file:{state / DB_NAME}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM articles WHERE state = 1").fetchone()[0])
    finally:
        db.close()


def state_command(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "state", *args, "-s", f"NEWSBOT_STATE_DIR={state}"],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- lines that are not records ----------------------------------------------------------------

BAD_LINES = {
    "id not digits": ('{"article_id": "abc"}', "article_id is not an article id"),
    "revision text": (
        json.dumps({**record("9"), "revision": "two"}),
        "revision is not a whole number",
    ),
    "time a number": (
        json.dumps({**record("9"), "published_at": 5}),
        "published_at is not a time",
    ),
    "body a list": (json.dumps({**record("9"), "body": ["x"]}), "body is not text"),
    "column a list": (json.dumps({**record("9"), "column": ["3"]}), "column is not text"),
    "id of 23 digits": (
        json.dumps(record("1" * 23)),
        "article_id is not an article id (up to 18 digits",
    ),
    "not JSON": ('{"article_id": "9", "title": ', "not JSON"),
    "nested too deep": ("[" * 100_000 + "]" * 100_000, "not JSON"),
    "a list": ('["9"]', "not a JSON object"),
}


@pytest.mark.parametrize("case", list(BAD_LINES), ids=list(BAD_LINES))
def test_a_line_that_is_not_a_record_stops_the_rebuild_before_anything_is_written(
    tmp_path: Path, case: str
) -> None:
    line, reason = BAD_LINES[case]
    good = jsonl(tmp_path / "good.jsonl", [json.dumps(record(str(i))) for i in (1, 2, 3)])
    bad = jsonl(tmp_path / "bad.jsonl", [json.dumps(record("4")), line])
    state = tmp_path / "state"
    with pytest.raises(BadLines) as info:
        rebuild(state, [good, bad])
    assert f"bad.jsonl:2: {reason}" in str(info.value)
    assert "nothing was written" in str(info.value)
    assert not (state / DB_NAME).exists()
    # The directory was used (its lock is there): a crawl refuses to start on it.
    with pytest.raises(StateMissing):
        StateStore(state)

    # An existing store and --force: the old store stays as it was.
    rebuild(state, [good])
    with pytest.raises(BadLines):
        rebuild(state, [good, bad], force=True)
    assert exported(state) == 3
    assert not list(state.glob(f"{DB_NAME}.replaced-*"))

    # --skip-bad-lines: the others.
    report = rebuild(state, [good, bad], force=True, skip_bad_lines=True)
    assert (report.records, report.articles, len(report.bad_lines)) == (4, 4, 1)
    assert exported(state) == 4


@pytest.mark.process
def test_the_command_names_the_bad_lines_and_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    good = jsonl(tmp_path / "good.jsonl", [json.dumps(record(str(i))) for i in (1, 2)])
    bad = jsonl(
        tmp_path / "bad\nnewsbot: forged.jsonl",
        ['{"article_id": "abc"}', json.dumps({**record("7"), "revision": "two"})],
    )
    refused = state_command(state, "rebuild", str(good), str(bad))
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    (said,) = refused.stderr.strip().splitlines()  # one line, the file name escaped
    assert "2 lines are not newsbot records, so nothing was written" in said
    assert "bad\\nnewsbot: forged.jsonl:1: article_id is not an article id" in said
    assert "forged.jsonl:2: revision is not a whole number of at least 1" in said
    assert "--skip-bad-lines" in said
    assert not (state / DB_NAME).exists()

    skipped = state_command(state, "rebuild", "--skip-bad-lines", str(good), str(bad))
    assert skipped.returncode == 1, skipped.stderr
    assert "2 articles exported, from 2 records in 2 files" in skipped.stderr
    assert "2 lines were not records and were skipped" in skipped.stderr
    assert exported(state) == 2


# -- SIGKILL during a rebuild ------------------------------------------------------------------


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 120
) -> bool:
    """Poll until ``condition()`` holds (True) or the process ended first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    raise TimeoutError("the rebuild neither got there nor ended")


def loading(state: Path) -> bool:
    """The rebuild is writing its new store (a staging store with a WAL)."""
    return any(state.glob(f".rebuild-*/{DB_NAME}-wal"))


@pytest.mark.process
def test_a_rebuild_killed_while_writing_leaves_the_old_store_or_none(tmp_path: Path) -> None:
    """Crawl 6 articles, lose the store, rebuild from the delivered file and a long history,
    SIGKILL the rebuild while it writes: no store (the crawl refuses, delivers nothing), then
    a whole rebuild and a crawl that delivers nothing twice. With --force over a whole store,
    a killed rebuild leaves that store as it was."""
    out = tmp_path / "out"
    state = tmp_path / "state"
    big = history(tmp_path / "history.jsonl", 30_000, first=10_000_000)
    with DeliverySite(6) as site:
        cmd = crawl_command(site.root, state, "-o", f"{out}/articles.jsonl",
                            args={"columns": COLUMN})  # fmt: skip
        first = run(cmd, ROOT)
        assert first.returncode == 0, first.stderr[-3000:]
        assert sorted(r["article_id"] for r in read_records(out)) == sorted(site.ids)
        (state / DB_NAME).unlink()  # the store was lost
        delivered = str(out / "articles.jsonl")

        argv = [sys.executable, "-m", "scrapy", "state", "rebuild", delivered, str(big),
                "-s", f"NEWSBOT_STATE_DIR={state}"]  # fmt: skip
        proc = start(argv, ROOT, tmp_path / "rebuild-1.log")
        assert wait_for(lambda: loading(state), proc), (tmp_path / "rebuild-1.log").read_text()
        stop(proc)
        assert not (state / DB_NAME).exists()
        hits = len(site.hits)
        refused = run(cmd, ROOT)
        assert refused.returncode == 1
        assert "missing" in refused.stderr and "scrapy state rebuild" in refused.stderr
        assert len(site.hits) == hits  # nothing fetched

        done = run(argv, ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        assert exported(state) == 30_006
        assert not list(state.glob(".rebuild-*"))  # the killed one's staging is gone too

        # --force over a whole store, killed while writing: that store, untouched.
        proc = start([*argv[:5], "--force", *argv[5:]], ROOT, tmp_path / "rebuild-2.log")
        assert wait_for(lambda: loading(state), proc), (tmp_path / "rebuild-2.log").read_text()
        stop(proc)
        assert exported(state) == 30_006
        assert not list(state.glob(f"{DB_NAME}.replaced-*"))

        site.add(2)
        again = run(cmd, ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    ids = sorted(r["article_id"] for r in read_records(out))
    assert ids == sorted(site.ids)  # the two new ones added, nothing twice


@pytest.mark.process
@pytest.mark.slow
def test_sigkill_at_random_points_of_rebuilds(
    tmp_path: Path, slow_rounds: int, slow_seed: int
) -> None:
    """Rounds of ``scrapy state rebuild --force`` killed at a random moment: each time the store
    is the old whole one (an earlier round's) or the new whole one, or there is none; a store
    is never part of one. The last rebuild runs to the end."""
    rng = random.Random(slow_seed)
    why = f"(--slow-seed={slow_seed})"
    state = tmp_path / "state"
    files = [history(tmp_path / "a.jsonl", 8_000), history(tmp_path / "b.jsonl", 4_000, 8_001)]
    argv = [sys.executable, "-m", "scrapy", "state", "rebuild", "--force",
            *map(str, files), "-s", f"NEWSBOT_STATE_DIR={state}"]  # fmt: skip
    full = run(argv, ROOT, timeout=300)
    assert full.returncode == 0, full.stderr
    took = []
    for n in range(slow_rounds):
        began = time.monotonic()
        proc = start(argv, ROOT, tmp_path / f"round-{n}.log")
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is None:
            stop(proc)
        took.append(round(time.monotonic() - began, 2))
        if (state / DB_NAME).exists():
            assert exported(state) == 12_000, f"{why} killed after {took} s"
        else:
            with pytest.raises(StateMissing):
                StateStore(state)
    final = run(argv, ROOT, timeout=300)
    assert final.returncode == 0, final.stderr
    assert exported(state) == 12_000
    assert not list(state.glob(".rebuild-*")), why


# -- Redis --------------------------------------------------------------------------------------


@pytest.mark.process
def test_a_redis_rebuild_killed_half_way_is_refused_by_workers(
    crawl: Crawl, tmp_path: Path
) -> None:
    big = history(tmp_path / "history.jsonl", 30_000)
    settings = {"NEWSBOT_STATE_DIR": str(tmp_path / "state-w0"), **crawl.settings()}
    proc = scrapy(["state", "rebuild", str(big)], settings, tmp_path / "rebuild.log", wait=False)
    r = crawl.client()
    # Killed once the articles are in, while their texts and the marks are still being
    # written: a state that looks whole, and is not.
    assert wait_for(lambda: r.hlen(f"{crawl.prefix}:a") > 0, proc), logs(tmp_path, "rebuild")
    stop(proc)
    assert r.hexists(f"{crawl.prefix}:meta", "rebuilding"), logs(tmp_path, "rebuild")
    # A worker (on this machine or another) refuses the partial state, fetching nothing.
    w = worker(crawl, "http://127.0.0.1:9", tmp_path, "w0", "columns=9000")
    assert finish([w]) == [1], logs(tmp_path, "w0")
    said = logs(tmp_path, "w0")
    assert "is being rebuilt, or a rebuild started" in said
    # The rebuild to the end (--force: the state holds the killed one's part), then workers go.
    again = scrapy(["state", "rebuild", "--force", str(big)], settings, tmp_path / "again.log")
    assert again.returncode == 0, logs(tmp_path, "again")
    assert r.hget(f"{crawl.prefix}:counts", "exported") == "30000"
    assert not r.hexists(f"{crawl.prefix}:meta", "rebuilding")
