"""Atom and RSS feeds from real crawls of the local site copy (tests/deliverykit.py), read the
way subscribers read them: feedparser (also over HTTP from a static server, as a reader
subscribes), a strict RELAX NG parse and the W3C validator's rules (tests/feedcheck.py). The
crawls run in the test process (tests/crawlkit.py), but the one that is killed."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
from lxml import etree

from tests.crawlkit import scrapy_crawl
from tests.deliverykit import ROOT, crawl_command, read_records, start, stop
from tests.feedcheck import check_feed, shown
from testsite import DeliverySite
from testsite.delivery import COLUMN, FIXTURE_COLUMN

HOSTILE = "收盘]]>速评<script>alert(1)</script>\x07&amp;<b>加粗</b>"
ATOM = "{http://www.w3.org/2005/Atom}"


class Static:
    """A static web server on 127.0.0.1 for a folder: how the README says to serve feeds."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def static(tmp_path: Path) -> Iterator[Static]:
    server = Static(tmp_path)
    yield server
    server.close()


def feeds_crawl(site: DeliverySite, tmp: Path, base: str, *, entries: int = 50, **args: str):
    outputs = (
        "-o", f"{tmp}/feeds:atom", "-o", f"{tmp}/rss:rss", "-o", f"{tmp}/out/records.jsonl",
    )  # fmt: skip
    cmd = crawl_command(
        site.root,
        tmp / "state",
        *outputs,
        args=args or {"columns": COLUMN},
        settings={"NEWSBOT_FEED_ENTRIES": str(entries), "NEWSBOT_FEED_BASE_URL": base},
    )
    done = scrapy_crawl(cmd)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def read(tmp: Path, base: str, name: str) -> tuple[Any, Any]:
    """The Atom and the RSS feed called ``name``, checked, as feedparser reads them."""
    atom = check_feed((tmp / "feeds" / f"{name}.atom").read_bytes(), "atom", f"{base}{name}.atom")
    rss = check_feed((tmp / "rss" / f"{name}.xml").read_bytes(), "rss", f"{base}{name}.xml")
    return atom, rss


def newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for r in records:  # later lines are later revisions
        latest[r["url"]] = r
    return sorted(latest.values(), key=lambda r: (r["published_at"], r["url"]), reverse=True)


def assert_entries_are_the_records(atom: Any, rss: Any, records: list[dict[str, Any]]) -> None:
    """Entry by entry: id, order, title, authors, times with +08:00, the whole body."""
    assert [e.id for e in atom.entries] == [r["url"] for r in records]
    assert [e.id for e in rss.entries] == [r["url"] for r in records]
    for a, s, r in zip(atom.entries, rss.entries, records, strict=True):
        assert shown(a.title_detail) == shown(s.title_detail) == r["title"]
        assert [x.name for x in a.authors] == (r["reporters"] or [r["source"]])
        assert a.published == r["published_at"]  # RFC 3339, with its +08:00
        published = dt.datetime.fromisoformat(r["published_at"])
        assert email.utils.parsedate_to_datetime(s.published) == published
        assert s.published.endswith(" +0800")
        for entry in (a, s):
            page = lxml.html.fragment_fromstring(entry.content[0].value, create_parent="div")
            paragraphs = [p.text_content() for p in page.iter("p")]
            assert paragraphs[:-1] == r["body"].split("\n")  # then the link to the original
            assert [i.get("src") for i in page.iter("img")] == r["images"]
        tags = [t.term for t in a.tags]
        assert tags[0] == COLUMN or tags[0] == r["column"]


