"""Distributed crawling end to end: worker processes (``scrapy crawl nbd`` with
``NEWSBOT_REDIS_URL``) share one crawl of the site copy through a real Redis server.

Whatever happens to the workers, the published files together hold every article listed exactly
once: the union of the workers' files is the dataset.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.distkit import Crawl, finish, id_counts, logs, published, scrapy, worker
from testsite import SiteCopy

VOLUME = 240


@pytest.fixture
def big_site(site_factory: Callable[..., SiteCopy]) -> SiteCopy:
    """Column 9000 of the site copy: VOLUME articles on three list pages; each answer takes a
    little while, as a real site's would, so that the workers' work overlaps."""
    return site_factory(volume=VOLUME, latency=0.04)


def assert_each_once(tmp_path: Path, site: SiteCopy, names: list[str]) -> dict[str, int]:
    files = published(tmp_path / "out")
    counts = id_counts(files)
    repeated = {i: n for i, n in counts.items() if n > 1}
    assert not repeated, f"articles in several files: {repeated}\n{logs(tmp_path, *names)}"
    missing = set(site.volume_ids) - set(counts)
    assert not missing, f"{len(missing)} articles missing\n{logs(tmp_path, *names)}"
    assert set(counts) == set(site.volume_ids)
    per_worker: dict[str, int] = {}
    for path, records in files.items():
        name = Path(path).name.split(".")[0].split("-")[0]
        per_worker[name] = per_worker.get(name, 0) + len(records)
    return per_worker


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_the_crawl_and_deliver_each_article_once(
    workers: int, crawl: Crawl, big_site: SiteCopy, tmp_path: Path
) -> None:
    names = [f"w{i}" for i in range(workers)]
    processes = [worker(crawl, big_site.root, tmp_path, n, "columns=9000") for n in names]
    codes = finish(processes)
    assert codes == [0] * workers, logs(tmp_path, *names)
    per_worker = assert_each_once(tmp_path, big_site, names)
    # Every worker took part, in files of its own.
    assert sorted(per_worker) == names, per_worker
    assert all(n > 0 for n in per_worker.values()), per_worker
    # One fetch per article: a queued or claimed article is not fetched by a second worker.
    hits = big_site.article_hits()
    assert sorted(hits) == sorted(big_site.volume_ids)
    # The crawl is over: the job and its queue are gone, the state says all exported.
    r = crawl.client()
    assert r.zcard(f"{crawl.prefix}:requests") == 0
    assert not r.exists(f"{crawl.prefix}:job")
    assert r.hget(f"{crawl.prefix}:counts", "exported") == str(VOLUME)


def test_the_next_crawl_delivers_only_what_is_new(
    crawl: Crawl, big_site: SiteCopy, tmp_path: Path
) -> None:
    first = [worker(crawl, big_site.root, tmp_path, n, "columns=9000") for n in ("w0", "w1")]
    assert finish(first) == [0, 0], logs(tmp_path, "w0", "w1")
    assert_each_once(tmp_path, big_site, ["w0", "w1"])
    hits = len(big_site.article_hits())
    # An hour later: the same job again, on the state the first crawl left in Redis.
    again = [
        worker(crawl, big_site.root, tmp_path, n, "columns=9000", feed="again/%(worker)s.jsonl")
        for n in ("w2", "w3")
    ]
    assert finish(again) == [0, 0], logs(tmp_path, "w2", "w3")
    assert published(tmp_path / "again") == {}  # nothing new: no file
    assert len(big_site.article_hits()) == hits  # and no article fetched again
    assert "caught_up" in logs(tmp_path, "w2", "w3") or "skipped/delivered" in logs(
        tmp_path, "w2", "w3"
    )


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(
    crawl: Crawl, big_site: SiteCopy, tmp_path: Path
) -> None:
    names = ["w0", "w1", "w2"]
    # Small batches: the killed worker has published some files and holds others unpublished.
    settings = {"FEED_EXPORT_BATCH_ITEM_COUNT": "15"}
    feed = "out/%(worker)s-%(batch_id)d.jsonl"
    processes = [
        worker(crawl, big_site.root, tmp_path, n, "columns=9000", feed=feed, settings=settings)
        for n in names
    ]
    deadline = time.monotonic() + 60
    while len(big_site.article_hits()) < VOLUME // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(big_site.article_hits()) < VOLUME, "the crawl ended before the kill"
    os.kill(processes[0].pid, signal.SIGKILL)
    codes = finish(processes)
    assert codes[0] == -signal.SIGKILL
    assert codes[1:] == [0, 0], logs(tmp_path, *names)
    assert_each_once(tmp_path, big_site, names)
    # The others took the dead worker's requests and articles over.
    assert "w0 is gone (no heartbeat)" in logs(tmp_path, "w1", "w2")


def test_a_follow_up_worker_finishes_what_a_killed_one_left(
    crawl: Crawl, big_site: SiteCopy, tmp_path: Path
) -> None:
    first = worker(crawl, big_site.root, tmp_path, "w0", "columns=9000")
    deadline = time.monotonic() + 60
    while len(big_site.article_hits()) < VOLUME // 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    assert finish([first]) == [-signal.SIGKILL]
    r = crawl.client()
    assert r.exists(f"{crawl.prefix}:job")  # unfinished: the next worker joins it
    # Started without arguments: it takes the unfinished job's.
    assert finish([worker(crawl, big_site.root, tmp_path, "w1")]) == [0], logs(tmp_path, "w1")
    assert_each_once(tmp_path, big_site, ["w0", "w1"])
    log = logs(tmp_path, "w1")
    assert "joined job" in log and "'columns': '9000'" in log
    # The dead worker's temporary files were removed by the worker that came after it.
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_a_worker_that_finishes_early_does_not_disturb_the_others(
    crawl: Crawl, big_site: SiteCopy, tmp_path: Path
) -> None:
    settings = {
        "NEWSBOT_SITE_ROOT": big_site.root,
        "NEWSBOT_STATE_DIR": str(tmp_path / "state-seed"),
        **crawl.settings(),
    }
    seed = scrapy(["seed", "--columns", "9000"], settings, tmp_path / "seed.log")
    assert seed.returncode == 0, logs(tmp_path, "seed")
    early = worker(crawl, big_site.root, tmp_path, "w0", settings={"CLOSESPIDER_ITEMCOUNT": "10"})
    assert finish([early]) == [0], logs(tmp_path, "w0")
    assert "closespider_itemcount" in logs(tmp_path, "w0")
    # Its leaving wiped nothing: the queue, the job and its dupefilter are there for the others.
    r = crawl.client()
    assert r.zcard(f"{crawl.prefix}:requests") > 0
    job = r.hget(f"{crawl.prefix}:job", "id")
    assert job and r.scard(f"{crawl.prefix}:dupefilter:{job}") > 0
    others = [worker(crawl, big_site.root, tmp_path, n) for n in ("w1", "w2")]
    assert finish(others) == [0, 0], logs(tmp_path, "w1", "w2")
    per_worker = assert_each_once(tmp_path, big_site, ["w0", "w1", "w2"])
    assert 10 <= per_worker["w0"] < VOLUME // 2, per_worker


def test_seeding_a_date_range_and_watching_the_queue(
    crawl: Crawl, big_site: SiteCopy, tmp_path: Path
) -> None:
    # The volume column runs from 2026-09-30 back 17 minutes an article: two days of it.
    window = [a for a in big_site.listed("9000") if "2026-09-29" <= a.date <= "2026-09-29"]
    assert 0 < len(window) < VOLUME
    settings = {
        "NEWSBOT_SITE_ROOT": big_site.root,
        "NEWSBOT_STATE_DIR": str(tmp_path / "state-seed"),
        **crawl.settings(),
    }
    seed = scrapy(
        ["seed", "--since", "2026-09-29", "--until", "2026-09-29", "--columns", "9000"],
        settings,
        tmp_path / "seed.log",
    )
    assert seed.returncode == 0, logs(tmp_path, "seed")
    assert big_site.article_hits() == []  # seeding fetches nothing

    status = scrapy(["queue-status"], crawl.settings(), tmp_path / "status.log")
    assert status.returncode == 0, logs(tmp_path, "status")
    shown = json.loads((tmp_path / "status.log").read_text("utf-8"))
    assert shown["job"]["arguments"] == {
        "columns": "9000",
        "since": "2026-09-29",
        "until": "2026-09-29",
    }
    assert shown["queue"]["requests"] == 1  # the column's first list page
    assert crawl.client().zcard(f"{crawl.prefix}:requests") == 1

    # A second seed while the job is on is refused, and changes nothing.
    again = scrapy(["seed", "--columns", "3"], settings, tmp_path / "seed2.log")
    assert again.returncode == 1
    assert "a crawl is in progress" in logs(tmp_path, "seed2")
    # So is a worker with other arguments.
    wrong = worker(crawl, big_site.root, tmp_path, "wx", "columns=3")
    assert finish([wrong]) == [1]
    assert "start workers with the same arguments or none" in logs(tmp_path, "wx")

    # Workers started without arguments take the job's: only the window is delivered.
    names = ["w0", "w1"]
    codes = finish([worker(crawl, big_site.root, tmp_path, n) for n in names])
    assert codes == [0, 0], logs(tmp_path, *names)
    counts = id_counts(published(tmp_path / "out"))
    assert set(counts) == {a.id for a in window}
    assert set(counts.values()) == {1}

    status = scrapy(["queue-status"], crawl.settings(), tmp_path / "status.log")
    shown = json.loads((tmp_path / "status.log").read_text("utf-8"))
    assert shown["job"] is None and shown["queue"]["requests"] == 0
    assert shown["articles"]["exported"] == len(window)


def test_a_lost_redis_state_is_never_silently_recreated(
    crawl: Crawl, big_site: SiteCopy, tmp_path: Path
) -> None:
    assert finish([worker(crawl, big_site.root, tmp_path, "w0", "columns=9000")]) == [0]
    delivered = published(tmp_path / "out")
    assert len(id_counts(delivered)) == VOLUME
    r = crawl.client()
    r.delete(*r.keys(f"{crawl.prefix}:*"))  # the Redis server lost its data
    # This machine worked with that state: starting over would deliver everything again.
    again = worker(
        crawl, big_site.root, tmp_path, "w0", "columns=9000", feed="again/%(worker)s.jsonl"
    )
    assert finish([again]) != [0]
    assert "is gone, but this machine worked with it" in logs(tmp_path, "w0")
    assert not (tmp_path / "again").exists()
    # Rebuilt from the delivered files, the next crawl delivers nothing twice.
    files = [str(tmp_path / "out" / name) for name in delivered]
    settings = {"NEWSBOT_STATE_DIR": str(tmp_path / "state-w0"), **crawl.settings()}
    rebuild = scrapy(["state", "rebuild", *files], settings, tmp_path / "rebuild.log")
    assert rebuild.returncode == 0, logs(tmp_path, "rebuild")
    hits = len(big_site.article_hits())
    again = worker(
        crawl, big_site.root, tmp_path, "w1", "columns=9000", feed="again/%(worker)s.jsonl"
    )
    assert finish([again]) == [0], logs(tmp_path, "w1")
    assert published(tmp_path / "again") == {}
    assert len(big_site.article_hits()) == hits
