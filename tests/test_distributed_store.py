"""The Redis state store's guarantees, worker against worker, on a real Redis server: one owner
per article, no claim or publish after a lost lease, dead workers' work handed back, publishes
interrupted by a death settled from the file, a job ending with its last worker. Plus: without
``NEWSBOT_REDIS_URL`` nothing changes."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.http import JsonRequest
from scrapy.utils.project import get_project_settings

from newsbot.distributed import DistributedAddon, serializer
from newsbot.distributed.scheduler import LEASE, LeasedQueue
from newsbot.state.backends import open_store
from newsbot.state.model import Delivery, PublishEntry
from newsbot.state.redis_store import LeaseLost, RedisStateStore
from newsbot.state.store import StateStore
from tests.distkit import Crawl

ARTICLE = "1712345"


def store(crawl: Crawl, worker: str, lease: float = 5.0) -> RedisStateStore:
    s = RedisStateStore(crawl.url, prefix=crawl.prefix, worker_id=worker, lease=lease)
    s.register()
    s.join({})
    return s


def member(ident: str = ARTICLE, body: str = "{}") -> str:
    return f"{ident}|0|{body}"


def delivery(ident: str = ARTICLE, revision: int = 1) -> Delivery:
    return Delivery(ident, b"\x01" * 8, revision, 1618069791, 20210410, "3")


def publish(s: RedisStateStore, path: Path, *idents: str) -> None:
    path.write_text("".join(f'{{"article_id": "{i}"}}\n' for i in idents))
    st = path.stat()
    entry = PublishEntry(str(path), str(path), st.st_dev, st.st_ino, st.st_size)
    entry.deliveries = [delivery(i) for i in idents]
    token = s.begin_publish([entry])
    s.finish_publish(token, [entry])


def test_one_worker_at_a_time_fetches_and_exports_an_article(crawl: Crawl, tmp_path: Path) -> None:
    a, b = store(crawl, "a"), store(crawl, "b")
    assert a.push(0, member(), ARTICLE, False, "")
    assert not b.push(0, member(body='{"again": 1}'), ARTICLE, False, "")  # already queued
    assert a.pop() == (member(), "own")
    assert b.pop() is None
    assert not b.push(0, member(), ARTICLE, False, "")  # being fetched by a
    assert b.claim(ARTICLE, 1) == "elsewhere"
    assert a.claim(ARTICLE, 1) == "ok"
    publish(a, tmp_path / "a.jsonl", ARTICLE)
    assert a.state_of(ARTICLE) == "exported"
    assert a.get(ARTICLE).output_file == str(tmp_path / "a.jsonl")  # type: ignore[union-attr]
    # Delivered: found again it is not queued, unless forced (a recheck, full=1).
    assert not b.push(0, member(), ARTICLE, False, "")
    assert b.claim(ARTICLE, 1) == "exported"
    assert b.push(0, member(), ARTICLE, True, "")
    assert a.counts()["exported"] == 1


def test_a_worker_whose_lease_expired_can_neither_claim_nor_publish(
    crawl: Crawl, tmp_path: Path
) -> None:
    a, b = store(crawl, "a", lease=0.3), store(crawl, "b")
    a.push(0, member(), ARTICLE, False, "")
    assert a.pop() is not None
    assert a.claim(ARTICLE, 1) == "ok"  # written to a's file
    time.sleep(0.5)  # a stalls: no heartbeat
    assert b.dead_workers() == ["a"]
    assert b.reap("a") == (0, 1, 0)  # its article goes back to the queue
    assert b.reap("a") is None  # once
    assert not a.heartbeat()
    with pytest.raises(LeaseLost):
        a.claim(ARTICLE, 1)
    entry = PublishEntry("t", str(tmp_path / "a.jsonl"), 0, 0, 0, [delivery()])
    with pytest.raises(LeaseLost):
        a.begin_publish([entry])
    assert b.pop() == (member(), "own")
    assert b.claim(ARTICLE, 1) == "ok"
    publish(b, tmp_path / "b.jsonl", ARTICLE)
    assert b.get(ARTICLE).output_file == str(tmp_path / "b.jsonl")  # type: ignore[union-attr]


def test_a_dead_workers_publish_is_settled_from_its_files(crawl: Crawl, tmp_path: Path) -> None:
    a = store(crawl, "a", lease=0.3)
    for ident in ("1", "2"):
        a.discovered(ident, url_date="2021-04-10")
        a.push(0, member(ident), ident, False, "")
        a.pop()
        a.claim(ident, 1)
    entries = []
    for ident in ("1", "2"):
        temp = tmp_path / f".out{ident}.tmp"
        temp.write_text(f'{{"article_id": "{ident}"}}\n')
        a.register_temp(str(temp))
        st = temp.stat()
        entries.append(
            PublishEntry(
                str(temp),
                str(tmp_path / f"out{ident}.jsonl"),
                st.st_dev,
                st.st_ino,
                st.st_size,
                [delivery(ident)],
                destination=str(tmp_path / "out%(batch_id)d.jsonl"),
            )
        )
    a.begin_publish(entries)
    os.replace(entries[0].temp, entries[0].target)  # the first file made it, then a died
    time.sleep(0.5)
    b = store(crawl, "b")
    report = b.recover()
    assert (report.published, report.discarded) == (1, 1)
    assert report.temps_removed == [entries[1].temp]
    assert b.state_of("1") == "exported" and b.state_of("2") == "pending"
    # Recovery gives the destination what its published file holds, and nothing else.
    assert b.destination_revision(str(tmp_path / "out%(batch_id)d.jsonl"), "1") == 1
    assert b.destination_revision(str(tmp_path / "out%(batch_id)d.jsonl"), "2") is None
    assert b.reap("a") == (0, 0, 0)
    assert b.pop() == (member("2"), "own")  # the unpublished one is fetched again


def test_a_dead_workers_requests_and_articles_go_back(crawl: Crawl) -> None:
    a, b = store(crawl, "a", lease=0.3), store(crawl, "b")
    a.push(0, "|0|list-page", "", False, "")
    a.push(1, member(), ARTICLE, False, "")
    got = {a.pop(), a.pop()}
    lease = next(lease for m, lease in got if m == "|0|list-page")  # type: ignore[misc]
    assert b.verdict() == "wait"  # a holds work that may produce more
    time.sleep(0.5)
    assert b.verdict() == "reap"
    assert b.reap("a") == (1, 1, 0)
    assert b.queue_size() == 2
    assert b.verdict() == "work"
    # A derived request (a retry) takes its lease's place in the queue.
    assert b.pop() is not None and b.pop() is not None
    assert b.queue_size() == 0
    assert lease


def test_the_last_worker_of_a_drained_job_ends_it(crawl: Crawl) -> None:
    a = store(crawl, "a")
    a.push(0, "|0|list-page", "", False, "")
    r = crawl.client()
    r.sadd(f"{crawl.prefix}:dupefilter:{a.joined.job}", "fp")  # type: ignore[union-attr]
    a.close()  # leaves with the queue full: the job stays for the next workers
    assert r.exists(f"{crawl.prefix}:job")
    b = store(crawl, "b")
    assert b.joined is not None and b.joined.how == "joined"
    _, lease = b.pop()  # type: ignore[misc]
    b.release_lease(lease)
    assert b.verdict() == "done"
    b.close()
    assert not r.exists(f"{crawl.prefix}:job")
    assert not r.exists(f"{crawl.prefix}:dupefilter:{b.joined.job}")


def test_a_live_worker_id_cannot_be_used_twice(crawl: Crawl) -> None:
    store(crawl, "a")
    with pytest.raises(Exception, match="worker id 'a' is in use"):
        store(crawl, "a")


def test_without_a_redis_url_nothing_changes(tmp_path: Path) -> None:
    settings = get_project_settings()
    assert "newsbot.distributed.DistributedAddon" in settings.getdict("ADDONS")
    before = {name: repr(settings.get(name)) for name in ("SCHEDULER", "FEEDS")}
    DistributedAddon().update_settings(settings)
    assert {name: repr(settings.get(name)) for name in ("SCHEDULER", "FEEDS")} == before
    assert not any("distributed" in str(k) for k in settings.getdict("ITEM_PIPELINES"))
    settings.set("NEWSBOT_STATE_DIR", str(tmp_path / "state"))
    s = open_store(settings)
    try:
        assert isinstance(s, StateStore)
    finally:
        s.close()


def test_a_redis_url_switches_the_run_over() -> None:
    settings = get_project_settings()
    settings.set("NEWSBOT_REDIS_URL", "redis://127.0.0.1:1/0", "cmdline")
    settings.set("FEEDS", {"out/articles.jsonl": {"format": "jsonlines"}}, "cmdline")
    DistributedAddon().update_settings(settings)
    assert settings.get("SCHEDULER") == "newsbot.distributed.scheduler.RedisScheduler"
    assert list(settings.getdict("FEEDS")) == ["out/articles-%(worker)s.jsonl"]
    assert any("ClaimPipeline" in str(k) for k in settings.getdict("ITEM_PIPELINES"))
    settings.set("NEWSBOT_STATE_ENABLED", False, "cmdline")
    with pytest.raises(ValueError, match="needs the delivery state"):
        DistributedAddon().update_settings(settings)


def test_an_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"cannot use Redis at .*NEWSBOT_REDIS_URL"):
        RedisStateStore(f"unix://{tmp_path}/nothing.sock", prefix=f"x{uuid.uuid4().hex}")


class _Spider(Spider):
    name = "queue-test"

    def parse(self, response: object) -> None:
        """Callback named in queued requests."""


def test_requests_go_through_the_queue_as_json_and_foreign_ones_are_dropped(
    crawl: Crawl, caplog: pytest.LogCaptureFixture
) -> None:
    a = store(crawl, "a")
    spider = _Spider()
    queue = LeasedQueue(a, spider)
    search = JsonRequest(
        "http://127.0.0.1:9/news-search/queryByMatch",
        data={"keyword": "碳中和", "from": 0},
        callback=spider.parse,
        cb_kwargs={"offset": 0},
        meta={"newsbot_list": {"column": "3", "page": 2}, LEASE: "7"},
        priority=3,
    )
    assert queue.push(search)
    raw = crawl.client().zrange(f"{crawl.prefix}:requests", 0, -1)
    assert raw[0].startswith("|0|{") and "碳中和" not in raw[0]  # body bytes: base64 JSON
    back = queue.pop()
    assert isinstance(back, JsonRequest)
    assert (back.url, back.body, back.callback, back.cb_kwargs) == (
        search.url,
        search.body,
        spider.parse,
        {"offset": 0},
    )
    assert back.meta["newsbot_list"] == {"column": "3", "page": 2}
    assert back.meta[LEASE] not in ("7", "own")  # a lease of its own
    # Something else in the queue (another program's pickle, a forged class) is not run.
    forged = {"url": "http://127.0.0.1:9/", "_class": "subprocess.Popen", "meta": {}}
    a.push(0, f"|0|{serializer.dumps(forged)}", "", False, "")
    a.push(1, "|0|\x80\x04pickle", "", False, "")
    with caplog.at_level("ERROR"):
        assert queue.pop() is None
    assert caplog.text.count("Dropping an unreadable queued request") == 2
    assert a.status()["workers"][0]["requests_leased"] == 1  # only the search page's


def test_idle_workers_wait_for_busy_ones_not_for_each_other(crawl: Crawl) -> None:
    a, b = store(crawl, "a"), store(crawl, "b")
    a.end_seeding()  # a created the job; its start requests are queued
    for s, ident in ((a, "1"), (b, "2")):
        s.push(0, member(ident), ident, False, "")
        s.pop()
        s.claim(ident, 1)  # written to its file, not yet published
    # b has not been idle yet: it may still be crawling (or have died), so a waits for it.
    assert a.verdict() == "wait"
    # Once b is idle too, both are closing: neither waits for the other's records.
    assert b.verdict() == "done"
    assert a.verdict() == "done"
    b.push(0, member("3"), "3", False, "")
    assert b.pop() is not None  # b is busy again
    assert a.verdict() == "wait"