def test_two_runs_roll_the_feeds_and_readers_subscribe(tmp_path: Path, static: Static) -> None:
    base = static.base + "feeds/"
    with DeliverySite(4) as site:
        site.edit(site.ids[1], HOSTILE)
        feeds_crawl(site, tmp_path, base, entries=6)
        records = newest_first(read_records(tmp_path / "out"))
        assert len(records) == 4
        atom, rss = read(tmp_path, base, COLUMN)
        assert_entries_are_the_records(atom, rss, records)
        everything, _ = read(tmp_path, base, "all")
        assert [e.id for e in everything.entries] == [r["url"] for r in records]

        # Page text stays text: the title and the body quote the hostile headline.
        hostile = next(r for r in records if "<script>" in r["title"])
        assert hostile["title"] == HOSTILE.replace("\x07", "")  # the pipeline drops controls
        entry = next(e for e in atom.entries if e.id == hostile["url"])
        assert shown(entry.title_detail) == hostile["title"]
        assert entry.title_detail.type == "text/html"  # escaped, so no validator warning
        page = lxml.html.fragment_fromstring(entry.content[0].value, create_parent="div")
        assert not page.xpath("//script|//b") and hostile["title"] in page.text_content()
        for path in (tmp_path / "feeds" / f"{COLUMN}.atom", tmp_path / "rss" / f"{COLUMN}.xml"):
            assert b"<script" not in path.read_bytes() and b"]]>" not in path.read_bytes()

        # A run with nothing new leaves every feed as it is (same file, same bytes).
        files = sorted([*tmp_path.glob("feeds/*"), *tmp_path.glob("rss/*")])
        assert len(files) == 4
        before = [(p.stat().st_ino, p.read_bytes()) for p in files]
        feeds_crawl(site, tmp_path, base, entries=6)
        assert [(p.stat().st_ino, p.read_bytes()) for p in files] == before

        # New articles: merged with the entries already in the file, the newest 6 kept.
        site.add(4)
        feeds_crawl(site, tmp_path, base, entries=6)
        records = newest_first(read_records(tmp_path / "out"))
        assert len(records) == 8
        atom, rss = read(tmp_path, base, COLUMN)
        assert_entries_are_the_records(atom, rss, records[:6])
        assert [e.id for e in read(tmp_path, base, "all")[0].entries] == [
            r["url"] for r in records[:6]
        ]

    # Subscribing: a reader fetches the feeds from a static web server.
    no_proxy = urllib.request.ProxyHandler({})
    for name in (f"{COLUMN}.atom", "all.atom"):
        served = feedparser.parse(base + name, handlers=[no_proxy])
        assert served.status == 200 and not served.bozo
        assert [e.id for e in served.entries] == [e.id for e in atom.entries]
    served = feedparser.parse(f"{static.base}rss/{COLUMN}.xml", handlers=[no_proxy])
    assert served.status == 200 and not served.bozo and len(served.entries) == 6


def test_a_revision_replaces_its_entry_and_moves_updated(tmp_path: Path, static: Static) -> None:
    base = static.base + "feeds/"
    with DeliverySite(3) as site:
        feeds_crawl(site, tmp_path, base)
        first, _ = read(tmp_path, base, COLUMN)
        edited = site.ids[1]
        site.edit(edited, "更正：交付测试稿件标题已修改")
        feeds_crawl(site, tmp_path, base, columns=COLUMN, recheck_days="1")
    records = newest_first(read_records(tmp_path / "out"))
    revised = next(r for r in records if r["article_id"] == edited)
    assert revised["revision"] == 2
    atom, rss = read(tmp_path, base, COLUMN)
    assert_entries_are_the_records(atom, rss, records)
    assert len(atom.entries) == 3  # replaced, not added
    old = next(e for e in first.entries if e.id == revised["url"])
    new = next(e for e in atom.entries if e.id == revised["url"])
    assert new.title == "更正：交付测试稿件标题已修改" != old.title
    assert new.published == old.published == old.updated
    assert new.updated_parsed > new.published_parsed  # the revision's time
    others = [(e.id, e.updated, e.title) for e in atom.entries if e.id != revised["url"]]
    assert others == [(e.id, e.updated, e.title) for e in first.entries if e.id != new.id]
    item = etree.parse(tmp_path / "rss" / f"{COLUMN}.xml").find(f".//item[guid='{revised['url']}']")
    assert item is not None and item.findtext("{http://purl.org/dc/terms/}modified")


def test_url_list_and_search_runs_write_the_run_feed(tmp_path: Path, static: Static) -> None:
    base = static.base + "feeds/"
    with DeliverySite(3) as site:
        url = site.article(site.ids[0]).url
        feeds_crawl(site, tmp_path / "urls", base, url=url)
        feeds_crawl(site, tmp_path / "search", base, query="交付测试")
    assert sorted(p.name for p in (tmp_path / "urls" / "feeds").iterdir()) == ["all.atom"]
    atom, _ = read(tmp_path / "urls", base, "all")
    assert [e.id for e in atom.entries] == [url]
    assert sorted(p.name for p in (tmp_path / "search" / "feeds").iterdir()) == ["交付测试.atom"]
    atom, rss = read(tmp_path / "search", base, "交付测试")
    assert atom.feed.title == rss.feed.title == "每经网 · 搜索：交付测试"
    assert len(atom.entries) == 3


