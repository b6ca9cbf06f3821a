"""Column mode, end to end: ``scrapy crawl nbd`` against the local site copy.

What the hand-written columns of fixtures/site/columns/ list (see fixtures/site/README.md):
"""

from __future__ import annotations

from pathlib import Path

from newsbot.pages import valid_utf8
from newsbot.pages.partial import forget_navigation
from tests.crawlkit import run_crawl
from testsite import SiteCopy
from testsite.sitecopy import render_article

#: Column 3 (2019–2026 markup, three pages): article ids by list date.
COLUMN_3 = {
    "2021-04-05": {"1700501", "1700502", "1700503"},
    "2021-04-04": {"1700401", "1700402", "1700403"},
    "2021-04-03": {"1700301", "1700302"},
    "2021-04-02": {"1700201", "1700202"},
    "2021-04-01": {"1700101", "1700102"},
    "2021-03-31": {"1700001"},
}
ALL_3 = set().union(*COLUMN_3.values())
COLUMN_332 = {"1230001", "1230002", "1230003", "1229901", "1229902"}  # 2018 markup, two pages
COLUMN_1367 = {"1700601", "1700602", "1700501"}  # 1700501 is also in column 3
SIDEBAR = "1799901"  # linked beside the list and from every synthetic article: never fetched


def list_pages(site: SiteCopy) -> list[str]:
    return [p for p in site.paths() if p.startswith("/columns/")]


