"""A state store locked by another process (issue 13, item 8): busy is not corrupt.

A real second SQLite connection (another process, as a backup tool or a ``sqlite3`` shell
would be) holds the store: an ordinary write lock (``BEGIN IMMEDIATE``) or an exclusive one.
The crawl waits ``NEWSBOT_STATE_BUSY_TIMEOUT`` for it, then stops at start, before fetching
anything, with ``state_failed`` and words that say what is going on: no advice to rebuild a
healthy store, no traceback storm. Once the other process lets go, the next run delivers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deliverykit import ROOT, crawl_command, read_records, run
from tests.faultkit import ledger
from testsite import DeliverySite
from testsite.delivery import COLUMN

pytestmark = pytest.mark.process

#: Holds a lock on the store until stdin closes: ``BEGIN IMMEDIATE`` (a write lock, readers
#: still read) or, with ``exclusive``, ``PRAGMA locking_mode=EXCLUSIVE`` and a write.
HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive":
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("BEGIN EXCLUSIVE")
else:
    db.execute("BEGIN IMMEDIATE")
db.execute("INSERT OR REPLACE INTO meta VALUES ('held_by_test', '1')")
print("held", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
db.close()
"""


def hold(store: Path, how: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(30) == 0


@pytest.mark.parametrize("how", ["immediate", "exclusive"])
def test_a_store_locked_by_another_process_stops_the_run_at_start(tmp_path: Path, how: str) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    outputs = ["-o", f"{out}/%(time)s.jsonl"]
    with DeliverySite(6) as site:
        first = run(crawl_command(site.root, state, *outputs,
                                  args={"columns": COLUMN, "max_articles": "2"}), ROOT)  # fmt: skip
        assert first.returncode == 0, first.stderr[-3000:]
        holder = hold(state / "state.sqlite3", how)
        try:
            hits = len(site.hits)
            began = time.monotonic()
            wait = {"NEWSBOT_STATE_BUSY_TIMEOUT": "2"}
            cmd = crawl_command(site.root, state, *outputs, args={"columns": COLUMN}, settings=wait)
            busy = run(cmd, ROOT)
            took = time.monotonic() - began
        finally:
            release(holder)
        said = busy.stderr
        assert busy.returncode == 1, said[-3000:]
        assert len(site.hits) == hits, said[-3000:]  # nothing fetched
        last = said.strip().splitlines()[-1]
        assert "Run failed: state_failed: state store" in last, said[-3000:]
        assert "is busy: another process holds a lock on it" in last, last
        assert "waited 2 s (NEWSBOT_STATE_BUSY_TIMEOUT)" in last, last
        assert "not damaged" in last
        assert "unreadable" not in said and "scrapy state rebuild" not in said
        assert said.count("Traceback") <= 1, said[-3000:]
        assert took < 60
        # Released: the next run delivers everything, once.
        again = run(crawl_command(site.root, state, *outputs, args={"columns": COLUMN}), ROOT)
        assert again.returncode == 0, again.stderr[-3000:]
        assert sorted(r["article_id"] for r in read_records(out)) == sorted(site.ids)
        assert ledger(state) == dict.fromkeys(site.ids, "exported")


def test_a_lock_released_within_the_wait_costs_only_the_wait(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    outputs = ["-o", f"{out}/%(time)s.jsonl"]
    with DeliverySite(4) as site:
        first = run(crawl_command(site.root, state, *outputs,
                                  args={"columns": COLUMN, "max_articles": "1"}), ROOT)  # fmt: skip
        assert first.returncode == 0, first.stderr[-3000:]
        holder = hold(state / "state.sqlite3", "immediate")
        wait = {"NEWSBOT_STATE_BUSY_TIMEOUT": "60"}
        cmd = crawl_command(site.root, state, *outputs, args={"columns": COLUMN}, settings=wait)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(2)  # the run is waiting for the lock
        assert proc.poll() is None
        release(holder)
        log, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, log.decode()[-3000:]
    assert sorted(r["article_id"] for r in read_records(out)) == sorted(site.ids)


def test_a_lock_taken_mid_run_stops_the_run_with_state_failed(tmp_path: Path) -> None:
    """The lock comes while the run is fetching: its next write waits, then the run fails
    (state_failed) and stops; what it did not record is delivered by the next run."""
    state, out = tmp_path / "state", tmp_path / "out"
    outputs = ["-o", f"{out}/%(time)s.jsonl"]
    with DeliverySite(12) as site:
        first = run(crawl_command(site.root, state, *outputs,
                                  args={"columns": COLUMN, "max_articles": "1"}), ROOT)  # fmt: skip
        assert first.returncode == 0, first.stderr[-3000:]
        site.hold_after(3)
        settings = {"NEWSBOT_STATE_BUSY_TIMEOUT": "1", "NEWSBOT_STATE_BATCH_SIZE": "1"}
        cmd = crawl_command(site.root, state, *outputs, args={"columns": COLUMN},
                            settings=settings)  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        site.wait_served(3)
        holder = hold(state / "state.sqlite3", "immediate")
        try:
            site.release()
            log_bytes, _ = proc.communicate(timeout=120)
        finally:
            release(holder)
        log = log_bytes.decode()
        assert proc.returncode == 1, log[-3000:]
        last = log.strip().splitlines()[-1]
        assert "Run failed: state_failed: state store" in last and "is busy" in last, last
        assert log.count("Traceback") <= 3, log[-5000:]
        again = run(crawl_command(site.root, state, *outputs, args={"columns": COLUMN}), ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(r["article_id"] for r in read_records(out)) == sorted(site.ids)
    assert ledger(state) == dict.fromkeys(site.ids, "exported")
