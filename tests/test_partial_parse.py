"""An article page parsed only through its article reads exactly as the whole page does.

The page object parses the bytes up to the end of ``div.g-article`` and turns to the rest of
the page only when a reading may need it (newsbot.pages.partial). Each case below is the
fixture page ``original-2021-full`` with one change around or after the article, read twice:
by the page object as it is, and by the same page object made to parse the whole page. The
two must give the same record, removed blocks, body lines and time readings; each case also
states how much of the page it expects the page object to have parsed, so that a guard that
stops working (or a cut that is never taken) shows up.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from itemadapter import ItemAdapter
from lxml import etree
from scrapy.http import HtmlResponse

from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage, _find_body
from newsbot.pages.partial import PageTree, forget_navigation, navigation, open_elements
from tests.corpus_kit import corpus_pages, wrap
from tests.helpers import ARTICLES, need_shared

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
URL = "https://www.nbd.com.cn/articles/2021-04-10/1693417.html"
BASE = (ARTICLES / "original-2021-full.html").read_text(encoding="utf-8")
PUB_DATE = '"pubDate": "2021-04-10 23:49:51"'
META_TIME = '<meta property="article:published_time" content="2021-04-12T10:00:00+08:00">'


class WholePage(ArticlePage):
    """The same page object, made to parse the whole page: the reference."""

    def _tree(self) -> tuple[PageTree, etree._Element | None]:
        root = self._root()
        return PageTree(root), _find_body(root)


def read(page_type: type[ArticlePage], body: bytes, url: str = URL) -> tuple[dict[str, Any], str]:
    page = page_type(HtmlResponse(url=url, body=body), fetched_at=NOW)
    try:
        record: dict[str, Any] = ItemAdapter(page.to_item()).asdict()
    except NotArticle as e:
        record = {"not_article": e.reason}
    seen = {
        "record": record,
        "removed": page.removed,
        "lines": page.body_lines,
        "readings": page.published.readings,
    }
    return seen, page.parsed or ""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"the fixture no longer holds {old!r}"
    return text.replace(old, new, 1)


def before_body_end(markup: str) -> Callable[[str], str]:
    return lambda page: edit(page, "</body>", markup + "</body>")


def no_head_pub_date(page: str) -> str:
    return edit(page, PUB_DATE, '"pubDay": "2021-04-10 23:49:51"')


def in_article_body(markup: str) -> Callable[[str], str]:
    return lambda page: edit(
        page, '<div class="g-articl-text">', '<div class="g-articl-text">' + markup
    )


def chain(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def run(page: str) -> str:
        for step in edits:
            page = step(page)
        return page

    return run


def no_visible_time(page: str) -> str:
    return re.sub(r'<span class="time">\s*2021-04-10 23:49:51\s*</span>', "", page, count=1)


def no_declared_titles(page: str) -> str:
    page = re.sub(r"<title>.*?</title>", "", page, count=1)
    page = re.sub(r'<meta property="og:title"[^>]*>', "", page)
    return re.sub(r"<h1>.*?</h1>", "<h1> </h1>", page, count=1, flags=re.S)


CASES: dict[str, tuple[Callable[[str], str], str]] = {
    # The page as the site serves it: read through the article only.
    "as-served": (lambda page: page, "article"),
    # Around the cut: the div count and the parse's own check.
    "div-tags-in-a-comment-in-the-body": (
        in_article_body("<!-- <div></div></div></div> -->"),
        "article",
    ),
    "unclosed-div-in-the-body": (in_article_body('<div class="x">'), "article"),
    "div-end-tag-in-a-script-in-the-body": (
        in_article_body('<script>document.write("</div></div>")</script>'),
        "page",
    ),
    "article-never-closed": (in_article_body("<div>" * 12), "page"),
    # Time sources after the article, which the part lacks.
    "pub-date-script-after-the-article": (
        chain(no_head_pub_date, before_body_end("<script>var info = {" + PUB_DATE + "};</script>")),
        "article+tags",
    ),
    "pub-date-split-across-the-cut": (
        chain(
            no_head_pub_date,
            lambda page: edit(page, "</head>", '<script>var info = {"pubDate"</script></head>'),
            # the next script in page order, the first after the article
            lambda page: edit(
                page,
                '<div class="g-main-right">',
                '<script>: "2021-04-10 23:49:51"};</script><div class="g-main-right">',
            ),
        ),
        "article+tags",
    ),
    "json-ld-after-the-article": (
        before_body_end(
            '<script type="application/ld+json">'
            '{"@type": "NewsArticle", "datePublished": "2021-04-10T23:50:00+08:00"}</script>'
        ),
        "article+tags",
    ),
    "meta-time-after-the-article": (
        before_body_end(
            '<meta property="article:published_time" content="2021-04-10T23:49:51+08:00">'
        ),
        "article+tags",
    ),
    "upper-case-meta-after-the-article": (
        before_body_end(
            '<META PROPERTY="article:published_time" CONTENT="2021-04-10T23:49:51+08:00">'
        ),
        "article+tags",
    ),
    "pub-date-in-a-comment-after-the-article": (
        chain(
            no_head_pub_date,
            before_body_end("<!-- <p><script>var info = {" + PUB_DATE + "};</script></p> -->"),
        ),
        "article+tags",
    ),
    "pub-date-in-a-textarea-after-the-article": (
        chain(
            no_head_pub_date,
            before_body_end("<textarea><script>var info = {" + PUB_DATE + "};</script></textarea>"),
        ),
        "article+tags",
    ),
    "pub-date-in-an-attribute-after-the-article": (
        chain(no_head_pub_date, before_body_end("<a title='{" + PUB_DATE + "}'>x</a>")),
        "article+tags",
    ),
    "unclosed-pub-date-script-at-the-end": (
        chain(no_head_pub_date, before_body_end("<script>var info = {" + PUB_DATE + "};")),
        "article+tags",
    ),
    # Found by a red-team pass: libxml2 stops at </html> and at its depth limit, ends a script
    # only at a well-formed end tag, reads a tag in an attribute value as text; a start tag's
    # quoted value may hold ">".
    "meta-time-after-the-html-end-tag": (
        lambda page: edit(page, "</html>", "</html>" + META_TIME),
        "article+tags",
    ),
    "pub-date-after-an-early-html-end-tag": (
        chain(
            no_head_pub_date,
            lambda page: edit(
                page,
                '<div class="g-main-right">',
                "</html><script>var info = {" + PUB_DATE + '};</script><div class="g-main-right">',
            ),
        ),
        "article+tags",
    ),
    "meta-time-past-the-depth-limit": (before_body_end("<span>" * 300 + META_TIME), "article+tags"),
    "pub-date-after-a-script-end-tag-libxml2-does-not-take": (
        chain(
            no_head_pub_date,
            before_body_end("<script>var a;</script\x0b><p>{" + PUB_DATE + "}</p></script>"),
        ),
        "article+tags",
    ),
    "json-ld-start-tag-with-a-quoted-gt": (
        before_body_end(
            """<script a="'" b='>' type="application/ld+json">"""
            '{"datePublished": "2021-04-12T10:00:00+08:00"}</script>'
        ),
        "article+tags",
    ),
    "meta-time-inside-an-attribute-after-the-article": (
        before_body_end(f"<a href='<head>{META_TIME}</head>'>x</a>"),
        "article+tags",
    ),
    # First matches the part lacks: the whole page is parsed for them (and then read whole).
    "no-visible-time-and-a-meta-time-after-the-article": (
        chain(no_visible_time, no_head_pub_date, before_body_end(META_TIME)),
        "page",
    ),
    "og-title-after-the-article-head-title-before": (
        chain(
            lambda page: re.sub(r"<h1>.*?</h1>", "<h1> </h1>", page, count=1, flags=re.S),
            lambda page: edit(page, "</head>", META_TIME + "</head>"),
            before_body_end('<meta property="og:title" content="储能电池扩产">'),
        ),
        "page",
    ),
    "visible-time-only-in-the-sidebar": (
        chain(
            no_visible_time,
            lambda page: edit(
                page,
                '<div class="g-main-right">',
                '<div class="g-main-right"><span class="time">2021-04-11 08:00:00</span>',
            ),
        ),
        "page",
    ),
    "title-only-in-the-footer": (
        chain(no_declared_titles, before_body_end("<h1>储能电池扩产</h1>")),
        "page",
    ),
    # Bytes the whole-page reader treats otherwise: the page is read whole, as before (a
    # stray byte that is not UTF-8 makes it no article at all: "" for no record).
    "invalid-utf8-after-the-article": (before_body_end("<p>\udcff</p>"), ""),
    "nul-byte-after-the-article": (before_body_end("<p>\x00</p>"), "page"),
    # A time element left open before the article holds it, and its text goes on past the cut:
    # read as the visible time (the top has none), from the whole page.
    "time-left-open-around-the-article": (
        chain(no_visible_time, lambda page: edit(page, "<body>", '<body><span class="time">x')),
        "page",
    ),
    # A second body start tag, dropped by libxml2, which then ignores the first body end tag:
    # the meta tag after it, past libxml2's depth limit in the whole page, is not read.
    "dropped-body-tag-then-a-time-deep-in-the-rest": (
        chain(
            lambda page: edit(page, "<body>", "<body><body>"),
            before_body_end("</body>" + "<span>" * 252 + META_TIME),
        ),
        "page",
    ),
}


def encode(page: str) -> bytes:
    return page.encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("name", list(CASES))
def test_reads_as_the_whole_page(name: str) -> None:
    change, extent = CASES[name]
    body = encode(change(BASE))
    seen, parsed = read(ArticlePage, body)
    expected, whole = read(WholePage, body)
    assert seen == expected
    assert parsed == extent
    assert whole == ("page" if extent else "")
    assert ("not_article" in seen["record"]) == (not extent)


def test_the_time_sources_after_the_article_are_read() -> None:
    """The cases above compare with the whole page; here, that the readings are there at all."""
    sources = {}
    for name in ("pub-date-script-after-the-article", "json-ld-after-the-article",
                 "meta-time-after-the-article", "pub-date-split-across-the-cut"):  # fmt: skip
        seen, _ = read(ArticlePage, encode(CASES[name][0](BASE)))
        sources[name] = [reading.source for reading in seen["readings"]]
    assert sources == {
        "pub-date-script-after-the-article": ["span.time", "script.pubDate"],
        "json-ld-after-the-article": ["span.time", "script.pubDate", "json-ld"],
        "meta-time-after-the-article": ["span.time", "script.pubDate", "meta"],
        "pub-date-split-across-the-cut": ["span.time", "script.pubDate"],
    }


def test_a_canonical_link_after_the_article_is_found() -> None:
    page = edit(BASE, f'<link rel="canonical" href="{URL}">', "")
    # With a time source after the article too: read from the whole page parsed for the link.
    body = encode(before_body_end(f'<link rel="canonical" href="{URL}">{META_TIME}')(page))
    saved_as = (ARTICLES / "original-2021-full.html").resolve().as_uri()
    seen, parsed = read(ArticlePage, body, url=saved_as)
    assert seen == read(WholePage, body, url=saved_as)[0]
    assert seen["record"]["url"] == URL
    assert [reading.source for reading in seen["readings"]][-1] == "meta"
    assert parsed == "page"


@pytest.mark.parametrize("path", sorted(ARTICLES.glob("*.html")), ids=lambda p: p.stem)
def test_every_fixture_reads_as_the_whole_page(path: Path) -> None:
    body = path.read_bytes()
    seen, parsed = read(ArticlePage, body, url=path.resolve().as_uri())
    assert seen == read(WholePage, body, url=path.resolve().as_uri())[0]
    # Every fixture page is valid UTF-8 but the GBK one: the rest are read through the article.
    assert parsed == ("page" if path.stem == "gbk-page-meta-charset" else "article")


def test_every_corpus_post_reads_as_the_whole_page() -> None:
    need_shared()
    shell_start = BASE.index('<div class="g-article">')
    shell_end = BASE.index('<div class="g-main-right">')
    differ, wrong_extent = [], []
    for post in corpus_pages():
        markup = post.read_text(encoding="utf-8")
        article = wrap(markup)
        # The post's article in the fixture's page, between its navigation and its sidebar.
        inner = re.search(rb"<div class='g-article'>.*</div>(?=</body>)", article, re.S)
        assert inner is not None, post.name
        in_shell = encode(BASE[:shell_start]) + inner[0] + b"\n" + encode(BASE[shell_end:])
        for body in (article, in_shell):
            seen, extent = read(ArticlePage, body)
            if seen != read(WholePage, body)[0]:
                differ.append(post.name)
            # A post with no visible time sends the page object to the whole page for one.
            visible = any(reading.source == "span.time" for reading in seen["readings"])
            if extent != ("article" if visible else "page"):
                wrong_extent.append((post.name, extent))
    assert not differ
    assert not wrong_extent


# --- the navigation left out -------------------------------------------------------------------

ARTICLE_START = '<div class="g-article">'


def nav_end(markup: str) -> Callable[[str], str]:
    """``markup`` as the last thing of the navigation, right before the article."""
    return lambda page: edit(page, ARTICLE_START, markup + ARTICLE_START)


def nav_start(markup: str) -> Callable[[str], str]:
    return lambda page: edit(page, "<body>", "<body>" + markup)


def in_head(markup: str) -> Callable[[str], str]:
    return lambda page: edit(page, "</head>", markup + "</head>")


# Each: a change to the fixture page's navigation (or its body tag), and whether the page
# object is expected to leave the navigation out of its parse. Every one reads as the whole
# page, whether it is left out or not.
NAV_CASES: dict[str, tuple[Callable[[str], str], bool] | tuple[Callable[[str], str], bool, str]] = {
    "as-served": (lambda page: page, True),
    # Whatever libxml2 makes of it, read from its own parse of the navigation: left out.
    "open-link-around-the-article": (nav_end('<a href="/x">'), True),
    "open-span-and-div": (nav_end("<span><div id=n>"), True),
    "self-closing-div": (nav_start('<div class="x"/><span>a</span>'), True),
    "self-closing-void": (nav_start('<br/><img src="/a.png" /><hr>'), True),
    "gt-in-a-quoted-value": (nav_start("<a title=\"a>b\" href='/c>d'>x</a>"), True),
    "equals-in-an-unquoted-value": (nav_start("<a href=/s?q=1&t=2>x</a>"), True),
    "white-space-in-tags": (nav_start('<a\thref = "/x"\n\x0c>x</a\n>'), True),
    "comments": (
        nav_start("<!-- a - b -- c ---><!----><!-->x<!--->y<!-- a --!><!-- <div> -->"),
        True,
    ),
    "entity-in-text": (nav_start("<span>&lt;div&gt; &amp;</span>"), True),
    "h1-logo": (nav_start('<h1 class="logo"><a href="/">每经网</a></h1>'), True),
    "style": (nav_start("<style>.a{}</style>"), True),
    "textarea": (nav_start("<textarea><div></textarea>"), True),
    "iframe": (nav_start('<iframe src="/x"></iframe>'), True),
    "table": (nav_start("<table><tr><td>x</td></tr></table>"), True),
    "table-left-open": (nav_end("<table><tr><td>"), True),
    "paragraph-closed-by-a-div": (nav_start("<p>menu<div>x</div>"), True),
    "link-in-a-link": (nav_start("<a href=/a>x<a href=/b>y</a></a>"), True),
    "list-item-in-a-list-item": (nav_start("<ul><li>a<li>b</ul>"), True),
    "stray-end-tags": (nav_start("</span></p></br></div>"), True),
    "end-tag-of-another-element": (nav_start("<div><span></div></span>"), True),
    "less-than-in-text": (nav_start("<span>a < b</span>"), True),
    "less-than-in-a-value": (nav_start('<a title="a<b">x</a>'), True),
    "upper-case-tags": (nav_start("<DIV>x</DIV><Span>y"), True),
    "processing-instruction": (nav_start("<?php echo 1; ?>"), True),
    "nested-200-deep": (nav_start("<div>" * 200 + "</div>" * 200), True),
    "body-in-a-head-comment": (in_head("<!-- <body> -->"), True),
    "body-with-attributes": (lambda page: edit(page, "<body>", '<body class="a>b" id=x>'), True),
    "odd-attributes-on-an-open-element": (nav_end("<div a=\"&quot;&amp;'\" b='\"' c=x&y d>"), True),
    # What the page object reads from the whole page, or what may set the parser's state beyond
    # its open elements: parsed with the page.
    "script": (nav_start("<script>var a = '</div>';</script>"), False),
    "canonical-link": (nav_start(f'<link rel="canonical" href="{URL}">'), False),
    "meta-time": (nav_start(META_TIME), False),
    "meta-charset": (nav_start('<meta charset="gbk">'), False),
    "time-in-the-navigation": (nav_start('<span class="time">2020-01-01 10:00:00</span>'), False),
    # (and the body found first is not in an article: the whole page is read)
    "article-body-in-the-navigation": (
        nav_start('<div class="g-articl-text">x</div>'),
        False,
        "page",
    ),
    "class-time-by-character-reference": (
        nav_start('<span class="&#116;ime">2020-01-01 10:00:00</span>'),
        False,
    ),
    "class-body-by-character-reference": (
        nav_start('<div class="g-&#97;rticl-text">x</div>'),
        False,
        "page",
    ),
    "body-end-tag": (nav_start("<span>x</span></body>"), False),
    "head-tags": (nav_start("<head></head>"), False),
    "html-tag": (nav_start('<html lang="en">'), False),
    "doctype": (nav_start("<!DOCTYPE html>"), False),
    "open-paragraph-before-the-article": (nav_end("<p>"), False),
    # (libxml2 stops at its depth limit, or reads the article as text: no article at all)
    "nested-300-deep": (nav_start("<div>" * 300 + "</div>" * 300), False, ""),
    "open-textarea-before-the-article": (nav_end("<div><textarea>"), False, ""),
    "mark-on-an-open-element": (nav_end('<div data-newsbot-open="x">'), False),
    "mark-on-a-closed-element": (nav_start('<div data-newsbot-open="">x</div>'), False),
    "mark-on-the-body": (lambda page: edit(page, "<body>", '<body data-newsbot-open="">'), False),
    # A start tag left unended swallows the article's (and the sentinel, parsed on its own).
    "navigation-ending-inside-a-start-tag": (nav_end("<span x"), False, "page"),
    "sentinel-id-in-the-navigation": (nav_end('<textarea id="newsbot-cut-7d1f">'), False, ""),
    # "<body -->" ends a comment in the head: the head is still open there, and the
    # navigation's title goes into it; the body libxml2 implies later is not that tag's.
    "body-tag-text-ending-a-head-comment": (
        lambda page: edit(page, "</head>\n<body>", "<!-- <body --><title>menu</title>"),
        False,
    ),
    "nothing-open-at-the-article": (
        lambda page: re.sub(r"<body>.*?(?=<div class=\"g-article\">)", "<body>", page, flags=re.S),
        False,
    ),
    "body-in-a-navigation-comment": (nav_end("<!-- <body> -->"), False),
    "second-body-tag": (nav_end("<body>"), False),
    "upper-case-body-tag": (lambda page: edit(page, "<body>", "<BODY>"), False),
}


def article_as_parsed(page_type: type[ArticlePage], body: bytes) -> tuple[Any, ...]:
    """The article element as the page's parse gives it: its markup, its ancestors' tags and
    attributes, the head's markup."""
    tree, found = page_type(HtmlResponse(url=URL, body=body), fetched_at=NOW)._tree()
    assert tree.root is not None and found is not None
    article = next(a for a in found.iterancestors() if a.get("class") == "g-article")
    ancestors = [(a.tag, dict(a.attrib)) for a in article.iterancestors()]
    head = tree.root[0]
    return (
        etree.tostring(article, with_tail=False),
        ancestors,
        etree.tostring(head, with_tail=False),
    )


