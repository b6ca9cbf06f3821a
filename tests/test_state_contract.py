"""One contract, both state backends: SQLite on real files and Redis through a real server.

Every test here runs against each implementation of
:class:`~newsbot.state.service.StateBackend` (the ``backend`` fixture is parametrised), so the
two stores -- SQL on one side, Lua on the other -- cannot drift apart in what they answer.
Backend-specific behaviour (the SQLite lock and recovery; Redis leases and workers) stays in
test_delivery_store.py and test_distributed_store.py.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.state.model import Delivery, PublishEntry
from newsbot.state.redis_store import RedisStateStore
from newsbot.state.service import StateBackend
from newsbot.state.store import StateStore
from tests import distkit
from tests.redis_server import RedisServer


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateBackend]:
    """A fresh store of each kind: SQLite in a new directory; a Redis worker of a crawl of its
    own on the session's real server (registered and joined, as a crawl's worker is)."""
    store: StateBackend
    if request.param == "sqlite":
        store = StateStore(tmp_path / "s")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        crawl = distkit.new_crawl(server)
        redis = RedisStateStore(crawl.url, prefix=crawl.prefix, worker_id="a", lease=5.0)
        redis.register()
        redis.join({})
        store = redis
    try:
        yield store
    finally:
        store.close()


def delivery(ident: str, revision: int = 1, published: int = 1_618_069_791) -> Delivery:
    return Delivery(ident, bytes(16), revision, published, 20210410, "3")


def claim(store: StateBackend, deliveries: list[Delivery]) -> None:
    """What a distributed worker's ClaimPipeline does before an item goes to a feed (Redis only:
    on one machine the directory lock is the claim)."""
    if isinstance(store, RedisStateStore):
        for d in deliveries:
            assert store.claim(d.article_id, d.revision) == "ok"


def publish(store: StateBackend, tmp: Path, name: str, deliveries: list[Delivery]) -> Path:
    """Publish a file the way the feed storage does: (claim,) intent, rename, done."""
    claim(store, deliveries)
    temp = tmp / f".{name}.tmp"
    temp.write_text("".join(f'{{"article_id": "{d.article_id}"}}\n' for d in deliveries))
    target = tmp / name
    st = temp.stat()
    entry = PublishEntry(str(temp), str(target), st.st_dev, st.st_ino, st.st_size, deliveries)
    token = store.begin_publish([entry])
    os.replace(temp, target)
    store.finish_publish(token, [entry])
    return target


def test_lifecycle_of_an_article(backend: StateBackend, tmp_path: Path) -> None:
    store = backend
    assert store.state_of("1") is None
    assert store.discovered("1", url_date="2021-04-10", column="3") is True
    assert store.discovered("1", url_date="2021-04-10", column="3") is False
    assert store.state_of("1") == "pending"
    assert not store.is_settled("1")
    assert store.failed("1", "timeout") == "failed"
    assert store.failed("1", "http_503") == "failed"
    row = store.get("1")
    assert row is not None
    assert (row.state, row.reason, row.attempts) == ("failed", "http_503", 2)
    assert list(store.open_articles(max_attempts=3)) == [("1", "2021-04-10", "3")]
    assert list(store.open_articles(max_attempts=2)) == []
    assert [r.article_id for r in store.failed_articles()] == ["1"]
    publish(store, tmp_path, "a.jsonl", [delivery("1")])
    row = store.get("1")
    assert row is not None
    assert (row.state, row.reason, row.revision, row.output_file) == (
        "exported",
        None,
        1,
        str(tmp_path / "a.jsonl"),
    )
    assert store.is_settled("1")
    assert list(store.failed_articles()) == []
    # A failed or dropped recheck never undoes a delivery.
    assert store.failed("1", "timeout") == "exported"
    assert store.dropped("1", "no_body") == "exported"
    assert store.delivered("1") == (1, bytes(16))
    assert store.dropped("2", "date_mismatch") == "dropped"
    assert store.is_settled("2")
    assert store.reasons("dropped") == {"date_mismatch": 1}
    assert store.counts() == {"pending": 0, "exported": 1, "dropped": 1, "failed": 0}


def test_new_revision_replaces_the_delivered_one(backend: StateBackend, tmp_path: Path) -> None:
    store = backend
    publish(store, tmp_path, "a.jsonl", [delivery("7")])
    changed = Delivery("7", b"\x01" * 16, 2, 1_618_069_791, 20210410, "3")
    publish(store, tmp_path, "b.jsonl", [changed])
    assert store.delivered("7") == (2, b"\x01" * 16)
    row = store.get("7")
    assert row is not None and row.output_file == str(tmp_path / "b.jsonl")


def test_recent_exports_and_marks(backend: StateBackend, tmp_path: Path) -> None:
    store = backend
    now = dt.datetime.now(dt.timezone.utc)
    old = int((now - dt.timedelta(days=10)).timestamp())
    new = int((now - dt.timedelta(hours=2)).timestamp())
    publish(
        store, tmp_path, "a.jsonl", [delivery("1", published=old), delivery("2", published=new)]
    )
    recent = list(store.exported_since(now - dt.timedelta(days=1)))
    assert [r[0] for r in recent] == ["2"]
    store.set_high_water_mark("3", new)
    store.set_high_water_mark("3", old)  # a mark never goes back
    mark = store.high_water_mark("3")
    assert mark is not None and int(mark.timestamp()) == new
    assert store.high_water_mark("332") is None
    assert store.columns_with_marks() == ["3"]


def test_text_fingerprints_name_the_lowest_id(backend: StateBackend) -> None:
    store = backend
    assert store.first_with_text(42, "200") is None  # first seen
    assert store.first_with_text(42, "100") is None  # lower id: it is the original
    assert store.first_with_text(42, "200") == "100"
    assert store.first_with_text(42, "300") == "100"
    assert store.first_with_text(42, "100") is None  # never a duplicate of itself


def test_published_files_are_listed_with_their_new_records(
    backend: StateBackend, tmp_path: Path
) -> None:
    store = backend
    since = int(time.time())
    publish(store, tmp_path, "a.jsonl", [delivery("1"), delivery("2")])
    publish(store, tmp_path, "b.jsonl", [delivery("3")])
    assert sorted(store.files_published_since(since)) == [
        (str(tmp_path / "a.jsonl"), 2),
        (str(tmp_path / "b.jsonl"), 1),
    ]
    assert store.files_published_since(since + 3600) == []


def test_an_abandoned_publish_leaves_its_articles_pending(
    backend: StateBackend, tmp_path: Path
) -> None:
    store = backend
    store.discovered("5", url_date="2021-04-10", column="3")
    assert list(store.open_articles(max_attempts=3)) == [("5", "2021-04-10", "3")]
    temp = tmp_path / ".a.tmp"
    temp.write_text('{"article_id": "5"}\n')
    store.register_temp(str(temp))
    st = temp.stat()
    entry = PublishEntry(
        str(temp), str(tmp_path / "a.jsonl"), st.st_dev, st.st_ino, st.st_size, [delivery("5")]
    )
    claim(store, entry.deliveries)
    token = store.begin_publish([entry])
    store.abandon_publish(token, [str(temp)])
    assert store.state_of("5") == "pending"
    assert store.delivered("5") is None


def test_a_forgotten_temp_is_not_removed_by_recovery(backend: StateBackend, tmp_path: Path) -> None:
    store = backend
    kept = tmp_path / ".kept.tmp"
    kept.write_text("a file someone else now owns\n")
    store.register_temp(str(kept))
    store.forget_temp(str(kept))
    assert store.recover().temps_removed == []
    assert kept.exists()


def test_feeds_newsbot_cannot_watch_are_exported_in_bulk(backend: StateBackend) -> None:
    store = backend
    store.discovered("8")
    assert store.bulk_exported([(delivery("8"), "-"), (delivery("9"), "-")]) == 2
    assert store.state_of("8") == "exported"
    assert store.delivered("9") == (1, bytes(16))
    store.commit()
    store.maybe_commit()
    assert store.counts()["exported"] == 2


def test_alone_nothing_is_held_elsewhere(backend: StateBackend) -> None:
    store = backend
    store.discovered("1")
    assert store.wait_for_others(["1", "2"], timeout=0) == 0
    assert str(store.directory)


# -- destinations (issue 14 item 3: delivered is a property of a feed target) -------------------


def publish_to(
    store: StateBackend,
    tmp: Path,
    name: str,
    destination: str,
    deliveries: list[Delivery],
    *,
    claimed: bool = True,
) -> None:
    if claimed:
        claim(store, deliveries)
    temp = tmp / f".{name}.tmp"
    temp.write_text("".join(f'{{"article_id": "{d.article_id}"}}\n' for d in deliveries))
    st = temp.stat()
    entry = PublishEntry(
        str(temp), str(tmp / name), st.st_dev, st.st_ino, st.st_size, deliveries, destination
    )
    token = store.begin_publish([entry])
    os.replace(temp, tmp / name)
    store.finish_publish(token, [entry])


def test_each_destination_keeps_what_it_was_given(backend: StateBackend, tmp_path: Path) -> None:
    store = backend
    publish_to(store, tmp_path, "a.jsonl", "/srv/a.jsonl", [delivery("1"), delivery("2")])
    assert store.destination_revision("/srv/a.jsonl", "1") == 1
    assert store.destination_revision("/srv/b.csv", "1") is None
    assert store.destination_revision("/srv/a.jsonl", "3") is None
    publish_to(store, tmp_path, "b.csv", "/srv/b.csv", [delivery("1", revision=2)])
    assert store.destination_revision("/srv/b.csv", "1") == 2
    assert store.destination_revision("/srv/a.jsonl", "1") == 1  # the other keeps revision 1
    # An older revision published late never lowers what a destination has.
    # (a distributed worker's claim refuses it; a late publish on one machine does not)
    publish_to(store, tmp_path, "b2.csv", "/srv/b.csv", [delivery("1", revision=1)], claimed=False)
    assert store.destination_revision("/srv/b.csv", "1") == 2
    # A publish that names no destination (a rebuild) gives no destination anything.
    publish(store, tmp_path, "c.jsonl", [delivery("5")])
    assert store.state_of("5") == "exported"
    assert store.destination_revision("", "5") is None


def test_a_feed_newsbot_cannot_watch_is_a_destination_too(backend: StateBackend) -> None:
    store = backend
    store.bulk_exported([(delivery("8"), "-")])
    store.note_destination("s3://bucket/a.jsonl", [delivery("8"), delivery("9", revision=3)])
    assert store.destination_revision("s3://bucket/a.jsonl", "8") == 1
    assert store.destination_revision("s3://bucket/a.jsonl", "9") == 3


def _as_if_upgraded(store: StateBackend) -> None:
    """Make what was published so far count as published before the store kept destinations
    (what opening a store of an older newsbot records)."""
    later = str(int(time.time()) + 5)
    if isinstance(store, RedisStateStore):
        store.redis.hset(store.k("meta"), "destinations_since", later)
    else:
        assert isinstance(store, StateStore)
        store.commit()
        store._db.execute("UPDATE meta SET value = ? WHERE key = 'destinations_since'", (later,))


def test_a_new_destination_adopts_the_files_published_before_upgrading(
    backend: StateBackend, tmp_path: Path
) -> None:
    store = backend
    publish(store, tmp_path, "articles-2026-01-01.jsonl", [delivery("1"), delivery("2")])
    publish(store, tmp_path, "other.csv", [delivery("3")])
    # A store that never kept destinations before: nothing to adopt.
    assert store.adopt("/x", "*") == 0
    _as_if_upgraded(store)
    pattern = glob.escape(str(tmp_path)) + "/articles-*.jsonl"
    assert store.adopt(str(tmp_path) + "/articles-%(time)s.jsonl", pattern) == 2
    name = str(tmp_path) + "/articles-%(time)s.jsonl"
    assert store.destination_revision(name, "1") == 1
    assert store.destination_revision(name, "3") is None
    # Only a destination never seen adopts; a second call changes nothing.
    assert store.adopt(name, "*") == 0
    assert store.destination_revision(name, "3") is None


def test_a_rebuilt_store_lets_destinations_adopt_its_files(
    backend: StateBackend, tmp_path: Path
) -> None:
    store = backend
    store.bulk_exported([(delivery("1"), str(tmp_path / "a.jsonl")), (delivery("2"), "-")])
    assert store.adopt(str(tmp_path / "a.jsonl"), glob.escape(str(tmp_path / "a.jsonl"))) == 0
    store.files_adoptable()
    name = str(tmp_path / "b.jsonl")
    assert store.adopt(name, glob.escape(name)) == 0  # its files hold nothing
    name = str(tmp_path / "a.jsonl")
    assert store.adopt(name + "x", glob.escape(name)) == 1
    assert store.destination_revision(name + "x", "1") == 1
    assert store.destination_revision(name + "x", "2") is None


def reopened_after_a_crash(store: StateBackend) -> StateBackend:
    """The next run after this one died: SQLite opened again (recovery runs on open); in Redis,
    the worker's heartbeat gone and another worker of the same host started."""
    if isinstance(store, StateStore):
        directory = store.directory
        store.close()  # the intent was committed at begin_publish: as after a SIGKILL
        return StateStore(directory)
    assert isinstance(store, RedisStateStore)
    store.redis.delete(store.k(f"w:{store.worker}:alive"))
    other = RedisStateStore(store.url, prefix=store.prefix, worker_id="b", lease=5.0)
    other.register()
    other.join({})
    return other


