"""The state store on real files: states, lock, refusal to recreate, crash recovery, rebuild."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from newsbot.state.errors import StateCorrupt, StateError, StateLocked, StateMissing
from newsbot.state.files import LOCK_NAME
from newsbot.state.fingerprints import text_fingerprint
from newsbot.state.model import Delivery, PublishEntry
from newsbot.state.rebuild import rebuild
from newsbot.state.records import delivery_of
from newsbot.state.store import DB_NAME, StateStore
from tests.deliverykit import ROOT, env


def delivery(ident: str, revision: int = 1, published: int = 1_618_069_791) -> Delivery:
    return Delivery(ident, bytes(16), revision, published, 20210410, "3")


# The lifecycle, revisions, marks and fingerprints moved to test_state_contract.py, which runs
# them against both backends.


def test_second_open_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    first = StateStore(tmp_path / "s")
    try:
        with pytest.raises(StateLocked, match=r"in use by pid \d+"):
            StateStore(tmp_path / "s")
    finally:
        first.close()
    StateStore(tmp_path / "s").close()  # released on close


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    code = (
        "import sys, time; from newsbot.state.store import StateStore; "
        f"s = StateStore({str(tmp_path / 's')!r}); print('locked', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(StateLocked):
            StateStore(tmp_path / "s")
    finally:
        proc.kill()
        proc.wait()
    StateStore(tmp_path / "s").close()


def test_missing_store_is_not_recreated(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    StateStore(directory).close()
    (directory / DB_NAME).unlink()
    with pytest.raises(StateMissing, match="scrapy state rebuild") as info:
        StateStore(directory)
    assert LOCK_NAME in str(info.value)
    assert not (directory / DB_NAME).exists()


def test_fresh_directory_gets_a_store(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    StateStore(tmp_path / "new").close()
    StateStore(tmp_path / "brand" / "new").close()
    assert (tmp_path / "brand" / "new" / DB_NAME).is_file()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
        pytest.param(lambda p: p.write_bytes(b"not a database at all" * 100), id="garbage"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:1500]), id="truncated"),
    ],
)
def test_corrupt_store_is_not_recreated(tmp_path: Path, damage: Any) -> None:
    directory = tmp_path / "s"
    with StateStore(directory) as store:
        for i in range(200):
            store.discovered(str(i))
        store.commit()
        store.checkpoint()
    db = directory / DB_NAME
    damage(db)
    before = db.read_bytes()
    with pytest.raises(StateCorrupt, match="scrapy state rebuild"):
        StateStore(directory)
    assert db.read_bytes() == before


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    directory.mkdir()
    conn = sqlite3.connect(directory / DB_NAME)
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StateCorrupt, match="not a newsbot state store"):
        StateStore(directory)


def test_recovery_after_a_crash_between_intent_and_rename(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store = StateStore(directory)
    store.discovered("1")
    store.discovered("2")
    published, unpublished = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    entries = []
    for target, ident in ((published, "1"), (unpublished, "2")):
        temp = tmp_path / f".{target.name}.tmp"
        temp.write_text(f'{{"article_id": "{ident}"}}\n')
        store.register_temp(str(temp))
        st = temp.stat()
        entries.append(
            PublishEntry(
                str(temp),
                str(target),
                st.st_dev,
                st.st_ino,
                st.st_size,
                [delivery(ident)],
                destination=str(target),
            )
        )
    store.begin_publish(entries)
    os.replace(entries[0].temp, published)  # the first rename happened, then the process died
    store._conn.close()  # type: ignore[union-attr]  # no commit, no cleanup: a crash
    store._conn = None
    os.close(store._lock_fd)  # type: ignore[arg-type]
    store._lock_fd = None

    with StateStore(directory) as store:
        report = store.recover()
        assert (report.published, report.discarded) == (1, 1)
        assert store.state_of("1") == "exported"
        assert store.state_of("2") == "pending"
        # The destination of the published file has its article; the other has nothing.
        assert store.destination_revision(str(published), "1") == 1
        assert store.destination_revision(str(unpublished), "2") is None
        assert report.temps_removed == [entries[1].temp]
        assert not Path(entries[1].temp).exists()
        assert published.read_text() == '{"article_id": "1"}\n'
        assert store.recover().published == 0  # settled once


def test_recovery_does_not_trust_a_replaced_target(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store = StateStore(directory)
    temp, target = tmp_path / ".a.tmp", tmp_path / "a.jsonl"
    temp.write_text('{"article_id": "1"}\n')
    st = temp.stat()
    store.begin_publish(
        [PublishEntry(str(temp), str(target), st.st_dev, st.st_ino, st.st_size, [delivery("1")])]
    )
    target.write_text("someone else's file\n")  # never renamed; another file took the name
    store.close()
    with StateStore(directory) as store:
        assert store.recover().discarded == 1
        assert store.state_of("1") is None


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def record(ident: str, revision: int = 1, body: str = "正文" * 40) -> dict:
    return {
        "url": f"https://www.nbd.com.cn/articles/2021-04-10/{ident}.html",
        "article_id": ident,
        "title": f"标题{ident}",
        "published_at": "2021-04-10T23:49:51+08:00",
        "body": body,
        "column": "3",
        "revision": revision,
    }


def test_rebuild_from_delivered_files(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", [record("1"), record("2", body="另一篇" * 30)])
    b = jsonl(tmp_path / "b.jsonl", [record("1", revision=2, body="改过" * 40), record("3")])
    report = rebuild(tmp_path / "s", [a, b])
    assert (report.files, report.records, report.articles, report.bad_lines) == (2, 4, 3, [])
    with StateStore(tmp_path / "s") as store:
        assert store.counts()["exported"] == 3
        rev2 = delivery_of(record("1", revision=2, body="改过" * 40))
        assert rev2 is not None
        assert store.delivered("1") == (2, rev2.content_hash)
        row = store.get("1")
        assert row is not None and row.output_file == str(b.absolute())
        mark = store.high_water_mark("3")
        assert mark is not None and mark.isoformat() == "2021-04-10T23:49:51+08:00"
        # Fingerprints come from the delivered (latest) revisions: "1" no longer holds the
        # text it first had, "3" does, so a republication of that text names "3".
        fingerprint = text_fingerprint("正文" * 40)
        assert fingerprint is not None
        assert store.first_with_text(fingerprint, "5") == "3"


def test_rebuild_refuses_to_replace_a_store_without_force(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", [record("1")])
    rebuild(tmp_path / "s", [a])
    with pytest.raises(StateError, match="--force"):
        rebuild(tmp_path / "s", [a])
    rebuild(tmp_path / "s", [a], force=True)
    kept = [p.name for p in (tmp_path / "s").iterdir() if ".replaced-" in p.name]
    assert any(name.startswith(DB_NAME + ".replaced-") for name in kept)


@pytest.mark.process
def test_state_command_rebuilds_then_crawl_side_sees_it(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", [record("1"), record("2")])
    (tmp_path / "bad.jsonl").write_text('{"article_id": "3"}\nnot json\n')
    state = tmp_path / "s"
    StateStore(state).close()
    (state / DB_NAME).unlink()  # the store was lost
    base = [sys.executable, "-m", "scrapy", "state", "-s", f"NEWSBOT_STATE_DIR={state}"]
    refused = subprocess.run(
        [*base, "info"], cwd=ROOT, env=env(), capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1
    assert "missing" in refused.stderr and "scrapy state rebuild" in refused.stderr
    done = subprocess.run(
        [*base, "rebuild", str(a), str(tmp_path / "bad.jsonl")],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    # A line was not a record: said, non-zero, and nothing written (all or nothing).
    assert done.returncode == 1, done.stderr
    assert "bad.jsonl:2: not JSON" in done.stderr and "nothing was written" in done.stderr
    assert not (state / DB_NAME).exists()
    done = subprocess.run(
        [*base, "rebuild", "--skip-bad-lines", str(a), str(tmp_path / "bad.jsonl")],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # the skipped line is said, and non-zero
    assert "3 articles exported" in done.stderr
    assert "bad.jsonl:2: not JSON" in done.stderr
    info = subprocess.run(
        [*base, "info"], cwd=ROOT, env=env(), capture_output=True, text=True, check=True
    )
    assert json.loads(info.stdout)["articles"]["exported"] == 3
