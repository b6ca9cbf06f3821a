"""The list page and search answer readers on the site copy's pages and on answers of every
shape (pure: no crawl)."""

from __future__ import annotations

import json

import pytest
from scrapy.http import HtmlResponse

from newsbot.pages.listing import ListPage, NotListPage
from newsbot.pages.search import SearchAnswerError, parse_answer, search_body
from tests.helpers import FIXTURES

SITE = FIXTURES / "site"


def page(path, url: str = "http://127.0.0.1:8765/columns/3/") -> ListPage:
    return ListPage(HtmlResponse(url, body=path.read_bytes(), encoding="utf-8"))


def test_modern_markup_rows_dates_and_next_link():
    listing = page(SITE / "columns/3/index.html")
    assert listing.layout == "modern"
    assert listing.channel_name == "要闻"
    rows = listing.rows
    assert len(rows) == 12  # every row, junk links and repeats included
    first = rows[0]
    assert first.url == "https://www.nbd.com.cn/articles/2021-04-05/1700501.html"
    assert first.title == "央行一季度货币政策报告释放稳增长信号 碳中..."
    assert first.listed_at_iso == "2021-04-05T23:10:05+08:00"
    assert rows[1].url == "https://www.nbd.com.cn/articles/2021-04-05/1700502.html"  # //www
    assert rows[7].url == "https://www.nbd.com.cn/articles/2021-04-04/1700402.html"  # relative
    assert rows[7].listed_at_iso == "2021-04-04T10:05:00+08:00"
    assert {r.url.split(":")[0] for r in rows} == {"https", "http", "javascript", "mailto", "file"}
    # Relative next link, resolved against the real site, not the address it came from.
    assert listing.next_page_url == "https://www.nbd.com.cn/columns/3/page/2"
    # The sidebar's link is not a row.
    assert not any("1799901" in r.url for r in rows)


def test_protocol_relative_next_link_and_last_page():
    assert (
        page(SITE / "columns/3/page/2.html").next_page_url
        == "https://www.nbd.com.cn/columns/3/page/3"
    )
    assert page(SITE / "columns/3/page/3.html").next_page_url is None


def test_2018_markup():
    listing = page(SITE / "columns/332/index.html", "http://127.0.0.1:8765/columns/332/")
    assert listing.layout == "v2018"
    assert [(r.url, r.title, r.listed_at_iso) for r in listing.rows[:2]] == [
        (
            "https://www.nbd.com.cn/articles/2018-05-03/1230001.html",
            "深度调查｜一家老牌药企的转型之路",
            "2018-05-03T09:15:00+08:00",
        ),
        (
            "http://www.nbd.com.cn/articles/2018-05-02/1230002.html",
            "独家对话：新能源重卡的商业化难题",
            "2018-05-02T20:40:11+08:00",
        ),
    ]
    assert len(listing.rows) == 4
    assert listing.next_page_url is None  # "加载更多" is a javascript: link


def test_mobile_markup():
    listing = page(SITE / "mobile-column.html", "https://m.nbd.com.cn/columns/3/page/1/")
    assert listing.layout == "mobile"
    assert [(r.url, r.listed_at) for r in listing.rows] == [
        ("https://m.nbd.com.cn/articles/2021-04-05/1700501.html", None),
        ("https://www.nbd.com.cn/articles/2021-04-05/1700502.html", None),
    ]
    assert listing.rows[0].title.startswith("央行一季度货币政策报告")


def test_the_extractor_fixtures_list_page_reads():
    listing = page(FIXTURES / "not_articles" / "column-list-page.html")
    assert listing.layout == "modern"
    assert len(listing.rows) > 10
    assert all(r.listed_at is not None for r in listing.rows)
    assert all("/articles/" in r.url for r in listing.rows)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (SITE / "challenge.html", "blocked"),
        (FIXTURES / "not_articles" / "challenge-too-frequent.html", "blocked"),
        (FIXTURES / "not_articles" / "challenge-security-check.html", "blocked"),
        (SITE / "columns/5/index.html", "not_list"),
        (SITE / "404.html", "not_list"),
        (FIXTURES / "articles" / "original-2021-full.html", "not_list"),
    ],
    ids=lambda v: getattr(v, "name", v),
)
def test_not_a_list_page(path, reason):
    with pytest.raises(NotListPage) as raised:
        page(path).rows  # noqa: B018
    assert raised.value.reason == reason