def begin(store: StateBackend, tmp_path: Path, ident: str) -> tuple[Path, Path]:
    """A run that discovered article ``ident``, wrote its file and committed the intent."""
    store.discovered(ident, url_date="2021-04-10", column="3")
    temp, target = tmp_path / f".{ident}.tmp", tmp_path / f"{ident}.jsonl"
    temp.write_text(f'{{"article_id": "{ident}"}}\n')
    store.register_temp(str(temp))
    st = temp.stat()
    entry = PublishEntry(str(temp), str(target), st.st_dev, st.st_ino, st.st_size,
                         [delivery(ident)])  # fmt: skip
    claim(store, entry.deliveries)
    store.begin_publish([entry])
    return temp, target


def test_a_file_moved_away_after_its_rename_still_counts_as_delivered(
    backend: StateBackend, tmp_path: Path
) -> None:
    """Killed between the rename and the mark, then the file is consumed (``mv out/*.jsonl
    consumed/``, logrotate): the temporary file being gone proves the rename happened."""
    temp, target = begin(backend, tmp_path, "5")
    os.replace(temp, target)  # published; the run dies before finish_publish
    target.rename(tmp_path / "consumed.jsonl")
    again = reopened_after_a_crash(backend)
    try:
        report = again.recover()
        assert (report.published, report.discarded) == (1, 0)
        assert again.state_of("5") == "exported"
    finally:
        again.close()


