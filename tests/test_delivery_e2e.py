"""Delivery end to end: ``scrapy crawl nbd`` through the real engine against the site copy.

Each test runs the unmodified spider against the local site copy on 127.0.0.1 (made
changeable: :class:`testsite.DeliverySite`), and looks only at what a user sees: the
published files, the exit status, the log and the state directory. The crawls run in the
test's process (:mod:`tests.crawlkit`), except where the process is what is tested: killed,
interrupted, or writing records to its stdout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.crawlkit import CrawlResult, scrapy_crawl
from tests.deliverykit import (
    ROOT,
    crawl_command,
    env,
    fill,
    published_files,
    read_records,
    small_filesystem,
    start,
    stop,
)
from testsite import Article, DeliverySite, Reply, render_article
from testsite.delivery import COLUMN, FIXTURE_COLUMN


def stats(result: CrawlResult) -> dict[str, Any]:
    """The stats of a run, as Scrapy had them at its end."""
    assert result.stats, f"no stats:\n{result.explain()}"
    return result.stats


def assert_exactly_once(out: Path, expected: list[str]) -> list[dict]:
    """Across every published file under ``out``: each expected article once, nothing else."""
    records = read_records(out)
    got = sorted(r["article_id"] for r in records)
    twice = sorted({i for i in got if got.count(i) > 1})
    assert not twice, f"delivered more than once: {twice}"
    assert got == sorted(expected)
    return records


def crawl(
    site: DeliverySite | str,
    tmp: Path,
    *outputs: str,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    process: bool = False,
) -> CrawlResult:
    root = site if isinstance(site, str) else site.root
    outs = outputs or ("-o", f"{tmp / 'out'}/%(name)s-%(time)s.jsonl")
    cmd = crawl_command(
        root, tmp / "state", *outs, args={"columns": COLUMN, **(args or {})}, settings=settings
    )
    return scrapy_crawl(cmd, process=process)


def test_two_runs_deliver_each_article_once(tmp_path: Path) -> None:
    with DeliverySite(12) as site:
        first = crawl(site, tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        assert stats(first)["newsbot/exported"] == 12
        fetched = len(site.article_hits())

        second = crawl(site, tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
        assert stats(second)["newsbot/exported"] == 0
        assert len(site.article_hits()) == fetched  # nothing delivered was fetched again
        assert len(published_files(tmp_path / "out")) == 1  # an empty run adds no file

        site.add(3)
        third = crawl(site, tmp_path)
        assert third.returncode == 0, third.stderr[-3000:]
        assert stats(third)["newsbot/exported"] == 3
        assert len(site.article_hits()) == fetched + 3

        # full=1 fetches everything again, and still exports nothing that did not change.
        full = crawl(site, tmp_path, args={"full": "1"})
        assert full.returncode == 0, full.stderr[-3000:]
        assert stats(full)["newsbot/unchanged"] == 15
        assert stats(full)["newsbot/exported"] == 0
        assert len(site.article_hits()) == fetched + 3 + 15
        assert_exactly_once(tmp_path / "out", site.ids)


def test_every_fixture_variant_is_delivered_once(tmp_path: Path) -> None:
    with DeliverySite() as site:
        first = crawl(site, tmp_path, args={"columns": FIXTURE_COLUMN})
        assert first.returncode == 0, first.stderr[-3000:]
        listed = [a.id for a in site.listed(FIXTURE_COLUMN)]
        counted = stats(first)
        dropped = {k: v for k, v in counted.items() if k.startswith("newsbot/dropped/")}
        assert dropped == {}, dropped
        second = crawl(site, tmp_path, args={"columns": FIXTURE_COLUMN})
        assert second.returncode == 0
        assert stats(second)["newsbot/exported"] == 0
    records = assert_exactly_once(tmp_path / "out", listed)
    for record in records:
        assert all(not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", str(v)) for v in record.values())


@pytest.mark.process
def test_every_article_ends_exported_dropped_or_failed_with_a_reason(tmp_path: Path) -> None:
    with DeliverySite(5) as site:
        missing, misdated = site.article(site.ids[1]), site.article(site.ids[3])
        site.route(re.escape(missing.path), lambda hit: Reply(404, b"gone"))
        wrong = Article(misdated.id, "2020-01-01", misdated.time, misdated.title)
        page = render_article(wrong).replace(wrong.url, misdated.url)
        site.route(re.escape(misdated.path), lambda hit: Reply(200, page.encode()))
        first = crawl(site, tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        info = state_info(tmp_path)
        assert info["articles"] == {"pending": 0, "exported": 3, "dropped": 1, "failed": 1}
        assert info["dropped"] == {"date_mismatch": 1}
        assert info["failed"] == {"http_404": 1}
        assert stats(first)["newsbot/dropped/date_mismatch"] == 1

        hits = site.article_hits()
        second = crawl(site, tmp_path)
        assert second.returncode == 0
        assert stats(second)["newsbot/resumed"] == 1  # the failed one, once more
        assert site.article_hits()[len(hits) :] == [missing.id]
        assert state_info(tmp_path)["articles"]["failed"] == 1
    assert sorted(r["article_id"] for r in read_records(tmp_path / "out")) == sorted(
        set(site.ids) - {missing.id, misdated.id}
    )


@pytest.mark.process
def test_records_sent_to_stdout_count_as_delivered(tmp_path: Path) -> None:
    with DeliverySite(3) as site:
        first = crawl(site, tmp_path, "-o", "-:jsonl", process=True)
        assert first.returncode == 0, first.stderr[-3000:]
        assert sorted(json.loads(x)["article_id"] for x in first.stdout.splitlines()) == sorted(
            site.ids
        )
        second = crawl(site, tmp_path, "-o", "-:jsonl", process=True)
        assert second.stdout == ""
        assert stats(second)["newsbot/exported"] == 0


def state_info(tmp: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*crawl_command("http://127.0.0.1:9", tmp)[:3], "state", "info",
         "-s", f"NEWSBOT_STATE_DIR={tmp / 'state'}"],
        cwd=ROOT, env=env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_recheck_exports_an_edited_article_as_revision_2(tmp_path: Path) -> None:
    with DeliverySite(6) as site:
        assert crawl(site, tmp_path).returncode == 0
        edited = site.ids[2]
        site.edit(edited, "更正：交付测试稿件标题已修改")
        again = crawl(site, tmp_path, args={"recheck_days": "1"})
        assert again.returncode == 0, again.stderr[-3000:]
        counted = stats(again)
        assert counted["newsbot/recheck/requested"] == 6
        assert counted["newsbot/unchanged"] == 5
        assert counted["newsbot/exported"] == 1
        records = read_records(tmp_path / "out")
        revised = [r for r in records if r["revision"] == 2]
        assert [r["article_id"] for r in revised] == [edited]
        assert revised[0]["title"] == "更正：交付测试稿件标题已修改"
        assert len(records) == 7  # six first revisions, one second
        # Rechecking again finds nothing new: revision 2 is now what was delivered.
        third = crawl(site, tmp_path, args={"recheck_days": "1"})
        assert stats(third)["newsbot/unchanged"] == 6
        assert len(read_records(tmp_path / "out")) == 7


def test_a_republished_text_names_the_first_article(tmp_path: Path) -> None:
    with DeliverySite(4) as site:
        assert crawl(site, tmp_path).returncode == 0
        original = site.ids[1]
        copy = site.republish(original, "换了标题的同一篇文章")
        done = crawl(site, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert stats(done)["newsbot/duplicates"] == 1
    by_id = {r["article_id"]: r for r in read_records(tmp_path / "out")}
    assert by_id[copy.id]["duplicate_of"] == original
    assert by_id[copy.id]["title"] == "换了标题的同一篇文章"
    assert [r["duplicate_of"] for i, r in by_id.items() if i != copy.id] == [None] * 4


BATCHED = ["-s", "FEED_EXPORT_BATCH_ITEM_COUNT=3"]


@pytest.fixture
def slow_rounds(request: pytest.FixtureRequest) -> int:
    """Kill points to try: ``--slow-rounds=N`` (when conftest defines it) or the
    NEWSBOT_SLOW_ROUNDS environment variable; a few by default, as CI runs it."""
    value = request.config.getoption("--slow-rounds", default=None) or os.environ.get(
        "NEWSBOT_SLOW_ROUNDS", "3"
    )
    return int(value)


def interrupt_and_resume(tmp_path: Path, n: int, sig: int) -> CrawlResult:
    """Crawl until n article pages were served, send ``sig``, then crawl again to the end;
    every article must be in the published files exactly once."""
    out = ["-o", f"{tmp_path / 'out'}/%(time)s-%(batch_id)d.jsonl", *BATCHED]
    with DeliverySite(10) as site:
        site.hold_after(n)
        log = tmp_path / "first.log"
        cmd = crawl_command(site.root, tmp_path / "state", *out, args={"columns": COLUMN})
        proc = start(cmd, ROOT, log)
        try:
            site.wait_served(n)
            time.sleep(0.4)  # the served pages become records, and full batches get published
            if sig == signal.SIGKILL:
                stop(proc, sig)
            else:
                proc.send_signal(sig)
                site.release()
                # It stops by itself, in time, through Scrapy's graceful shutdown (exit 0 today;
                # the operations side may make an interrupted run exit 1).
                assert proc.wait(60) in (0, 1), log.read_text()[-3000:]
                text = log.read_text()
                assert "Closing spider (shutdown)" in text
                assert "Traceback" not in text
        finally:
            if proc.poll() is None:
                stop(proc)
        site.release()
        read_records(tmp_path / "out")  # whatever the interrupted run published is whole
        again = crawl(site, tmp_path, *out)
        assert again.returncode == 0, again.stderr[-3000:]
        assert_exactly_once(tmp_path / "out", site.ids)
        return again


@pytest.mark.process
@pytest.mark.parametrize("n", [1, 5])
def test_sigkill_then_rerun_delivers_every_article_once(tmp_path: Path, n: int) -> None:
    interrupt_and_resume(tmp_path, n, signal.SIGKILL)


@pytest.mark.process
@pytest.mark.slow
def test_sigkill_at_every_point(tmp_path: Path, slow_rounds: int) -> None:
    # The site has 10 articles: kill points go round them (a round past the 10th would wait
    # for an 11th article page that never comes).
    for k in range(1, slow_rounds + 1):
        interrupt_and_resume(tmp_path / f"round-{k}", (k - 1) % 10 + 1, signal.SIGKILL)


@pytest.mark.process
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_cleanly_and_resume(tmp_path: Path, sig: int) -> None:
    again = interrupt_and_resume(tmp_path, 4, sig)
    assert stats(again)["newsbot/exported"] < 10  # the first run delivered some


@pytest.mark.parametrize("where", ["writing", "merging"])
def test_a_full_disk_fails_the_run_and_keeps_the_earlier_file(tmp_path: Path, where: str) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=256) as disk, DeliverySite(12) as site:
        out = ["-o", f"{disk}/articles.jsonl"]  # append mode: old records + new, one file
        first = crawl(site, tmp_path, *out, args={"max_articles": "3"})
        assert first.returncode == 0, first.stderr[-3000:]
        good = (disk / "articles.jsonl").read_bytes()
        assert len(good.splitlines()) == 3
        # "writing": no room for the new records; "merging": room for them, but not for the
        # new file holding the old records and the new ones.
        per_record = len(good) // 3
        fill(disk, leave_bytes=4096 if where == "writing" else 9 * per_record + 6144)

        full = crawl(site, tmp_path, *out)
        assert full.returncode == 1
        assert "storage_failed" in full.stderr.splitlines()[-1]
        assert "No space left on device" in full.stderr
        # (and it failed where this case says it does)
        assert ("writing the feed failed earlier" in full.stderr) == (where == "writing")
        assert (disk / "articles.jsonl").read_bytes() == good
        left = {p.name for p in disk.iterdir()} - {".articles.jsonl.lock"}
        assert left == {"articles.jsonl", "filler.bin"}

        (disk / "filler.bin").unlink()
        last = crawl(site, tmp_path, *out)
        assert last.returncode == 0, last.stderr[-3000:]
        assert_exactly_once(disk, site.ids)


def test_a_full_disk_while_writing_then_recovery(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=256) as disk, DeliverySite(12) as site:
        out = ["-o", f"{disk}/out/%(time)s.jsonl"]  # a new file per run
        assert crawl(site, tmp_path, *out, args={"max_articles": "3"}).returncode == 0
        fill(disk, leave_bytes=2048)
        full = crawl(site, tmp_path, *out)
        assert full.returncode == 1
        assert [p.name for p in (disk / "out").iterdir() if p.name.startswith(".")] == []
        (disk / "filler.bin").unlink()
        assert crawl(site, tmp_path, *out).returncode == 0
        assert_exactly_once(disk / "out", site.ids)


def test_an_unreachable_site_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    target = tmp_path / "articles.jsonl"
    with DeliverySite(5) as site:
        assert crawl(site, tmp_path, "-O", str(target)).returncode == 0
    before, inode = target.read_bytes(), target.stat().st_ino
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    crawl(dead, tmp_path, "-O", str(target))
    assert target.read_bytes() == before
    assert target.stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl", "state"]


@pytest.mark.process
def test_a_second_run_on_the_same_state_is_refused(tmp_path: Path) -> None:
    with DeliverySite(5) as site:
        site.hold_after(1)
        cmd = crawl_command(
            site.root, tmp_path / "state", "-o", f"{tmp_path}/a/%(time)s.jsonl",
            args={"columns": COLUMN},
        )  # fmt: skip
        first = start(cmd, ROOT, tmp_path / "first.log")
        try:
            site.wait_served(1)
            second = crawl(site, tmp_path, "-o", f"{tmp_path}/b/%(time)s.jsonl")
            assert second.returncode == 1
            assert re.search(r"state directory \S+ is in use by pid \d+", second.stderr)
            assert "Spider opened" not in second.stderr  # refused before fetching anything
            assert not (tmp_path / "b").exists()
            site.release()
            assert first.wait(60) == 0
        finally:
            if first.poll() is None:
                stop(first)
        assert_exactly_once(tmp_path / "a", site.ids)


@pytest.mark.process
def test_a_lost_state_store_stops_the_run_until_rebuilt(tmp_path: Path) -> None:
    with DeliverySite(3) as site:
        assert crawl(site, tmp_path).returncode == 0
        (tmp_path / "state" / "state.sqlite3").unlink()
        hits = len(site.hits)
        refused = crawl(site, tmp_path)
        assert refused.returncode == 1
        assert "scrapy state rebuild" in refused.stderr
        assert len(site.hits) == hits
        files = [str(p) for p in published_files(tmp_path / "out")]
        rebuilt = subprocess.run(
            [*crawl_command(site.root, tmp_path)[:3], "state", "rebuild", *files,
             "-s", f"NEWSBOT_STATE_DIR={tmp_path / 'state'}"],
            cwd=ROOT, env=env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert rebuilt.returncode == 0, rebuilt.stderr
        site.add(1)
        after = crawl(site, tmp_path)
        assert after.returncode == 0
        assert stats(after)["newsbot/exported"] == 1
        assert_exactly_once(tmp_path / "out", site.ids)


def test_hexo_posts_beside_json_lines(tmp_path: Path) -> None:
    with DeliverySite(3) as site:
        site.edit(site.ids[0], "A股/港股：谁在买？")
        outputs = ("-o", f"{tmp_path}/articles.jsonl", "-o", f"{tmp_path}/blog:hexo")
        done = crawl(site, tmp_path, *outputs)
        assert done.returncode == 0, done.stderr[-3000:]
        ids = site.ids
    posts = sorted((tmp_path / "blog" / "source" / "_posts" / COLUMN).iterdir())
    assert len(posts) == 3
    assert "A股_港股：谁在买？.md" in [p.name for p in posts]
    for post in posts:
        text = post.read_text(encoding="utf-8")
        assert "Invalid Date" not in text
        # No _config.yml in this blog: the instant with its offset (tests/test_hexo_blog.py)
        assert re.search(r"^date: '20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00'$", text, re.M)
        assert re.search(r"^article_id: '\d+'$", text, re.M)
    assert_exactly_once(tmp_path, ids)


@pytest.mark.parametrize("target", ["a.jsonl", "%(name)s.jsonl"])
def test_a_symlink_at_the_target_stops_the_run_before_it_fetches(
    tmp_path: Path, target: str
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (tmp_path / target.replace("%(name)s", "nbd")).symlink_to(precious)
    with DeliverySite(3) as site:
        done = crawl(site, tmp_path, "-o", f"{tmp_path}/{target}")
        assert done.returncode == 1
        assert "is a symbolic link" in done.stderr.splitlines()[-1]
        assert site.article_hits() == []
    assert precious.read_text() == "keep me\n"


SPIDER = """
import scrapy
from newsbot.items import ArticleItem

class Echo(scrapy.Spider):
    name = "echo"

    async def start(self):
        yield ArticleItem(
            url="https://www.nbd.com.cn/articles/2021-04-10/1.html", article_id="1",
            title="t", published_at="2021-04-10T23:49:51+08:00", body="b")
"""


@pytest.mark.process
def test_feed_path_parameters_from_spider_arguments_cannot_escape(tmp_path: Path) -> None:
    spider = tmp_path / "echo.py"
    spider.write_text(SPIDER)
    out = tmp_path / "work" / "out"
    cmd = [
        *crawl_command("http://127.0.0.1:9", tmp_path)[:3],
        "runspider", str(spider),
        "-o", f"{out}/%(category)s/%(name)s.jsonl",
        "-a", "category=../../../escaped",
        "-s", f"NEWSBOT_STATE_DIR={tmp_path / 'state'}",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(tmp_path.rglob("*.jsonl")) == [out / ".._.._.._escaped" / "echo.jsonl"]
    assert not os.path.exists(tmp_path / "escaped")