def test_empty_list_is_not_an_error():
    html = b'<html><body><div class="g-list-text"><div class="u-channelname">x</div></div>'
    listing = ListPage(HtmlResponse("http://127.0.0.1/columns/3/page/9", body=html))
    assert listing.rows == []


def answer(**data) -> str:
    return json.dumps({"code": 200, "data": {"totalHits": 1, "searchResults": [], **data}})


def test_search_answer_reads():
    text = answer(
        totalHits=2,
        searchResults=[
            {"title": "<em>碳中和</em>进展", "url": "//www.nbd.com.cn/articles/2021-04-01/1.html",
             "publishTime": "2021-04-01 08:00:00"},
            {"title": None, "url": "/articles/2021-04-02/2.html", "publishTime": ""},
        ],
    )  # fmt: skip
    parsed = parse_answer(text.encode())
    assert parsed.total == 2
    assert [(h.url, h.title) for h in parsed.hits] == [
        ("//www.nbd.com.cn/articles/2021-04-01/1.html", "碳中和进展"),
        ("/articles/2021-04-02/2.html", None),
    ]
    assert parsed.hits[0].published_at.isoformat() == "2021-04-01T08:00:00+08:00"
    assert parsed.hits[1].published_at is None
    assert search_body("x", 0, 16)["from"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON"),
        ("[]", "is a list, not an object"),
        ('{"code": 500, "msg": "busy"}', "code 500 busy"),
        ('{"code": 200}', "no data object"),
        ('{"code": 200, "data": {"totalHits": 3}}', "no data.searchResults list"),
        ('{"code": 200, "data": {"searchResults": []}}', "no usable data.totalHits"),
        (answer(searchResults=["x"]), "search result 0 is a str"),
        (answer(searchResults=[{"title": "t"}]), "search result 0 has no url"),
        (answer(searchResults=[{"url": "u", "title": 5}]), "title of type int"),
        (answer(searchResults=[{"url": "u", "publishTime": "昨天"}]), "publishTime '昨天'"),
    ],
)
def test_search_answer_of_another_shape_is_an_error(text, message):
    with pytest.raises(SearchAnswerError, match=message):
        parse_answer(text)


def test_channel_host_markup():
    """money.nbd.com.cn/columns/432.html/: a.f-title + p.f-source rows outside the 2018 list,
    and a hidden copy of the first rows; relative links are the channel host's."""
    listing = ListPage(
        HtmlResponse(
            "http://127.0.0.1:8765/columns/432.html/",
            body=(SITE / "columns/432/index.html").read_bytes(),
            encoding="utf-8",
        ),
        base_url="https://money.nbd.com.cn/columns/432.html/",
    )
    assert listing.layout == "channel"
    rows = listing.rows
    assert len(rows) == 10  # eight rows and the hidden copy of two
    assert rows[0].url == "https://www.mrjjxw.com/articles/2026-07-21/4490136.html"
    assert rows[0].listed_at_iso == "2026-07-21T10:20:00+08:00"
    assert rows[1].url == "https://money.nbd.com.cn/articles/2026-07-21/4490137.html"
    assert rows[1].title == "城市更新项目集中开工 专项资金陆续到位"
    assert [r.listed_at_iso for r in rows[-2:]] == [
        "2026-07-21T10:20:00+08:00", "2026-07-21T09:40:00+08:00",
    ]  # fmt: skip
    assert listing.next_page_url is None


def test_mobile_web_app_markup():
    listing = page(SITE / "web_app/column/317.html", "http://127.0.0.1:8765/web_app/column/317/")
    assert listing.layout == "app"
    assert [(r.title, r.listed_at_iso) for r in listing.rows] == [
        ("暑期档票房破百亿 国产动画表现亮眼", "2026-07-18T21:00:00+08:00"),
        ("新型储能装机规模翻番 电站利用率仍待提升", "2026-07-18T15:30:00+08:00"),
        ("二手车出口量同比大增 中东市场需求旺盛", None),
    ]
    assert listing.rows[2].url == "https://www.nbd.com.cn/articles/2026-07-18/4490153.html"


def test_mobile_paged_markup_links_to_its_next_page():
    listing = page(SITE / "columns/318/index.html", "http://127.0.0.1:8765/columns/318/")
    assert listing.layout == "mobile"
    assert len(listing.rows) == 2
    assert listing.next_page_url == "https://m.nbd.com.cn/columns/318/page/2/"