def left_out(body: bytes) -> int:
    page = ArticlePage(HtmlResponse(url=URL, body=body), fetched_at=NOW)
    with contextlib.suppress(NotArticle):  # as the whole page's reading (compared first)
        page.to_item()
    return page.left_out


@pytest.mark.parametrize("name", list(NAV_CASES))
def test_the_navigation_reads_as_the_whole_page(name: str) -> None:
    change, expected, *extent = NAV_CASES[name]
    body = encode(change(BASE))
    seen, parsed = read(ArticlePage, body)
    assert seen == read(WholePage, body)[0]
    assert parsed == (extent[0] if extent else "article")  # "": not an article
    assert (left_out(body) > 0) == expected
    if not extent:  # and the parse itself: the article, where it stands, the head
        assert article_as_parsed(ArticlePage, body) == article_as_parsed(WholePage, body)


def test_a_navigation_is_left_out_from_the_second_page_that_has_it() -> None:
    forget_navigation()
    pages = [encode(nav_start(f"<span>{n}</span>")(BASE)) for n in (1, 2, 1, 1, 2, 3, 2)]
    assert [left_out(body) > 0 for body in pages] == [False, False, True, True, True, False, True]


def test_a_navigation_longer_than_the_memo_keeps_is_parsed_with_its_page() -> None:
    forget_navigation()
    body = encode(nav_start("<span>menu</span>" * 20_000)(BASE))
    assert [left_out(body) for _ in range(3)] == [0, 0, 0]
    assert read(ArticlePage, body)[0] == read(WholePage, body)[0]