def test_default_job_one_record_per_listed_article(site: SiteCopy, trap: SiteCopy, tmp_path):
    # The crawl runs in this process: the navigations other tests' pages had are forgotten, as
    # in the process of a crawl of its own (counted below).
    forget_navigation()
    result = run_crawl(site.root, tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()

    fixtures = {a.id for a in site.listed("1161")}
    assert fixtures, "fixtures/articles/ holds no article pages"
    expected = ALL_3 | COLUMN_332 | COLUMN_1367 | fixtures
    assert sorted(result.ids()) == sorted(expected)  # each once
    assert result.stats["finish_reason"] == "finished"
    assert result.stat("newsbot/discovered") == len(expected)

    # Records carry canonical URLs (not the 127.0.0.1 they came from) and their column.
    for record in result.records:
        assert record["url"].startswith("https://www.nbd.com.cn/articles/"), record["url"]
        assert record["url"].endswith(f"/{record['article_id']}.html")
    column = {r["article_id"]: r["column"] for r in result.records}
    assert {column[i] for i in ALL_3 - COLUMN_1367} == {"3"}
    assert {column[i] for i in COLUMN_332} == {"332"}
    assert {column[i] for i in fixtures} == {"1161"}
    assert column["1700501"] in {"3", "1367"}

    # What was fetched: robots.txt first, each article once, nothing beside the lists.
    assert site.paths()[0] == "/robots.txt"
    assert site.paths().count("/robots.txt") == 1
    fetched = site.article_hits()
    assert sorted(fetched) == sorted(expected)
    assert SIDEBAR not in fetched
    assert sorted(list_pages(site)) == sorted(
        [
            "/columns/3/",
            "/columns/3/page/2",
            "/columns/3/page/3",
            "/columns/3/page/4",  # guessed after a page without a next link: 404 ends it
            "/columns/332/",
            "/columns/332/page/2",  # guessed: the 2018 list has no next link
            "/columns/332/page/3",
            "/columns/1161/",
            "/columns/1161/page/2",
            "/columns/1367/",
            "/columns/1367/page/2",
        ]
    )
    assert result.stat("newsbot/list/guessed_page_missing") == 4

    # Off-site, spam and non-http links on the lists were refused, never requested.
    assert trap.hits == []
    assert all(h.headers.get("host", "").startswith("127.0.0.1:") for h in site.hits)
    assert result.stat("newsbot/refused/offsite") == 1
    assert result.stat("newsbot/refused/spam_host") == 2  # lianghua. (col 3), activity. (332)
    assert result.stat("newsbot/refused/scheme") == 3  # javascript:, mailto:, file:
    assert result.stat("newsbot/list/layout/modern") == 5
    assert result.stat("newsbot/list/layout/v2018") == 2
    assert not result.prefixed("newsbot/failed/")
    # Every page was parsed only through its article (its rest's tags read when they may hold
    # a time), but the GBK one, which is not UTF-8 and is read whole.
    parsed = result.prefixed("newsbot/parsed/")
    assert sum(parsed.values()) == len(result.records)
    assert result.stat("newsbot/parsed/page") == 1
    # And with its navigation left out, but the first of each navigation met (the site copy's
    # fixture pages each have their own; the GBK one is read whole).
    navigations, read_through = set(), 0
    for ident in result.ids():
        article = site.articles[ident]
        body = article.file.read_bytes() if article.file else render_article(article).encode()
        if not valid_utf8(body):
            continue
        read_through += 1
        start = body.find(b'<div class="g-article">')
        body_tag = body.rfind(b"<body", 0, start)
        navigations.add(body[body.index(b">", body_tag) + 1 : start])
    assert read_through == len(result.records) - 1
    assert len(navigations) < read_through
    left_out = result.stat("newsbot/parsed_without/navigation")
    assert left_out == read_through - len(navigations)


def test_date_window_judged_on_list_rows(site: SiteCopy, tmp_path):
    result = run_crawl(
        site.root, "columns=3", "since=2021-04-02", "until=2021-04-04", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.explain()
    wanted = COLUMN_3["2021-04-04"] | COLUMN_3["2021-04-03"] | COLUMN_3["2021-04-02"]
    assert sorted(result.ids()) == sorted(wanted)
    # Nothing outside the window was fetched, not even to look at it.
    assert sorted(site.article_hits()) == sorted(wanted)
    # Page 3 is all older than `since`: paging stops there (no guessed page 4).
    assert list_pages(site) == ["/columns/3/", "/columns/3/page/2", "/columns/3/page/3"]
    assert result.stat("newsbot/skipped/outside_window") == len(ALL_3 - wanted) + 1  # + a repeat
    for record in result.records:
        assert "2021-04-02" <= record["published_at"][:10] <= "2021-04-04"


def test_since_stops_paging_early(site: SiteCopy, tmp_path):
    result = run_crawl(site.root, "columns=3,332", "since=2021-04-05", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == sorted(COLUMN_3["2021-04-05"])
    # Column 3's first page reaches 2021-04-04, a day before `since`: its page 2 (older still)
    # is never asked for; the 2018 column's first page is older than `since` already.
    assert sorted(list_pages(site)) == ["/columns/3/", "/columns/332/"]
    assert result.stat("newsbot/list/since_reached") == 2


def test_page_limit(site: SiteCopy, tmp_path):
    result = run_crawl(site.root, "columns=3", "max_pages=1", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == sorted(COLUMN_3["2021-04-05"] | COLUMN_3["2021-04-04"])
    assert list_pages(site) == ["/columns/3/"]
    assert result.stat("newsbot/list/page_limit_reached") == 1


def test_zero_pages_means_no_limit_as_an_argument_and_as_the_setting(site_factory, tmp_path):
    # Column 3 has three list pages (the fourth, guessed, is a 404); the setting's limit is 1.
    for name, extra in (("argument", ["max_pages=0"]), ("setting", [])):
        site = site_factory()
        limit = "1" if extra else "0"
        result = run_crawl(
            site.root, "columns=3", *extra, tmp_path=tmp_path / name,
            settings={"NEWSBOT_MAX_LIST_PAGES": limit},
        )  # fmt: skip
        assert result.returncode == 0, result.explain()
        assert list_pages(site)[:3] == ["/columns/3/", "/columns/3/page/2", "/columns/3/page/3"]
        assert result.stat("newsbot/list/page_limit_reached") == 0
        assert sorted(result.ids()) == sorted(ALL_3)


def test_page_limit_setting_applies_without_since(site: SiteCopy, tmp_path):
    result = run_crawl(
        site.root, "columns=3", tmp_path=tmp_path, settings={"NEWSBOT_MAX_LIST_PAGES": "2"}
    )
    assert result.returncode == 0, result.explain()
    assert list_pages(site) == ["/columns/3/", "/columns/3/page/2"]
    assert len(result.records) == 10


def test_max_articles(site: SiteCopy, tmp_path):
    result = run_crawl(site.root, "columns=3", "max_articles=4", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert len(result.records) == 4
    assert len(site.article_hits()) == 4
    assert set(result.ids()) <= ALL_3
    # Once the limit is reached no further list page is read.
    assert list_pages(site) == ["/columns/3/"]
    assert result.stat("newsbot/discovered") == 4


def test_closespider_itemcount_is_honoured(site: SiteCopy, tmp_path):
    result = run_crawl(
        site.root,
        "columns=3",
        tmp_path=tmp_path,
        settings={"CLOSESPIDER_ITEMCOUNT": "2", "CONCURRENT_REQUESTS": "1"},
    )
    assert result.stats["finish_reason"] == "closespider_itemcount", result.explain()
    assert 2 <= len(result.records) < len(ALL_3)


def test_trouble_column_accounts_for_every_article(site: SiteCopy, trap: SiteCopy, tmp_path):
    """Column 2 lists a missing article, redirects off-site, to a spam host, to an alias of the
    site's own address and to another article, a challenge page and a robots-disallowed one."""
    result = run_crawl(site.root, "columns=2", tmp_path=tmp_path)
    # Two of eight (the 404 and the challenge) are real failures: too many for a green run.
    assert result.returncode == 1, result.explain()
    assert "Run failed: too_many_failures: 2 of 8" in result.log.strip().splitlines()[-1]
    failed = result.prefixed("newsbot/failed/")
    assert failed == {
        "http_404": 1,  # 1700702
        "offsite_redirect": 2,  # 1700703 (to 127.0.0.2), 1700708 (to localhost:PORT)
        "spam_host": 1,  # 1700704
        "moved": 1,  # 1700705 answered with 1700706
        "blocked": 1,  # 1700707, asked twice
        "robots_forbidden": 1,  # 1690001
    }, result.explain()
    assert result.ids() == ["1700706"]
    assert result.stat("newsbot/discovered") == 8  # the seven listed, and 1700706
    # Nothing went to the other hosts, the disallowed article was never asked for, the
    # challenged one was asked for again once after a pause.
    assert trap.hits == []
    assert all(h.headers["host"].startswith("127.0.0.1:") for h in site.hits)
    assert "1690001" not in site.article_hits()
    assert site.article_hits().count("1700707") == 2
    assert result.stat("newsbot/refused/robots_forbidden") == 1
    assert result.stat("newsbot/blocked/article") == 2


def test_page_numbers_the_site_ignores_end_paging(site: SiteCopy, tmp_path):
    """A site without pagination may answer /page/2 with the first page again."""
    first = site.answer_path("/columns/1367/")
    site.route(r"/columns/1367/page/\d+", lambda hit: first)
    result = run_crawl(site.root, "columns=1367", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sorted(result.ids()) == sorted(COLUMN_1367)
    assert list_pages(site) == ["/columns/1367/", "/columns/1367/page/2"]
    assert result.stat("newsbot/list/repeated_page") == 1


def test_robots_disallowed_column(site: SiteCopy, tmp_path):
    result = run_crawl(site.root, "columns=4", tmp_path=tmp_path)
    # A column that cannot be read at all turns the run red.
    assert result.returncode == 1, result.explain()
    assert "Run failed: list_failed: column 4" in result.log.strip().splitlines()[-1]
    assert result.records == []
    assert site.paths() == ["/robots.txt"]
    assert result.stat("newsbot/list/failed/robots_forbidden") == 1


def test_unknown_list_layout_is_loud(site: SiteCopy, tmp_path):
    result = run_crawl(site.root, "columns=5", tmp_path=tmp_path)
    assert result.records == []
    assert result.stat("newsbot/list/unreadable") == 1
    assert "layout may have changed" in result.log
    assert site.article_hits() == []


def test_incremental_run_stops_at_delivered_pages(site: SiteCopy, tmp_path):
    """A second run on the same state store reads list pages only until a whole page holds
    articles delivered before and older than the first run's newest one (less the overlap)."""
    first = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    assert sorted(first.ids()) == sorted(ALL_3), first.explain()

    site.hits.clear()
    second = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    assert second.returncode == 0, second.explain()
    assert second.records == []
    # Page 1 still holds articles newer than the mark less 6 hours; page 2 does not.
    assert list_pages(site) == ["/columns/3/", "/columns/3/page/2"]
    assert second.stat("newsbot/list/caught_up") == 1
    assert site.article_hits() == []
    # Rows of pages 1 and 2: ten articles, two of them listed twice.
    assert second.stat("newsbot/skipped/delivered") == 12

    # full=1 ignores the mark and what was delivered: every page, every article again.
    site.hits.clear()
    full = run_crawl(site.root, "columns=3", "full=1", tmp_path=tmp_path)
    assert full.returncode == 0, full.explain()
    assert sorted(site.article_hits()) == sorted(ALL_3)
    assert "/columns/3/page/3" in list_pages(site)


def test_fixture_column_lists_every_fixture(site: SiteCopy):
    files = sorted(Path(site.site_dir.parent / "articles").glob("*.html"))
    assert len(site.listed("1161")) == len(files)
