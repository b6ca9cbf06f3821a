"""URL lists and keyword search, end to end against the local site copy."""

from __future__ import annotations

import json

from tests.crawlkit import run_crawl
from testsite import Reply, SiteCopy
from testsite.sitecopy import SEARCH_PATH


def test_url_list_in_every_form_maps_to_canonical_records(site: SiteCopy, trap: SiteCopy, tmp_path):
    urls = [
        "https://www.nbd.com.cn/articles/2021-04-05/1700501.html",
        "http://m.nbd.com.cn/articles/2021-04-04/1700401.html?from=timeline&utm_source=wx",
        "https://stocks.nbd.com.cn/articles/2021-04-04/1700403.html#top",
        "http://www.nbd.com.cn/articles/2021-04-05/01700501.html",  # the first one again
        "https://www.nbd.com.cn/articles/2021-04-07/1700702.html",  # gone: 404
    ]
    result = run_crawl(site.root, "url=" + ",".join(urls), tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == ["1700401", "1700403", "1700501"]
    assert sorted(r["url"] for r in result.records) == [
        "https://www.nbd.com.cn/articles/2021-04-04/1700401.html",
        "https://www.nbd.com.cn/articles/2021-04-04/1700403.html",
        "https://www.nbd.com.cn/articles/2021-04-05/1700501.html",
    ]
    assert {r["column"] for r in result.records} == {None}
    # Fetched from the configured root, each once, by their canonical paths.
    assert sorted(p for p in site.paths() if p.startswith("/articles/")) == [
        "/articles/2021-04-04/1700401.html",
        "/articles/2021-04-04/1700403.html",
        "/articles/2021-04-05/1700501.html",
        "/articles/2021-04-07/1700702.html",
    ]
    assert not any(p.startswith("/columns/") for p in site.paths())
    assert result.prefixed("newsbot/failed/") == {"http_404": 1}
    assert result.stat("newsbot/discovered") == 4
    assert trap.hits == []


def test_urls_file(site: SiteCopy, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "\ufeff# articles to fetch again\n"
        "https://www.nbd.com.cn/articles/2021-04-06/1700601.html\n"
        "\n"
        "   https://m.nbd.com.cn/articles/2018-05-03/1230001.html   \n",
        encoding="utf-8",
    )
    result = run_crawl(site.root, f"urls_file={listing}", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == ["1230001", "1700601"]


def search_bodies(site: SiteCopy) -> list[dict]:
    return [h.json() for h in site.hits if h.route == SEARCH_PATH]


def test_query_pages_through_the_search_api(site: SiteCopy, tmp_path):
    expected = [a.id for a in site.search("碳中和")]
    assert len(expected) > 6
    result = run_crawl(
        site.root, "query=碳中和", tmp_path=tmp_path, settings={"NEWSBOT_SEARCH_PAGE_SIZE": "3"}
    )
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == sorted(expected)
    bodies = search_bodies(site)
    assert [b["from"] for b in bodies] == list(range(0, len(expected), 3))
    assert {(b["keyword"], b["size"]) for b in bodies} == {("碳中和", 3)}
    posts = [h for h in site.hits if h.route == SEARCH_PATH]
    assert {h.method for h in posts} == {"POST"}
    assert all(h.headers["content-type"].startswith("application/json") for h in posts)
    assert result.stat("newsbot/refused/spam_host") == 1  # the advertisement in the answer
    assert {r["column"] for r in result.records} == {None}


def test_query_honours_the_date_window(site: SiteCopy, tmp_path):
    hits = site.search("碳中和")
    wanted = [a.id for a in hits if "2021-04-04" <= a.date <= "2021-04-06"]
    assert wanted
    result = run_crawl(
        site.root,
        "query=碳中和",
        "since=2021-04-04",
        "until=2021-04-06",
        tmp_path=tmp_path,
        settings={"NEWSBOT_SEARCH_PAGE_SIZE": "3"},
    )
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == sorted(wanted)
    assert sorted(site.article_hits()) == sorted(wanted)
    # Newest first: once a whole answer page is older than `since`, no more pages.
    first_old_page = next(i for i in range(0, len(hits), 3) if hits[i].date < "2021-04-04")
    assert [b["from"] for b in search_bodies(site)][-1] == first_old_page


def test_query_max_articles(site: SiteCopy, tmp_path):
    result = run_crawl(site.root, "query=碳中和", "max_articles=2", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert len(result.records) == 2
    assert len(search_bodies(site)) == 1


def test_query_answer_of_another_shape_fails_the_run(site_factory, tmp_path):
    site = site_factory(search_shape="changed")
    result = run_crawl(site.root, "query=碳中和", tmp_path=tmp_path)
    assert result.records == []
    assert result.stats["finish_reason"] == "search_answer_invalid", result.explain()
    assert "has the API changed?" in result.log
    assert site.article_hits() == []


def test_query_api_failure_fails_the_run(site: SiteCopy, tmp_path):
    site.route(SEARCH_PATH, lambda hit: Reply(500, b"{}"))
    result = run_crawl(site.root, "query=碳中和", tmp_path=tmp_path, settings={"RETRY_TIMES": "1"})
    assert result.records == []
    assert result.stats["finish_reason"] == "search_failed", result.explain()
    assert len(search_bodies(site)) == 2  # asked, retried once
    assert json.loads(site.hits[-1].body)["keyword"] == "碳中和"