def test_the_navigation_memo_tells_navigations_of_one_size_apart() -> None:
    """Two pages whose navigations are as long as each other, one that can be left out and one
    that cannot, read one after the other: each as its whole page."""
    forget_navigation()
    plain = encode(nav_start("<span>abcde</span>")(BASE))
    script = encode(nav_start("<script>1</script>")(BASE))
    assert len(plain) == len(script)
    for body, expected in [(plain, True), (script, False), (plain, True), (script, False)]:
        assert read(ArticlePage, body)[0] == read(WholePage, body)[0]
        assert (left_out(body) > 0) == expected


def test_a_navigation_with_nul_or_bytes_not_utf8_is_parsed() -> None:
    for bad in (b"\x00", b"\xff", b"\xe6\x96"):
        body = encode(BASE).replace(b"<body>", b"<body><span>" + bad + b"</span>", 1)
        assert read(ArticlePage, body)[0] == read(WholePage, body)[0]
        assert (
            open_elements(body[body.index(b"<body>") + 6 : body.index(b'<div class="g-art')])
            is None
        )


def test_a_lead_stands_in_for_the_navigation_with_marked_start_tags() -> None:
    forget_navigation()
    body = encode(BASE)
    start = body.index(ARTICLE_START.encode())
    assert navigation(body, start) is None  # met once: parsed with its page
    lead = navigation(body, start)
    assert lead is not None
    assert body[lead.cut : lead.cut + 6] == b"<body>"
    assert lead.body_tag == b'<body data-newsbot-open="">'
    assert [tag for tag, _ in lead.elements] == ["div", "div"]
    assert lead.chain == (
        b'<div class="w1200 g-main" data-newsbot-open=""><div class="g-main-left"'
        b' data-newsbot-open="">'
    )
    # The parse shows no mark: they are removed once checked.
    seen = ArticlePage(HtmlResponse(url=URL, body=body), fetched_at=NOW)
    tree, _ = seen._tree()
    assert tree.left_out == start - (lead.cut + len(b"<body>"))
    assert tree.root is not None and not tree.root.xpath("//*[@data-newsbot-open]")
