"""The site as it is in 2025–2026 (NBD.md, "Seen in 2025–2026"), end to end through the real
engine against the local site copy, read through its hit log: the second article host
www.mrjjxw.com, every column list form, list links that redirect, and the time sources.

What the forms' lists hold (fixtures/site/articles.tsv, "2025–2026 forms"):
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.crawlkit import run_crawl
from tests.opskit import report_of
from testsite import Reply, SiteCopy
from testsite.sitecopy import SECOND_HOST, WHOLE_COLUMN_ROWS

MONEY = "https://money.nbd.com.cn/columns/432.html/"
WHOLE = "https://www.nbd.com.cn/columns/2093.html/"
APP = "https://m.nbd.com.cn/web_app/column/317/"
MOBILE = "https://m.nbd.com.cn/columns/318/"

#: The money channel's list: every row but the one redirecting off the site becomes a record.
MONEY_IDS = {"4490136", "4490137", "4490138", "4490139", "4490140", "4490142", "4490143"}
OFF_SITE = "4490141"  # its link redirects to the trap (127.0.0.2)
APP_IDS = {"4490151", "4490152", "4490153"}
MOBILE_IDS = {"4490161", "4490162", "4490163"}
#: Where each time-form article's time comes from.
TIME_SOURCES = {
    "4490137": "script.pubDate",  # no span.time
    "4490138": "json-ld",  # only JSON-LD, in UTC
    "4490139": "meta",  # only article:published_time
    "4490143": "script.pubDate",  # span.time unreadable
    "4490140": "span.time",  # the script disagrees by two hours: the visible time is kept
    "4490136": "span.time",
}


def list_hits(site: SiteCopy) -> list[str]:
    return [h.path for h in site.hits if not h.route.startswith(("/articles/", "/robots.txt"))]


def test_every_column_list_form(site: SiteCopy, trap: SiteCopy, tmp_path: Path):
    result = run_crawl(site.root, f"columns={MONEY},{WHOLE},{APP},{MOBILE}", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    whole = {a.id for a in site.listed("2093")}
    assert len(whole) == WHOLE_COLUMN_ROWS

    # What was fetched: each list form at its own path on the root; the forms that never paged
    # are read once (no guessed page 2), the paged mobile list until its guessed page 3 is a 404.
    assert sorted(list_hits(site)) == [
        "/columns/2093.html/",
        "/columns/318/",
        "/columns/318/page/2/",
        "/columns/318/page/3/",
        "/columns/432.html/",
        "/web_app/column/317/",
    ]
    assert result.stat("newsbot/list/whole_column_page") == 3  # 432, 2093, 317
    assert result.stat("newsbot/list/guessed_page_missing") == 1  # /columns/318/page/3/
    assert result.prefixed("newsbot/list/layout/") == {
        "channel": 1, "modern": 1, "app": 1, "mobile": 2,
    }  # fmt: skip

    # What was delivered: one record per listed article, the record's column naming the list.
    column = {r["article_id"]: r["column"] for r in result.records}
    assert sorted(column) == sorted(MONEY_IDS | whole | APP_IDS | MOBILE_IDS)
    assert len(result.records) == len(column)  # each once
    assert {column[i] for i in MONEY_IDS} == {"money-432"}
    assert {column[i] for i in whole} == {"2093"}
    assert {column[i] for i in APP_IDS} == {"m-317"}
    assert {column[i] for i in MOBILE_IDS} == {"m-318"}
    for record in result.records:  # second-host, channel-host and mobile links: one URL
        assert record["url"] == (
            f"https://www.nbd.com.cn/articles/{record['published_at'][:10]}/"
            f"{record['article_id']}.html"
        )

    # Every article page was asked for at its canonical path on the root, once; the link with
    # the wrong date redirected to the second host, followed on the root.
    fetched = [h.path for h in site.hits if h.route.startswith("/articles/")]
    assert "/articles/2026-07-19/4490142.html" in fetched
    assert fetched.count("/articles/2026-07-20/4490142.html") == 1
    assert result.stat("newsbot/redirect/onto_root") == 1
    assert sorted(site.article_hits()) == sorted(
        [*(MONEY_IDS | whole | APP_IDS | MOBILE_IDS | {OFF_SITE}), "4490142"]  # asked twice
    )
    # The redirect off the site was refused (nothing reached the trap) and counted per column.
    assert trap.hits == []
    assert all(h.headers["host"] == f"127.0.0.1:{site.port}" for h in site.hits)
    assert result.prefixed("newsbot/failed/") == {"offsite_redirect": 1}
    report = report_of(result, tmp_path / "state")
    assert report["columns"]["money-432"]["redirects_refused"] == 1
    assert report["columns"]["money-432"]["failed"] == {"offsite_redirect": 1}
    assert {report["columns"][c]["redirects_refused"] for c in ("2093", "m-317", "m-318")} == {0}
    assert list(report["columns"]) == ["money-432", "2093", "m-317", "m-318"]

    # Times: the source each record's time came from, and the one page whose sources disagree.
    by_id = {r["article_id"]: r for r in result.records}
    for ident, source in TIME_SOURCES.items():
        assert by_id[ident]["published_at_source"] == source, ident
        article = site.articles[ident]
        assert by_id[ident]["published_at"] == f"{article.date}T{article.time}+08:00", ident
    assert by_id["4490138"]["published_at_raw"] == "2026-07-21T01:10:00Z"
    assert list(by_id["4490137"])[-1] == "published_at_source"  # the record's last field
    assert result.stat("newsbot/time/disagreement") == 1
    assert report["time_disagreements"] == [
        {
            "article_id": "4490140",
            "url": "https://www.nbd.com.cn/articles/2026-07-20/4490140.html",
            "visible": "2026-07-20T18:30:00+08:00",
            "other": "2026-07-20T20:30:00+08:00",
            "other_source": "script.pubDate",
        }
    ]
    assert "Time sources disagree: 4490140" in result.log
    assert "Redirects refused: column money-432 1" in result.log


def test_column_ids_and_list_urls_together(site: SiteCopy, tmp_path: Path):
    """``-a columns=3,<list URL>``: an id and a list URL in one run; a list URL of a column
    already named by id (its own www form) is the same column."""
    result = run_crawl(
        site.root,
        f"columns=1367,{MONEY},https://www.nbd.com.cn/columns/1367/",
        "max_pages=1",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.explain()
    assert sorted(list_hits(site)) == ["/columns/1367/", "/columns/432.html/"]
    assert {r["column"] for r in result.records} == {"1367", "money-432"}
    assert report_of(result, tmp_path / "state")["arguments"]["columns"].startswith("1367,")


def test_mobile_list_stops_paging_on_since(site: SiteCopy, tmp_path: Path):
    result = run_crawl(site.root, f"columns={MOBILE}", "since=2026-07-17", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == ["4490161", "4490162"]
    # Page 2 reaches 2026-07-16: the guessed page 3 is not asked for.
    assert list_hits(site) == ["/columns/318/", "/columns/318/page/2/"]
    assert result.stat("newsbot/list/since_reached") == 1


def test_second_host_urls_name_the_same_article(site: SiteCopy, tmp_path: Path):
    """url= and urls_file= in the second host's form (and its http, mobile and www forms) are
    one article: one key, one canonical URL, one request at the canonical path."""
    second = f"https://{SECOND_HOST}/articles/2026-07-21/4490136.html"
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "# shared links\n"
        f"http://{SECOND_HOST}/articles/2026-07-21/4490136.html?from=wx\n"
        "https://m.nbd.com.cn/articles/2026-07-21/4490137.html\n"
        f"//{SECOND_HOST}/articles/2026-07-21/4490137.html#top\n",
        encoding="utf-8",
    )
    result = run_crawl(
        site.root,
        f"url={second},https://www.nbd.com.cn/articles/2026-07-21/4490136.html",
        f"urls_file={urls}",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == ["4490136", "4490137"]
    assert result.records[0]["url"].startswith("https://www.nbd.com.cn/articles/")
    assert sorted(h.path for h in site.hits if h.route.startswith("/articles/")) == [
        "/articles/2026-07-21/4490136.html",
        "/articles/2026-07-21/4490137.html",
    ]
    assert result.stat("newsbot/discovered") == 2


def test_search_answers_on_the_second_host_and_early_stop(site_factory, tmp_path: Path):
    """Search results in the 2026 form (``http://www.mrjjxw.com/...``): the same articles;
    newest first, so once an answer page reaches a day before ``since`` no further page is
    asked for."""
    site = site_factory(search_shape="second-host")
    keyword = "医药频道稿件"
    hits = site.search(keyword)
    wanted = [a.id for a in hits if a.date >= "2026-07-15"]
    assert 0 < len(wanted) < len(hits)
    result = run_crawl(
        site.root,
        f"query={keyword}",
        "since=2026-07-15",
        tmp_path=tmp_path,
        settings={"NEWSBOT_SEARCH_PAGE_SIZE": "7"},
    )
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == sorted(wanted)
    assert {r["url"].split("/")[2] for r in result.records} == {"www.nbd.com.cn"}
    offsets = [h.json()["from"] for h in site.hits if h.route == "/news-search/queryByMatch"]
    # The first page whose last result is older than `since` is the last one asked for.
    last = next(
        i for i in range(0, len(hits), 7) if hits[min(i + 6, len(hits) - 1)].date < "2026-07-15"
    )
    assert offsets == list(range(0, last + 1, 7))
    assert result.stat("newsbot/search/since_reached") == 1
    assert sorted(site.article_hits()) == sorted(wanted)


def test_under_the_real_names(site: SiteCopy, trap: SiteCopy, tmp_path: Path):
    """The root is the real site (``http://www.nbd.com.cn:PORT``, every name of the site on
    127.0.0.1): the channel list is fetched from its own host, articles from www, and a page
    that www redirects to www.mrjjxw.com is fetched from there."""
    root = f"http://www.nbd.com.cn:{site.port}"
    result = run_crawl(
        root,
        f"columns={MONEY}",
        tmp_path=tmp_path,
        settings={"DNS_RESOLVER": "tests.sitekit.SiteNamesOnLoopbackResolver"},
    )
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == sorted(MONEY_IDS)
    assert {r["column"] for r in result.records} == {"money-432"}
    port = f":{site.port}"
    seen = [(h.headers["host"].removesuffix(port), h.path) for h in site.hits]
    hosts = {host for host, _ in seen}
    assert hosts == {"www.nbd.com.cn", "money.nbd.com.cn", SECOND_HOST}
    assert ("money.nbd.com.cn", "/columns/432.html/") in seen
    assert {p for h, p in seen if h == "money.nbd.com.cn"} == {"/robots.txt", "/columns/432.html/"}
    # robots.txt once per host, before anything else there.
    for host in hosts:
        mine = [p for h, p in seen if h == host]
        assert mine[0] == "/robots.txt" and mine.count("/robots.txt") == 1, (host, mine)
    # www answers 4490136 with a redirect to the second host, which serves it; the link with
    # the wrong date is redirected there too.
    assert {p for h, p in seen if h == SECOND_HOST} == {
        "/robots.txt",
        "/articles/2026-07-21/4490136.html",
        "/articles/2026-07-20/4490142.html",
    }
    statuses = {(h.headers["host"].removesuffix(port), h.path): h.status for h in site.hits}
    assert statuses[("www.nbd.com.cn", "/articles/2026-07-21/4490136.html")] == 301
    assert statuses[(SECOND_HOST, "/articles/2026-07-21/4490136.html")] == 200
    # The off-site redirect was refused there too, and nothing went to the trap.
    assert trap.hits == []
    assert result.prefixed("newsbot/failed/") == {"offsite_redirect": 1}
    assert result.stat("newsbot/redirect/onto_root") == 0
    record = next(r for r in result.records if r["article_id"] == "4490136")
    assert record["url"] == "https://www.nbd.com.cn/articles/2026-07-21/4490136.html"
    assert SECOND_HOST not in json.dumps(record, ensure_ascii=False)


def test_html_column_url_without_the_slash(site: SiteCopy, tmp_path: Path):
    result = run_crawl(
        site.root, "columns=https://www.nbd.com.cn/columns/2093.html", "max_articles=3",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.explain()
    assert list_hits(site) == ["/columns/2093.html"]
    assert len(result.records) == 3
    assert {r["column"] for r in result.records} == {"2093"}
    # The newest rows first; every fourth row is linked on the second host.
    assert sorted(result.ids()) == sorted(a.id for a in site.listed("2093")[:3])


def test_a_guessed_page_that_is_no_list_ends_the_column(site: SiteCopy, tmp_path: Path):
    """A site without pagination may answer a guessed page number with some other page (its
    home page): the column ends there, quietly (a first page like that is an error: see
    test_crawl_columns.test_unknown_list_layout_is_loud)."""
    home = Reply(200, "<html><title>每经网</title><body><p>首页</p></body></html>".encode())
    site.route(r"/columns/3/page/4", lambda hit: home)
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert "/columns/3/page/4" in list_hits(site)
    assert result.stat("newsbot/list/guessed_page_unreadable") == 1
    assert result.stat("newsbot/list/unreadable") == 0
    assert report_of(result, tmp_path / "state")["columns"]["3"]["list_failures"] == []


def test_a_list_redirecting_to_a_channel_host_is_read_on_the_root(site: SiteCopy, tmp_path):
    moved = Reply(301, b"", {"Location": MONEY})
    site.route(r"/columns/2226/", lambda hit: moved)
    result = run_crawl(site.root, "columns=2226", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert list_hits(site) == ["/columns/2226/", "/columns/432.html/"]
    assert sorted(result.ids()) == sorted(MONEY_IDS)
    assert {r["column"] for r in result.records} == {"2226"}
    assert result.stat("newsbot/redirect/onto_root") == 2  # the list, and 4490142
