"""The page archive and ``scrapy reparse``, end to end: a crawl with ``NEWSBOT_ARCHIVE=1`` keeps
every article page it fetched in a WARC file; after an extractor fix, ``scrapy reparse`` rebuilds
the records from that file with the current extractor, fetching nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from newsbot import EXTRACTOR_VERSION
from newsbot.items import EXTRACTED_FIELDS
from tests.crawlkit import PROJECT, TEST_SETTINGS
from tests.deliverykit import env
from tests.opskit import redesigned, synthetic_route
from testsite import SiteCopy

#: The crawl runs with an "old extractor": one that lost the bylines and says it is 2000.1.1.
OLD_EXTRACTOR = """
import sys
import newsbot.pages.article as article
article.EXTRACTOR_VERSION = "2000.1.1"
_to_item = article.ArticlePage.to_item
def to_item(self):
    item = _to_item(self)
    item.byline, item.reporters = None, []
    return item
article.ArticlePage.to_item = to_item
from scrapy.cmdline import execute
execute(sys.argv[1:])
"""
BROKEN = "1700301"  # served in a markup no extractor reads: archived, but gives no record


def crawl_with_old_extractor(site: SiteCopy, tmp_path: Path) -> tuple[int, list[dict], str]:
    out = tmp_path / "crawled.jsonl"
    argv = ["scrapy", "crawl", "nbd", "-a", "columns=3,332", "-o", f"{out}:jsonl"]
    settings = {
        **TEST_SETTINGS,
        "NEWSBOT_SITE_ROOT": site.root,
        "NEWSBOT_STATE_DIR": str(tmp_path / "state"),
        "NEWSBOT_ARCHIVE": "1",
        "NEWSBOT_MAX_FAILED_SHARE": "0.5",
    }
    for name, value in settings.items():
        argv += ["-s", f"{name}={value}"]
    done = subprocess.run(
        [sys.executable, "-c", OLD_EXTRACTOR, *argv],
        cwd=PROJECT, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    return done.returncode, records, done.stderr


def reparse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "reparse", "-s",
         f"NEWSBOT_STATE_DIR={tmp_path / 'state'}", *args],
        cwd=PROJECT, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_archive_then_reparse_with_the_current_extractor(site: SiteCopy, tmp_path: Path):
    broken_page = {"on": True}
    synthetic_route(site, lambda page: redesigned(page) if BROKEN in page and broken_page["on"]
                    else page)  # fmt: skip
    code, crawled, log = crawl_with_old_extractor(site, tmp_path)
    # The old extractor's lost bylines turn the run red (column 332 always has them) ...
    assert code == 1, log[-3000:]
    assert "Run failed: layout_changed: " in log.splitlines()[-1]
    assert "lacking: byline 5" in log.splitlines()[-1]
    # ... but what it extracted was delivered, and every page it fetched archived.
    assert len(crawled) == 17  # columns 3 and 332, less the broken page
    assert {r["extractor_version"] for r in crawled} == {"2000.1.1"}
    assert all(r["byline"] is None and r["reporters"] == [] for r in crawled)

    # The archive: one valid WARC file of this run, a response (and its request) per page.
    (warc,) = (tmp_path / "state" / "archive").iterdir()
    assert warc.name.endswith(".warc.gz")
    with warc.open("rb") as fh:
        records = list(_records(fh))
    kinds = [r[0] for r in records]
    assert kinds[0] == "warcinfo"
    responses = [r for r in records if r[0] == "response"]
    assert len(responses) == len(site.article_hits()) == 18
    assert kinds.count("request") == 18
    first = responses[0]
    assert first[1].startswith(site.root + "/articles/")
    assert first[2]["Newsbot-Canonical-URL"].startswith("https://www.nbd.com.cn/articles/")
    assert {r[2].get("Newsbot-Column") for r in responses} == {"3", "332"}
    assert f"archive/{warc.name}" in log and "Archived 18 article pages" in log

    # Reparse with today's extractor, the site's answers unchanged: no request is made.
    broken_page["on"] = False
    hits = len(site.hits)
    done = reparse(tmp_path)
    assert len(site.hits) == hits
    assert done.returncode == 1, done.stderr  # the broken page still gives no record
    assert f"article {BROKEN}: not_article" in done.stderr
    assert "reparse: 17 records from 18 archived articles; 1 gave no valid record" in done.stderr
    rebuilt = {r["article_id"]: r for r in map(json.loads, done.stdout.splitlines())}
    old = {r["article_id"]: r for r in crawled}
    assert rebuilt.keys() == old.keys()
    for ident, record in rebuilt.items():
        assert record["extractor_version"] == EXTRACTOR_VERSION
        assert record["reporters"] and record["byline"], ident  # the fix shows
        same = [f for f in EXTRACTED_FIELDS if f not in ("byline", "reporters")]
        assert {f: record[f] for f in same} == {f: old[ident][f] for f in same}
        assert record["column"] == old[ident]["column"]
        assert abs(_seconds(record["fetched_at"]) - _seconds(old[ident]["fetched_at"])) <= 2
    assert list(rebuilt[BROKEN_NEIGHBOUR]) == list(old[BROKEN_NEIGHBOUR])  # field order

    # The same into a file, published whole.
    target = tmp_path / "rebuilt" / "articles.jsonl"
    to_file = reparse(tmp_path, "-o", str(target))
    assert to_file.returncode == 1 and to_file.stdout == ""
    assert target.read_text("utf-8") == done.stdout
    assert [p.name for p in target.parent.iterdir()] == ["articles.jsonl"]


BROKEN_NEIGHBOUR = "1700302"


def test_reparse_without_an_archive(tmp_path: Path):
    done = reparse(tmp_path)
    assert done.returncode == 2
    assert "no WARC files" in done.stderr and "NEWSBOT_ARCHIVE" in done.stderr


def _records(fh):
    for record in ArchiveIterator(fh, check_digests=True):
        headers = dict(record.rec_headers.headers)
        record.content_stream().read()
        yield record.rec_type, headers.get("WARC-Target-URI", ""), headers


def _seconds(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp).timestamp()
