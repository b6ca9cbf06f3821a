"""Process faults: signals during a slow response, SIGKILL at random points, a state store on a
full disk, outputs and state on read-only filesystems.

Each test runs ``scrapy crawl nbd`` in a subprocess as cron would, then checks the records
published (every article exactly once after the rerun), the accounting in the state store and
the exit status. (tests/test_delivery_e2e.py covers SIGKILL after the n-th article, SIGINT and
SIGTERM while responses are held, and a full disk under the output files.)
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deliverykit import (
    ROOT,
    crawl_command,
    fill,
    read_records,
    run,
    small_filesystem,
    start,
    stop,
)
from tests.faultkit import FAULT_SETTINGS, PLAIN_IDS, ledger
from testsite import DeliverySite, HangAfterHeaders, Normal, SiteCopy
from testsite.delivery import COLUMN


def assert_exactly_once(out: Path, expected: list[str], why: str = "") -> None:
    got = sorted(r["article_id"] for r in read_records(out))
    twice = sorted({i for i in got if got.count(i) > 1})
    assert not twice, f"delivered more than once: {twice} {why}"
    assert got == sorted(expected), f"missing: {sorted(set(expected) - set(got))} {why}"


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


@contextlib.contextmanager
def read_only_filesystem(path: Path) -> Iterator[Path]:
    """A read-only tmpfs at ``path`` (root only, like small_filesystem: skipped elsewhere, a
    failure in CI)."""
    with small_filesystem(path, size_kb=64):
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path


# -- signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_hung_response_stops_within_the_download_timeout(
    tmp_path: Path, sig: int
) -> None:
    """One article's server sends its headers and then nothing. A signal stops the run within
    DOWNLOAD_TIMEOUT (Scrapy's graceful shutdown waits for downloads in flight, and that one
    ends at the timeout); the article is left for the next run, which delivers it."""
    timeout = 2
    ids = list(PLAIN_IDS[:5])
    hung = ids[0]
    with SiteCopy(keep_alive=False) as server:
        path = server.articles[hung].path
        server.plan(re.escape(path), HangAfterHeaders())
        out = ["-o", f"{tmp_path / 'out'}/%(time)s.jsonl"]
        urls = ",".join(server.articles[i].url for i in ids)
        settings = {**FAULT_SETTINGS, "DOWNLOAD_TIMEOUT": str(timeout), "RETRY_TIMES": "1"}
        cmd = crawl_command(server.root, tmp_path / "state", *out, args={"url": urls},
                            settings=settings)  # fmt: skip
        proc = start(cmd, ROOT, tmp_path / "first.log")
        try:
            assert server.wait_hits(1 + len(ids), timeout=30)
            time.sleep(0.3)  # the others are whole; the hung one is waiting for its body
            assert proc.poll() is None
            signalled = time.monotonic()
            proc.send_signal(sig)
            code = proc.wait(timeout + 30)
            took = time.monotonic() - signalled
        finally:
            if proc.poll() is None:
                stop(proc)
        log = (tmp_path / "first.log").read_text()
        assert took < timeout + 2.5, f"took {took:.1f} s to stop\n{log[-3000:]}"
        assert "Closing spider (shutdown)" in log
        assert "Traceback" not in log
        assert server.count(path) == 1  # not retried while shutting down
        first = ledger(tmp_path / "state")
        assert first == {**dict.fromkeys(ids[1:], "exported"), hung: first[hung]}
        assert first[hung] in ("pending", "failed:timeout")
        assert_exactly_once(tmp_path / "out", ids[1:])
        # Interrupted, with an article not delivered: the run did not do its job.
        assert code == 1, log[-3000:]

        server.plan(re.escape(path), Normal())
        again = run(cmd, ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert_exactly_once(tmp_path / "out", ids)
    assert ledger(tmp_path / "state") == dict.fromkeys(ids, "exported")


# -- SIGKILL ---------------------------------------------------------------------------------


def consume(out: Path, consumed: Path, n: int) -> None:
    """What a consumer of the output does between runs: move the published files away
    (``mv out/*.jsonl consumed/``, logrotate). ``consumed`` is inside ``out``, so the final
    count reads every file ever published."""
    consumed.mkdir(parents=True, exist_ok=True)
    for path in sorted(out.glob("*.jsonl")):
        if not path.name.startswith("."):
            path.rename(consumed / f"round-{n}-{path.name}")


@pytest.mark.slow
@pytest.mark.parametrize(
    "output", ["file-per-run", "append", "overwrite-consumed", "file-per-run-consumed"]
)
def test_sigkill_at_random_points_then_a_rerun_delivers_each_article_once(
    tmp_path: Path, slow_rounds: int, slow_seed: int, output: str
) -> None:
    """Rounds of: (sometimes new articles appear,) a crawl starts and is killed with SIGKILL at
    a random point: while starting, reading lists, fetching, writing or publishing. Then one
    crawl runs to the end: every article is in the published files exactly once, and the store
    says exported for each. In the ``-consumed`` modes a consumer moves the published files
    away after every round (so a kill between a rename and its mark meets a target that is
    gone), ``overwrite`` is ``-O``. ``--slow-rounds=20`` runs twenty rounds; a failure names
    the seed (``--slow-seed``) that replays it."""
    rng = random.Random(slow_seed)
    why = f"(--slow-seed={slow_seed}, output {output})"
    out = tmp_path / "out"
    consumed = out / "consumed"
    if output == "append":
        outputs = ["-o", f"{out}/articles.jsonl"]
    elif output == "overwrite-consumed":
        outputs = ["-O", f"{out}/articles.jsonl"]
    else:
        outputs = ["-o", f"{out}/%(time)s-%(batch_id)d.jsonl", "-s",
                   "FEED_EXPORT_BATCH_ITEM_COUNT=3"]  # fmt: skip
    kills = []
    with DeliverySite(9) as site:
        for n in range(slow_rounds):
            if n % 3 == 1:
                site.add(2)
            cmd = crawl_command(site.root, tmp_path / "state", *outputs, args={"columns": COLUMN})
            before = len(site.hits)
            proc = start(cmd, ROOT, tmp_path / f"round-{n}.log")
            # A random number of requests in (up to about a whole run's), then a random pause.
            target = before + rng.randint(0, len(site.ids) + 6)
            while len(site.hits) < target and proc.poll() is None:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.5))
            if proc.poll() is None:
                stop(proc, signal.SIGKILL)
                kills.append(len(site.hits) - before)
            else:
                kills.append(-1)  # it finished first
            read_records(out)  # whatever was published is whole: no torn file, no torn line
            if output.endswith("-consumed"):
                consume(out, consumed, n)
        final = run(crawl_command(site.root, tmp_path / "state", *outputs,
                                  args={"columns": COLUMN}), ROOT)  # fmt: skip
        assert final.returncode == 0, f"{why} kills after {kills} requests\n{final.stderr[-3000:]}"
        assert_exactly_once(out, site.ids, f"{why} kills after {kills} requests")
        assert ledger(tmp_path / "state") == dict.fromkeys(site.ids, "exported"), why
        leftovers = [p.name for p in out.rglob(".*") if p.name.endswith(".tmp")]
        assert leftovers == [], why


# -- full and read-only filesystems ----------------------------------------------------------


def test_a_state_store_on_a_full_disk_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=256) as disk, DeliverySite(8) as site:
        state, out = disk / "state", tmp_path / "out"
        outputs = ["-o", f"{out}/%(time)s.jsonl"]
        first = run(crawl_command(site.root, state, *outputs,
                                  args={"columns": COLUMN, "max_articles": "3"}), ROOT)  # fmt: skip
        assert first.returncode == 0, first.stderr[-3000:]
        fill(disk, leave_bytes=0)
        hits = len(site.hits)
        full = run(crawl_command(site.root, state, *outputs, args={"columns": COLUMN}), ROOT)
        assert full.returncode == 1
        assert len(site.hits) == hits  # nothing fetched
        said = full.stderr
        assert "cannot be used" in said and "0 bytes free" in said, said[-3000:]
        # A full disk is not a damaged store: no advice to rebuild or replace it.
        assert "scrapy state rebuild" not in said
        assert (state / "state.sqlite3").exists()

        (disk / "filler.bin").unlink()
        last = run(crawl_command(site.root, state, *outputs, args={"columns": COLUMN}), ROOT)
        assert last.returncode == 0, last.stderr[-3000:]
        assert_exactly_once(out, site.ids)
        assert ledger(state) == dict.fromkeys(site.ids, "exported")


def test_a_state_store_filling_its_disk_mid_run_stops_the_run(tmp_path: Path) -> None:
    """The disk under the store fills while the crawl runs: the run fails with the store's
    reason and stops instead of fetching pages it can no longer account for; with room again,
    the next run delivers every article once."""
    with small_filesystem(tmp_path / "disk", size_kb=512) as disk, DeliverySite(40) as site:
        state, out = disk / "state", tmp_path / "out"
        outputs = ["-o", f"{out}/%(time)s.jsonl"]
        first = run(crawl_command(site.root, state, *outputs,
                                  args={"columns": COLUMN, "max_articles": "3"}), ROOT)  # fmt: skip
        assert first.returncode == 0, first.stderr[-3000:]
        site.hold_after(4)
        # One commit per write, so the first write after the disk fills fails at once.
        cmd = crawl_command(site.root, state, *outputs, args={"columns": COLUMN},
                            settings={"NEWSBOT_STATE_BATCH_SIZE": "1",
                                      "CONCURRENT_REQUESTS": "2"})  # fmt: skip
        proc = start(cmd, ROOT, tmp_path / "second.log")
        try:
            site.wait_served(4)
            time.sleep(0.3)
            fill(disk, leave_bytes=0)
            site.release()
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                stop(proc)
        log = (tmp_path / "second.log").read_text()
        assert code == 1, log[-3000:]
        assert "Run failed: state_failed: state store in" in last_line(log), log[-3000:]
        assert "database or disk is full" in last_line(log)
        fetched = len(site.article_hits())
        assert fetched < 3 + 20, f"kept fetching after the store failed: {fetched} pages"

        (disk / "filler.bin").unlink()
        # Default batching now: a commit per write lets SQLite's WAL grow by a few pages per
        # article until its checkpoint at 1,000 pages (4 MiB), more than this disk holds.
        last = run(crawl_command(site.root, state, *outputs, args={"columns": COLUMN}), ROOT)
        assert last.returncode == 0, last.stderr[-3000:]
        assert_exactly_once(out, site.ids)
        assert ledger(state) == dict.fromkeys(site.ids, "exported")


@pytest.mark.parametrize("target", ["out/articles.jsonl", "%(name)s-%(time)s.jsonl", "blog:hexo"])
def test_a_read_only_output_directory_is_refused_at_start(tmp_path: Path, target: str) -> None:
    with read_only_filesystem(tmp_path / "ro") as ro, DeliverySite(4) as site:
        done = run(crawl_command(site.root, tmp_path / "state", "-o", f"{ro}/{target}",
                                 args={"columns": COLUMN}), ROOT)  # fmt: skip
        assert site.hits == []  # not even robots.txt
    assert done.returncode == 1
    line = last_line(done.stderr)
    assert "feed_refused" in line or "FeedTargetError" in line, done.stderr[-3000:]
    assert f"{ro} is on a read-only filesystem" in line
    assert not (tmp_path / "state" / "state.sqlite3").exists() or ledger(tmp_path / "state") == {}


def test_a_read_only_state_directory_is_refused_at_start(tmp_path: Path) -> None:
    with read_only_filesystem(tmp_path / "ro") as ro, DeliverySite(4) as site:
        done = run(crawl_command(site.root, ro / "state", "-o", f"{tmp_path}/a.jsonl",
                                 args={"columns": COLUMN}), ROOT)  # fmt: skip
        assert site.hits == []
    assert done.returncode == 1
    said = done.stderr
    assert f"state store in {ro}/state cannot be used: Read-only file system" in said, said[-3000:]
    assert "scrapy state rebuild" not in said
    assert not (tmp_path / "a.jsonl").exists()
