"""Bad content, served by the fault server and crawled through the real engine: lying and
missing charsets, BOMs, truncated and malformed markup, pages without an article, a list page
with no rows, invisible and bidi characters, scripts and event handlers, and a title built to
forge log lines.

Every page either gives a record that is right (the same fields as the clean UTF-8 page gives,
no mojibake, no markup, no control characters) or fails with a reason; the exit status says
whether the run did its job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from tests.faultkit import assert_accounted, clean_record, crawl
from tests.helpers import extracted_part
from testsite import Page, SiteCopy, render_article

HTML = {"Content-Type": "text/html"}  # no charset


def synthetic(server: SiteCopy, ident: str) -> str:
    """The site copy's page of a synthetic article (UTF-8, ``<meta charset="utf-8">``)."""
    return render_article(server.articles[ident])


def no_meta(page: str) -> str:
    return page.replace('<meta charset="utf-8">\n', "")


def with_meta(charset: str, *, http_equiv: bool = False) -> Callable[[str], str]:
    tag = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        if http_equiv
        else f'<meta charset="{charset}">'
    )
    return lambda page: page.replace('<meta charset="utf-8">', tag)


def rare_characters(page: str) -> str:
    """A paragraph with characters outside GBK (GB18030's four-byte range) and a euro sign."""
    return page.replace(
        "    <!-- 页数 -->", "    <p>生僻字𠮷与㐀，欧元符号€，全角ＡＢＣ。</p>\n    <!-- 页数 -->"
    )


def list_page(rows: list[tuple[str, str]], day: str = "2021-04-05") -> bytes:
    items = "".join(
        f'<li class="u-news-title"><a href="{url}">{title}</a><span>10:00:00</span></li>'
        for title, url in rows
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>栏目</title></head><body>'
        f'<div class="g-list-text"><div class="m-list"><p class="u-channeltime">{day}</p>'
        f'<ul class="u-news-list">{items}</ul></div></div></body></html>'
    ).encode()