def test_a_file_never_renamed_stays_pending_after_a_crash(
    backend: StateBackend, tmp_path: Path
) -> None:
    temp, target = begin(backend, tmp_path, "6")  # the run dies before the rename
    again = reopened_after_a_crash(backend)
    try:
        report = again.recover()
        assert (report.published, report.discarded) == (0, 1)
        assert again.state_of("6") == "pending"
        assert not temp.exists() and not target.exists()
    finally:
        again.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_store_that_can_no_longer_be_written_says_so_once(kind: str, tmp_path: Path) -> None:
    """``on_write_error`` hears once of the first write the store cannot make (SQLite: a lock
    another process holds past the busy timeout; Redis: the server gone); later writes fail at
    once with the same kind of error, without waiting again."""
    import sqlite3

    from newsbot.state.errors import StateUnavailable

    heard: list[StateUnavailable] = []
    holder: sqlite3.Connection | None = None
    server: RedisServer | None = None
    store: StateBackend
    if kind == "sqlite":
        store = StateStore(tmp_path / "s", busy_timeout=0.2, batch_size=1)
        holder = sqlite3.connect(tmp_path / "s" / "state.sqlite3", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write lock
    else:
        if distkit.server_binary() is None:
            pytest.skip("no redis-server")
        server = RedisServer().start()
        try:
            redis = RedisStateStore(server.url, prefix="gone", worker_id="a", lease=5.0)
            redis.register()
            redis.join({})
        finally:
            server.stop()  # the server goes away (and does not outlive a failure here)
        store = redis
    store.on_write_error = heard.append
    try:
        with pytest.raises(StateUnavailable):
            store.discovered("1", url_date="2021-04-10", column="3")
            store.commit()
        began = time.monotonic()
        with pytest.raises(StateUnavailable):
            store.discovered("2", url_date="2021-04-10", column="3")
            store.commit()
        assert time.monotonic() - began < 0.2  # no second wait
        assert len(heard) == 1
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        if isinstance(store, RedisStateStore):
            store.closed = True  # nothing to hand back to a server that is gone
        store.close()
