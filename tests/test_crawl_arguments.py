"""Spider arguments: each wrong one stops ``scrapy crawl nbd`` at once, with a message naming
it and exit status 2, before anything is fetched."""

from __future__ import annotations

import subprocess
import sys

import pytest
from scrapy.utils.test import get_crawler

from newsbot.spiders.arguments import ArgumentError
from newsbot.spiders.nbd import NbdSpider
from tests.crawlkit import PROJECT, run_crawl
from testsite import SiteCopy

GOOD_URL = "https://www.nbd.com.cn/articles/2021-04-05/1700501.html"

BAD_ARGUMENTS = [
    (["colums=3"], "unknown argument 'colums'"),
    (["columns=yaowen"], "columns: 'yaowen' is not a column"),
    (["columns=3,,332"], "columns: an empty item"),
    (["since=2021-13-01"], "since: '2021-13-01' is not a date"),
    (["until=yesterday"], "until: 'yesterday' is not a date"),
    (["since=2021-05-01", "until=2021-04-01"], "since (2021-05-01) is after until (2021-04-01)"),
    (["url=https://evil.test/articles/2021-04-01/1.html"], "not an article URL"),
    (["url=https://www.nbd.com.cn/columns/3/"], "not an article URL"),
    (["url=,"], "url: empty"),
    (["urls_file=/nonexistent/urls.txt"], "urls_file: '/nonexistent/urls.txt' does not exist"),
    (["query=  "], "query: empty"),
    ([f"url={GOOD_URL}", "query=碳中和"], "query cannot be combined with url/urls_file"),
    (["columns=3", "query=碳中和"], "columns cannot be combined with query"),
    ([f"url={GOOD_URL}", "since=2021-04-01"], "since applies to columns and query"),
    ([f"url={GOOD_URL}", "max_pages=2"], "max_pages applies to columns and query"),
    (["max_articles=0"], "max_articles: '0' is not a whole number of at least 1"),
    (["max_articles=ten"], "max_articles: 'ten' is not a whole number"),
    (["max_pages=-1"], "max_pages: '-1' is not a whole number"),
    (["full=maybe"], "full: 'maybe' is not a yes/no value"),
    (["recheck_days=-2"], "recheck_days: '-2' is not a whole number"),
]


def crawl_command(root: str, arguments: list[str], settings: dict[str, str]) -> list[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", "nbd", "-s", f"NEWSBOT_SITE_ROOT={root}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    return command


def assert_refused(site: SiteCopy, arguments: list[str], message: str, **settings: str) -> None:
    done = subprocess.run(
        crawl_command(site.root, arguments, settings),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert ": error: nbd: " in last, done.stderr[-3000:]
    assert message in last
    assert site.hits == []  # nothing fetched, not even robots.txt


@pytest.mark.process
@pytest.mark.parametrize(("arguments", "message"), BAD_ARGUMENTS, ids=lambda v: str(v)[:40])
def test_bad_argument_stops_the_run(site: SiteCopy, arguments: list[str], message: str):
    assert_refused(site, arguments, message)


@pytest.mark.process
def test_bad_lines_of_a_urls_file_are_named(site: SiteCopy, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# list\n{GOOD_URL}\n\nhttps://www.nbd.com.cn/about\n")
    assert_refused(site, [f"urls_file={listing}"], f"urls_file {listing} line 4")
    (tmp_path / "empty.txt").write_text("# nothing here\n\n")
    assert_refused(site, [f"urls_file={tmp_path / 'empty.txt'}"], "lists no URLs")


@pytest.mark.process
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"NEWSBOT_SITE_ROOT": "ftp://127.0.0.1/"}, "NEWSBOT_SITE_ROOT must look like"),
        ({"NEWSBOT_COLUMNS": "3,news"}, "NEWSBOT_COLUMNS setting: 'news' is not a column"),
        ({"NEWSBOT_SEARCH_PAGE_SIZE": "0"}, "NEWSBOT_SEARCH_PAGE_SIZE: 0 is not between"),
    ],
)
def test_bad_setting_stops_the_run(site: SiteCopy, settings: dict[str, str], message: str):
    assert_refused(site, [], message, **settings)


def test_scheduler_and_feed_parameters_are_accepted(site: SiteCopy, tmp_path):
    """scrapyd adds ``_job``; an argument used in the feed path (``%(category)s``) is kept for
    Scrapy to fill in."""
    out = tmp_path / "out"
    result = run_crawl(
        site.root,
        f"url={GOOD_URL}",
        "_job=abc123",
        "category=要闻",
        tmp_path=tmp_path,
        settings={"FEEDS": f'{{"{out}/%(category)s.jsonl": {{"format": "jsonlines"}}}}'},
    )
    assert result.returncode == 0, result.explain()
    assert (out / "要闻.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_spider_built_in_process_raises_on_a_bad_argument(tmp_path):
    """Outside the crawl command (CrawlerProcess, scrapyd's runner) the spider itself refuses."""
    # Its own state directory: the crawler's state extension takes the directory's lock and
    # keeps it while this process lives (the crawler never runs, so never closes it).
    crawler = get_crawler(
        NbdSpider,
        {"NEWSBOT_SITE_ROOT": "http://127.0.0.1:9", "NEWSBOT_STATE_DIR": str(tmp_path / "state")},
    )
    with pytest.raises(ArgumentError, match="unknown argument 'colums'"):
        NbdSpider.from_crawler(crawler, colums="3")
    with pytest.raises(ArgumentError, match="since"):
        NbdSpider.from_crawler(crawler, since="April")