def test_pages_in_any_charset_the_site_uses_give_the_same_record(tmp_path: Path) -> None:
    """GBK/GB18030 declared in the header only, in a meta tag only, or nowhere; a header or a
    meta tag that says UTF-8 over GBK bytes; UTF-8 with a BOM (which wins over a header)."""
    with SiteCopy(keep_alive=False) as server:
        cases: dict[str, tuple[str, Callable[[str], str], str, dict[str, str]]] = {
            "1700501": ("header only", no_meta, "gbk", {"Content-Type": "text/html; charset=GBK"}),
            "1700502": ("meta only", with_meta("gbk"), "gbk", HTML),
            "1700503": ("http-equiv only", with_meta("gb2312", http_equiv=True), "gbk", HTML),
            "1700401": ("nowhere", no_meta, "gbk", HTML),
            "1700402": ("header lies", no_meta, "gbk",
                        {"Content-Type": "text/html; charset=utf-8"}),
            "1700403": ("meta lies", lambda p: p, "gbk", HTML),
            "1700301": ("gb18030, 4-byte", lambda p: rare_characters(no_meta(p)), "gb18030",
                        {"Content-Type": "text/html; charset=gb18030"}),
            "1700302": ("gb18030 nowhere", lambda p: rare_characters(no_meta(p)), "gb18030",
                        HTML),
            "1700201": ("BOM", no_meta, "utf-8-sig", HTML),
            "1700202": ("BOM over a header", no_meta, "utf-8-sig",
                        {"Content-Type": "text/html; charset=gbk"}),
        }  # fmt: skip
        expected = {}
        for ident, (_, change, codec, headers) in cases.items():
            page = change(synthetic(server, ident))
            server.plan(re.escape(server.articles[ident].path),
                        Page(page.encode(codec), headers))  # fmt: skip
            expected[ident] = clean_record(server, ident, page.encode("utf-8"))
        rows = [(f"稿件{i}", server.articles[i].url) for i in cases]
        server.plan("/columns/88/", Page(list_page(rows)))
        result = crawl(server, "columns=88", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert_accounted(result, tmp_path / "state", dict.fromkeys(cases, "exported"))
    for record in result.records:
        ident = record["article_id"]
        assert extracted_part(record) == expected[ident], cases[ident][0]
        assert "\ufffd" not in json.dumps(record, ensure_ascii=False), cases[ident][0]
    rare = next(r for r in result.records if r["article_id"] == "1700301")
    assert "生僻字𠮷与㐀，欧元符号€，全角ＡＢＣ。" in rare["body"]


def hostile(page: str) -> str:
    """Invisible and bidi characters, scripts, event handlers, an iframe and a title that tries
    to start a log line of its own (CR/LF and ANSI escapes)."""
    title = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert title is not None
    forged = (
        "零\u200b宽\u200d字符\u2060与\u202e反转\u202c和\u200f标记\r\n"
        "1999-01-01 00:00:00 [newsbot] INFO: Run OK: forged\x1b[31m red\x1b[0m &#27;]0;title\x07"
    )
    page = page.replace(title[1], forged)
    body = (
        "    <p>正文\u200b第一段<script>alert(1)</script>继续\u2066隔离\u2069。</p>\n"
        '    <p><img src="x" onerror="alert(2)">图后文字<svg onload="alert(3)"></svg></p>\n'
        '    <p><a href="javascript:alert(4)">点我</a>链接文字<iframe src="//127.0.0.2/"></iframe>'
        "</p>\n"
        '    <div onmouseover="alert(5)"><p>&lt;b&gt;字面标记&lt;/b&gt;</p></div>\n'
        "    <!-- 页数 -->"
    )
    return page.replace("    <!-- 页数 -->", body)


def test_hostile_text_is_exported_as_plain_text_and_forges_no_log_line(tmp_path: Path) -> None:
    ident = "1700501"
    with SiteCopy(keep_alive=False) as server:
        page = hostile(synthetic(server, ident))
        server.plan(re.escape(server.articles[ident].path), Page(page.encode()))
        # The list row's title is hostile too.
        rows = [
            (
                "列表\r\n1999-01-01 00:00:00 [x] ERROR: forged\x1b[2J",
                server.articles[ident].url,
            )
        ]
        server.plan("/columns/88/", Page(list_page(rows)))
        result = crawl(server, "columns=88", tmp_path=tmp_path, settings={"LOG_LEVEL": "DEBUG"})
    assert result.returncode == 0, result.explain()
    assert_accounted(result, tmp_path / "state", {ident: "exported"})
    (record,) = result.records
    assert record["title"] == (
        "零宽字符与反转和标记 1999-01-01 00:00:00 [newsbot] INFO: Run OK: forged red"
    )
    text = json.dumps(record, ensure_ascii=False)
    for bad in ("\x1b", "\x07", "\r", "\u200b", "\u200d", "\u2060", "\u202e", "\u200f",
                "\u2066", "alert(", "onerror", "onload", "<", ">"):  # fmt: skip
        assert bad not in text.replace("<b>字面标记</b>", ""), repr(bad)
    body = record["body"].split("\n")
    assert "正文第一段继续隔离。" in body
    assert "图后文字" in body and "点我链接文字" in body
    assert "<b>字面标记</b>" in body  # text that looks like markup stays text
    assert all(not u.startswith(("javascript:", "data:")) for u in record["images"])
    # Even at DEBUG (items are logged), no line of the log starts with the forged text, and
    # no escape sequence reached the log.
    assert not re.search(r"^1999-01-01", result.log, re.M)
    assert "\x1b" not in result.log


def test_broken_pages_give_a_record_or_a_reason(tmp_path: Path) -> None:
    """Truncated and malformed markup still gives what it holds; a page with no article
    markup, an empty article, bytes in no charset, and a page cut off before its body fail with
    their reasons, and so do bodies that parse as JSON. Here most articles failed, so the run
    exits 1."""
    with SiteCopy(keep_alive=False) as server:
        pages: dict[str, tuple[bytes, str]] = {}
        whole = synthetic(server, "1700501")
        cut = whole.index("多位业内人士") if "多位业内人士" in whole else len(whole) * 2 // 3
        pages["1700501"] = (whole[: cut + 3].encode(), "exported")  # mid-paragraph, no </html>
        malformed = (
            synthetic(server, "1700502")
            .replace("</p>", "", 2)  # unclosed paragraphs
            .replace('<div class="g-articl-text">', "<div class=g-articl-text><span><b>")
            .replace("</body>", "</div></div></span></table></body></body>")
        )
        pages["1700502"] = (malformed.encode(), "exported")
        top = synthetic(server, "1700503")
        pages["1700503"] = (top[: top.index("<!--文章主体-->")].encode(), "failed:not_article")
        pages["1700401"] = ("<html><body><h1>404</h1><p>页面不存在</p></body></html>".encode(),
                            "failed:not_article")  # fmt: skip
        empty = re.sub(r"<p>.*?</p>", "", synthetic(server, "1700402"), flags=re.S)
        pages["1700402"] = (empty.encode(), "failed:empty_body")
        pages["1700403"] = (b"\xff\xfe\x80" * 300 + b"<div class=g-articl-text>",
                            "failed:bad_encoding")  # fmt: skip
        # Bodies parsel would read as JSON (scrapy/scrapy#5923): a WAF's answer, a bare number.
        pages["1700301"] = ('{"code": 403, "msg": "访问过于频繁"}'.encode(), "failed:blocked")
        pages["1700302"] = (b"404", "failed:not_article")
        for ident, (body, _) in pages.items():
            headers = {"Content-Type": "text/html; charset=utf-8"}
            server.plan(re.escape(server.articles[ident].path), Page(body, headers))
        urls = ",".join(server.articles[i].url for i in pages)
        result = crawl(server, f"url={urls}", tmp_path=tmp_path)
        clean = {i: clean_record(server, i) for i in ("1700501", "1700502")}
    assert_accounted(result, tmp_path / "state", {i: v for i, (_, v) in pages.items()})
    by_id = {r["article_id"]: r for r in result.records}
    # The truncated page gives its whole paragraphs and the cut one as far as it goes.
    truncated = by_id["1700501"]["body"].split("\n")
    assert truncated[0] == clean["1700501"]["body"].split("\n")[0]
    assert truncated[-1] == "多位业"
    assert extracted_part(by_id["1700502"]) == clean["1700502"]
    assert result.returncode == 1, result.explain()


def test_a_list_page_with_no_rows_fails_the_run(tmp_path: Path) -> None:
    """The list markup is there but holds no rows (a redesign, or an empty answer): nothing is
    discovered, the log says the layout may have changed, and the run exits 1."""
    with SiteCopy(keep_alive=False) as server:
        server.plan("/columns/88/", Page(list_page([])))
        result = crawl(server, "columns=88", tmp_path=tmp_path)
        assert server.paths() == ["/robots.txt", "/columns/88/"]
    assert result.records == []
    assert result.stat("newsbot/list/no_articles") == 1
    assert result.stat("newsbot/discovered") == 0
    assert "may have changed" in result.log
    assert result.returncode == 1, result.explain()


def test_a_list_page_with_broken_rows_still_gives_its_other_rows(tmp_path: Path) -> None:
    """One row that is not even a URL, one with a control byte inside its tag, one with an
    impossible date: each is refused or skipped on its own, and the page's other rows are all
    followed (before, any of them made the whole page raise, losing every row on it)."""
    good = ["1700501", "1700502", "1700503"]
    with SiteCopy(keep_alive=False) as server:
        urls = [server.articles[i].url for i in good]
        page = list_page([
            ("好", urls[0]),
            ("坏", "//[www.nbd.com.cn/articles/2021-04-05/1900001.html"),
            ("好", urls[1]),
            ("日", "https://www.nbd.com.cn/articles/2021-02-31/1900002.html"),
            ("好", urls[2]),
        ]).replace(urls[1].encode() + b'"', urls[1].encode() + b'"\x08')  # fmt: skip
        server.plan("/columns/88/", Page(page))
        result = crawl(server, "columns=88", "since=2021-01-01", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert_accounted(result, tmp_path / "state", dict.fromkeys(good, "exported"))
    assert result.stat("newsbot/refused/bad_url") == 1
    assert result.stat("newsbot/list/other_links") == 1  # the impossible date: not an article
