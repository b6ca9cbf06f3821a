"""Atom and RSS documents from records (newsbot.syndication), checked with feedparser, a strict
RELAX NG parse and the W3C validator's rules (tests/feedcheck.py). The crawl tests are in
tests/test_feeds_crawl.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from newsbot.syndication import (
    FeedFileError,
    entry_of,
    feed_info,
    merge,
    read_entries,
    render,
)
from newsbot.syndication_export import _PendingFeed
from tests.feedcheck import check_feed, shown, strict_parse

BASE = "http://127.0.0.1:8000/feeds"
FORMATS = ("atom", "rss")
HOSTILE_TITLE = "A股]]>收盘<script>alert('t')</script>\x00\x1b[31m\x85\ufffe尾"
HOSTILE_BODY = (
    "第一段]]><![CDATA[x]]>\n<script>alert('b')</script><img src=x onerror=alert(1)>\n\x07结尾"
)


def record(ident: int, **changes: Any) -> dict[str, Any]:
    day = dt.date(2021, 4, 1) + dt.timedelta(days=ident % 20)
    rec: dict[str, Any] = {
        "url": f"https://www.nbd.com.cn/articles/{day.isoformat()}/{ident}.html",
        "article_id": str(ident),
        "title": f"稿件{ident}",
        "source": "每日经济新闻",
        "published_at": f"{day.isoformat()}T10:{ident % 60:02d}:00+08:00",
        "reporters": ["林晓舟"],
        "abstract": "要点一\n要点二",
        "body": f"第一段{ident}\n第二段",
        "images": ["https://img.example/lead.jpg", "/inline.png"],
        "image_credit": "视觉中国",
        "tags": [{"name": "中泰化学", "type": "stock", "code": "002092"}],
        "fetched_at": "2021-04-25T00:00:00+00:00",
        "column": "3",
        "revision": 1,
    }
    rec.update(changes)
    return rec


def document(fmt: str, records: list[dict[str, Any]], old: bytes | None = None, n: int = 50):
    entries = [entry_of(fmt, r, {"3": "要闻"}) for r in records]
    previous = read_entries(fmt, old) if old else []
    info = feed_info("3", fmt, base_url=BASE, column_names={"3": "要闻"})
    return render(fmt, info, merge(previous, entries, n)), info.self_url


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_feed_of_full_articles_is_valid_and_reads_back_in_feedparser(fmt: str) -> None:
    data, self_url = document(fmt, [record(1), record(2, reporters=[], kind="ai_flash")])
    parsed = check_feed(data, fmt, self_url)
    assert parsed.feed.title == "每经网 · 要闻"
    newest, older = parsed.entries
    assert newest.id == "https://www.nbd.com.cn/articles/2021-04-03/2.html"
    assert newest.link == newest.id
    assert newest.title == "稿件2"
    assert newest.author == "每日经济新闻"  # no reporters: the source
    assert older.author == "林晓舟"
    assert [t.term for t in newest.tags] == ["要闻", "ai_flash", "中泰化学"]
    assert newest.published_parsed[:6] == (2021, 4, 3, 2, 2, 0)  # 10:02 at +08:00, in UTC
    published = newest.published
    assert published.endswith("+08:00") if fmt == "atom" else published.endswith("+0800")
    html = newest.content[0].value
    assert "<p>第一段2</p>" in html and "<p>第二段</p>" in html
    assert 'src="https://img.example/lead.jpg"' in html
    assert 'src="https://www.nbd.com.cn/inline.png"' in html  # made absolute
    assert "视觉中国" in html
    summary = shown(newest.summary_detail)
    assert "要点一" in summary and "要点二" in summary


@pytest.mark.parametrize("fmt", FORMATS)
def test_figures_give_captions_and_credits(fmt: str) -> None:
    figures = [
        {"url": "https://img.example/1.jpg", "caption": "图为工地", "credit": "每经记者 张三 摄"},
        {"url": "https://img.example/2.jpg", "caption": "<b>说明</b>", "credit": None},
    ]
    data, self_url = document(fmt, [record(1, figures=figures, images=[f["url"] for f in figures])])
    html = check_feed(data, fmt, self_url).entries[0].content[0].value
    page = lxml.html.fragment_fromstring(html, create_parent="div")
    captions = [c.text_content() for c in page.iter("figcaption")]
    assert captions == ["图为工地 每经记者 张三 摄", "<b>说明</b>"]
    assert [i.get("src") for i in page.iter("img")] == [f["url"] for f in figures]


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_text_stays_text(fmt: str) -> None:
    data, self_url = document(fmt, [record(1, title=HOSTILE_TITLE, body=HOSTILE_BODY)])
    entry = check_feed(data, fmt, self_url).entries[0]
    assert shown(entry.title_detail) == "A股]]>收盘<script>alert('t')</script>[31m尾"
    raw = data.decode("utf-8")
    assert "<script" not in raw and "]]>" not in raw and "\x00" not in raw
    # What a reader renders: the entry's HTML, parsed as HTML, has the page text as text only.
    root = etree.fromstring(data)
    content = root.find(".//{http://www.w3.org/2005/Atom}content")
    if content is None:
        content = root.find(".//{http://purl.org/rss/1.0/modules/content/}encoded")
    page = lxml.html.fragment_fromstring(content.text, create_parent="div")
    assert not page.xpath("//script") and not page.xpath("//*[@onerror]")
    assert "<script>alert('b')</script>" in page.text_content()
    assert "]]><![CDATA[x]]>" in page.text_content()
    assert [i.get("src") for i in page.iter("img")] == [
        "https://img.example/lead.jpg",
        "https://www.nbd.com.cn/inline.png",
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(min_size=1, max_size=40), body=st.text(max_size=200))
def test_any_text_gives_a_valid_feed(title: str, body: str) -> None:
    for fmt in FORMATS:
        data, self_url = document(fmt, [record(1, title=title, body=body, abstract=body)])
        check_feed(data, fmt, self_url)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rolling_merge_keeps_the_newest_n_and_a_revision_replaces_its_entry(fmt: str) -> None:
    first, _ = document(fmt, [record(i) for i in (1, 2, 3)], n=3)
    revised = record(2, title="改过的标题", body="新正文", revision=2)
    second, self_url = document(fmt, [record(4), revised], old=first, n=3)
    parsed = check_feed(second, fmt, self_url)
    ids = [e.id.rsplit("/", 1)[1] for e in parsed.entries]
    assert ids == ["4.html", "3.html", "2.html"]  # newest first; 1 rolled off
    entry = parsed.entries[2]
    assert entry.title == "改过的标题" and "<p>新正文</p>" in entry.content[0].value
    if fmt == "atom":
        assert entry.updated == "2021-04-25T08:00:00+08:00"  # the revision's fetch time
        assert parsed.entries[1].updated == parsed.entries[1].published
    # Reading the file back and writing it with nothing new gives the same bytes.
    again, _ = document(fmt, [], old=second, n=3)
    assert again == second


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_newsbot_did_not_write_is_refused_not_overwritten(fmt: str) -> None:
    with pytest.raises(FeedFileError, match="not well-formed"):
        read_entries(fmt, b"<feed><entry><id>x</id>")
    other = b"<?xml version='1.0'?><html><body>hello</body></html>"
    with pytest.raises(FeedFileError, match="not an"):
        read_entries(fmt, other)


def test_the_strict_parser_refuses_what_readers_would_refuse() -> None:
    data, _ = document("atom", [record(1)])
    no_id = data.replace(b"<id>https://www.nbd.com.cn/articles/2021-04-02/1.html</id>", b"")
    with pytest.raises(etree.DocumentInvalid):
        strict_parse(no_id, "atom")
    naive = data.replace(b"2021-04-02T10:01:00+08:00", b"2021-04-02T10:01:00")
    with pytest.raises(etree.DocumentInvalid):
        strict_parse(naive, "atom")
    rss, _ = document("rss", [record(1)])
    bad_date = rss.replace(b"Fri, 02 Apr 2021 10:01:00 +0800", b"2021-04-02 10:01:00")
    with pytest.raises(etree.DocumentInvalid):
        strict_parse(bad_date, "rss")


def test_a_long_run_keeps_only_what_can_end_in_the_feed() -> None:
    feed = _PendingFeed(2)
    for i in range(1, 8):
        feed.add(entry_of("atom", record(i)))
    assert len(feed.entries) < 4  # pruned as the run goes
    # The file holds an older version of article 1 under another time: it must not come back.
    stale = entry_of("atom", record(1, published_at="2021-05-01T00:00:00+08:00"))
    kept = entry_of("atom", record(99, published_at="2021-04-01T00:00:00+08:00"))
    merged = feed.merged([stale, kept])
    assert [e.id.rsplit("/", 1)[1] for e in merged] == ["7.html", "6.html"]
    assert [e.id.rsplit("/", 1)[1] for e in _PendingFeed(5).merged([stale, kept])] == [
        "1.html",
        "99.html",
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_video_page_and_its_sourcing_line(fmt: str) -> None:
    video = record(
        5,
        body="",
        images=[],
        kind="video",
        videos=[{"url": "/v/5.mp4", "poster": "https://img.example/5.jpg"}],
        sourced_from="央视新闻<客户端>",
    )
    data, self_url = document(fmt, [video])
    entry = check_feed(data, fmt, self_url).entries[0]
    page = lxml.html.fragment_fromstring(entry.content[0].value, create_parent="div")
    assert next(a.get("href") for a in page.iter("a")) == "https://www.nbd.com.cn/v/5.mp4"
    assert "来源：央视新闻<客户端>" in page.text_content()
    assert "video" in [t.term for t in entry.tags]
