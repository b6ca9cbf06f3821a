"""The SQLite store's fixed cost per run: a light check at every open, the full one on demand or
on a schedule, and totals kept as they change (newsbot/state/integrity.py, issue 17).

No timings here (benchmarks/fixed_cost.py prints them): these check what each check catches and
that the totals never drift from the rows.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsbot.state.errors import StateCorrupt
from newsbot.state.model import Delivery, PublishEntry
from newsbot.state.store import DB_NAME, SCHEMA_VERSION, StateStore
from tests.deliverykit import ROOT, env


def grouped(directory: Path) -> dict[str, int]:
    """Articles per state counted from the rows themselves, by plain sqlite3."""
    names = {0: "pending", 1: "exported", 2: "dropped", 3: "failed"}
    out = dict.fromkeys(names.values(), 0)
    with sqlite3.connect(directory / DB_NAME) as conn:
        for state, n in conn.execute("SELECT state, count(*) FROM articles GROUP BY state"):
            out[names[state]] = n
    return out


def store_with(directory: Path, n: int) -> None:
    with StateStore(directory) as store:
        for i in range(1, n + 1):
            store.discovered(str(i), url_date="2026-01-01", column="3")
        store.commit()
        store.checkpoint()


def middle_leaf(directory: Path) -> int:
    """A leaf page of the articles table far from both ends (what a run rarely reads)."""
    with sqlite3.connect(directory / DB_NAME) as conn:
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'articles' AND pagetype = 'leaf'"
                " ORDER BY path"
            )
        ]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    assert len(pages) > 20, pages
    return (pages[len(pages) // 2] - 1) * page_size


def damage_middle(directory: Path) -> None:
    offset = middle_leaf(directory)
    with (directory / DB_NAME).open("r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * 4096)


def state_command(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "state", *args, "-s", f"NEWSBOT_STATE_DIR={directory}"],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_totals_follow_every_transition(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    with StateStore(directory) as store:
        for i in range(1, 11):
            store.discovered(str(i))
        store.failed("1", "http_404")
        store.failed("1", "http_404")  # failed again: still one failed article
        store.failed("20", "timeout")  # never discovered: inserted as failed
        store.dropped("2", "no_title")
        store.dropped("21", "no_body")
        temp = tmp_path / ".out.tmp"
        temp.write_text("x\n")
        store.register_temp(str(temp))
        st = temp.stat()
        deliveries = [Delivery(i, b"\0" * 16, 1) for i in ("1", "3", "4", "22")]
        entry = PublishEntry(str(temp), str(tmp_path / "out.jsonl"), st.st_dev, st.st_ino, 2)
        entry.deliveries = deliveries
        token = store.begin_publish([entry])
        store.finish_publish(token, [entry])
        store.dropped("3", "no_title")  # an exported article stays exported
        store.bulk_exported([(Delivery("5", b"\1" * 16, 1), "x.jsonl")])
        store.commit()
        assert store.counts() == grouped(directory)
        assert store.counts() == {"pending": 5, "exported": 5, "dropped": 2, "failed": 1}


def test_a_version_1_store_gets_its_totals_counted_once(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store_with(directory, 30)
    with StateStore(directory) as store:
        store.failed("7", "timeout")
    with sqlite3.connect(directory / DB_NAME) as conn:  # the store as newsbot 1 left it
        for trigger in ("totals_insert", "totals_delete", "totals_update"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE totals")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with StateStore(directory) as store:
        assert store.counts() == {"pending": 29, "exported": 0, "dropped": 0, "failed": 1}
        store.discovered("31")
        assert store.counts()["pending"] == 30
    with sqlite3.connect(directory / DB_NAME) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)
    assert grouped(directory)["pending"] == 30


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:8192]), "truncated", id="truncated"),
        pytest.param(
            lambda p: p.write_bytes(b"\0" * 100 + p.read_bytes()[100:]), "header", id="header"
        ),
    ],
)
def test_the_light_check_refuses_a_cut_or_unreadable_file(
    tmp_path: Path, damage: object, says: str
) -> None:
    directory = tmp_path / "s"
    store_with(directory, 3000)
    damage(directory / DB_NAME)  # type: ignore[operator]
    with pytest.raises(StateCorrupt, match=f"(?s){says}.*scrapy state rebuild"):
        StateStore(directory)


@pytest.mark.process
def test_a_damaged_page_in_the_middle_needs_the_full_check(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store_with(directory, 20000)
    damage_middle(directory)
    before = (directory / DB_NAME).read_bytes()

    # A run's light check reads both ends of each table, not the middle: it opens ...
    with StateStore(directory, full_check_days=7) as store:
        assert store.state_of("20000") == "pending" and store.state_of("1") == "pending"
    # ... but the full check, asked for or at open, refuses it with the advice.
    done = state_command(directory, "check")
    assert done.returncode == 1, done.stderr
    assert "damaged" in done.stderr and "scrapy state rebuild" in done.stderr, done.stderr
    with pytest.raises(StateCorrupt, match="scrapy state rebuild"):
        StateStore(directory, check="quick")
    assert (directory / DB_NAME).read_bytes() == before  # refused, not touched


def test_the_scheduled_full_check_runs_when_the_last_one_is_old(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store_with(directory, 20000)
    long_ago = str(int(time.time()) - 8 * 86400)
    with sqlite3.connect(directory / DB_NAME) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'checked_at'", (long_ago,))
    # Sound store, check due: it runs, passes and is recorded.
    StateStore(directory, full_check_days=7).close()
    with sqlite3.connect(directory / DB_NAME) as conn:
        (checked,) = conn.execute("SELECT value FROM meta WHERE key = 'checked_at'").fetchone()
    assert int(checked) > int(long_ago) + 7 * 86400

    damage_middle(directory)
    StateStore(directory, full_check_days=7).close()  # checked a moment ago: not due
    with sqlite3.connect(directory / DB_NAME) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'checked_at'", (long_ago,))
    with pytest.raises(StateCorrupt, match="scrapy state rebuild"):
        StateStore(directory, full_check_days=7)


@pytest.mark.process
def test_state_check_says_ok_of_a_sound_store(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store_with(directory, 50)
    for args in (("check",), ("check", "--full")):
        done = state_command(directory, *args)
        assert done.returncode == 0, done.stderr
        assert f"{directory / DB_NAME}: ok" in done.stderr
    assert not os.path.exists(directory / "dead-letter.jsonl")