def test_a_file_newsbot_cannot_merge_into_fails_the_run_and_is_kept(tmp_path: Path) -> None:
    foreign = tmp_path / "feeds" / f"{COLUMN}.atom"
    foreign.parent.mkdir()
    foreign.write_bytes(b"<html>not a feed</html>")
    with DeliverySite(2) as site:
        cmd = crawl_command(
            site.root,
            tmp_path / "state",
            *("-o", f"{tmp_path}/feeds:atom"),
            args={"columns": COLUMN},
            settings={"NEWSBOT_FEED_BASE_URL": "http://127.0.0.1:9/"},
        )
        done = scrapy_crawl(cmd)
        assert done.returncode == 1
        last = done.stderr.strip().splitlines()[-1]
        assert "Run failed: storage_failed: could not publish" in last
        assert "cannot merge into" in last and "move that file away" in last
        assert "2 new records stay pending" in last
        assert foreign.read_bytes() == b"<html>not a feed</html>"
        assert [p.name for p in foreign.parent.iterdir()] == [foreign.name]  # no leftovers
        # Moved away: the next run delivers the articles the failed run kept pending.
        foreign.rename(tmp_path / "kept.html")
        again = scrapy_crawl(cmd)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "Run OK: 2 discovered, 2 exported" in again.stderr.strip().splitlines()[-1]
    parsed = check_feed(foreign.read_bytes(), "atom")
    assert len(parsed.entries) == 2


def test_every_fixture_page_gives_a_valid_full_entry(tmp_path: Path, static: Static) -> None:
    """The fixture column lists a page of every layout variant: images, captions, credits,
    2017/2018 templates, AI flashes, reposts."""
    base = static.base + "feeds/"
    with DeliverySite() as site:
        feeds_crawl(site, tmp_path, base, columns=FIXTURE_COLUMN)
    records = newest_first(read_records(tmp_path / "out"))
    assert len(records) > 10
    atom, rss = read(tmp_path, base, FIXTURE_COLUMN)
    assert [e.id for e in atom.entries] == [r["url"] for r in records][:50]
    with_images = 0
    for entry, item, r in zip(atom.entries, rss.entries, records, strict=False):
        for html in (entry.content[0].value, item.content[0].value):
            page = lxml.html.fragment_fromstring(html, create_parent="div")
            lines = r["body"].split("\n") if r["body"] else []
            assert [p.text_content() for p in page.iter("p")][: len(lines)] == lines
            figures = r.get("figures") or []
            in_figures = {f["url"] for f in figures}
            expected = [f["url"] for f in figures] + [u for u in r["images"] if u not in in_figures]
            assert [i.get("src") for i in page.iter("img")] == expected
            for f in figures:
                assert (f.get("caption") or "") in page.text_content()
                assert (f.get("credit") or "") in page.text_content()
            if not figures and r["images"] and r["image_credit"]:
                assert page.find(".//figcaption/small").text == r["image_credit"]
        with_images += bool(r["images"])
        if r["abstract"]:
            assert shown(entry.summary_detail).split("\n") == r["abstract"].split("\n")
    assert with_images > 3


def test_a_bad_entry_count_fails_the_run_naming_it(tmp_path: Path) -> None:
    with DeliverySite(2) as site:
        cmd = crawl_command(
            site.root,
            tmp_path / "state",
            *("-o", f"{tmp_path}/feeds:atom"),
            args={"columns": COLUMN},
            settings={"NEWSBOT_FEED_ENTRIES": "many"},
        )
        done = scrapy_crawl(cmd)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "Run failed: feed_refused: NEWSBOT_FEED_ENTRIES='many'" in last
    assert list((tmp_path / "feeds").iterdir()) == []  # nothing published, nothing left


@pytest.mark.process
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_an_interrupted_run_then_a_rerun_give_every_article_once(
    tmp_path: Path, static: Static, sig: int
) -> None:
    base = static.base + "feeds/"
    with DeliverySite(8) as site:
        site.hold_after(3)
        cmd = crawl_command(
            site.root,
            tmp_path / "state",
            *("-o", f"{tmp_path}/feeds:atom", "-o", f"{tmp_path}/rss:rss"),
            args={"columns": COLUMN},
            settings={"NEWSBOT_FEED_BASE_URL": base},
        )
        proc = start(cmd, ROOT, tmp_path / "first.log")
        try:
            site.wait_served(3)
            time.sleep(0.4)
            if sig == signal.SIGKILL:
                stop(proc, sig)
            else:
                proc.send_signal(sig)
                site.release()
                assert proc.wait(60) in (0, 1)
        finally:
            if proc.poll() is None:
                stop(proc)
        site.release()
        for path in [*tmp_path.glob("feeds/*.atom")]:  # whatever was published is whole
            check_feed(path.read_bytes(), "atom", base + path.name)
        again = scrapy_crawl(cmd)
        assert again.returncode == 0, again.stderr[-3000:]
        expected = [site.article(i).url for i in site.ids]  # newest first
    atom, rss = read(tmp_path, base, COLUMN)
    assert [e.id for e in atom.entries] == [e.id for e in rss.entries] == expected
    assert [e.id for e in read(tmp_path, base, "all")[0].entries] == expected
