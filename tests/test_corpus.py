"""The extractor on real markup saved from the site in 2021 (../shared/corpus), wrapped in a page.

Real text stays outside the project: these tests read it from ../shared at run time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse

from newsbot.pages.article import ArticlePage
from tests.helpers import SHARED, need_shared

LEFTOVERS = (
    "图片来源", "封面图片来源", "视觉中国图", "每经资料图", "免责声明", "每经头条（nbdtoutiao）",
    "乐视20亿", "<!--", "<script", "<p", "<span", "&nbsp;", "&ldquo;", "\u00a0", "\u3000",
    "原创文章自动插入",
)  # fmt: skip
CREDIT_LINE = re.compile(r"^(?:编辑|校对|记者|视觉|排版|封面|整理)\s*[|｜:：]\s*\S{1,4}(?:\s|$)")
AI_REPORTER = re.compile(r"^[(（]记者 ")


def corpus_pages() -> list[Path]:
    root = SHARED / "corpus"
    return sorted((root / "nbd-2021" / "posts").glob("*.md")) + sorted(
        (root / "nbd-2017").glob("*.html")
    )


def wrap(markup: str) -> bytes:
    """A page around a post's markup, the way the site serves it."""
    markup = re.split(r"^---\s*$", markup, maxsplit=2, flags=re.M)[-1]
    if "g-articl-text" not in markup:  # some posts hold only the inside of the body
        markup = f'<div class="g-articl-text">{markup}</div>'
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>每经网</title></head>"
        f"<body><div class='g-article'>{markup}</div></body></html>"
    ).encode()


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    need_shared()
    found = {}
    for page in corpus_pages():
        response = HtmlResponse(
            url="https://www.nbd.com.cn/articles/2021-07-01/1800000.html",
            body=wrap(page.read_text(encoding="utf-8")),
        )
        found[page.name] = ItemAdapter(ArticlePage(response).to_item()).asdict()
    return found


def test_corpus_is_there(records: dict[str, dict]) -> None:
    assert len(records) >= 40


def test_every_post_has_title_time_and_body(records: dict[str, dict]) -> None:
    for name, record in records.items():
        has_top = "g-article-top" in (SHARED / "corpus").joinpath(
            "nbd-2021/posts" if name.endswith(".md") else "nbd-2017", name
        ).read_text(encoding="utf-8")
        if has_top:
            assert record["title"], name
            assert record["published_at"] and record["published_at"].endswith("+08:00"), name
        assert record["body"], name


def test_no_body_holds_leftovers(records: dict[str, dict]) -> None:
    for name, record in records.items():
        for line in record["body"].split("\n"):
            assert line == line.strip() and line, (name, line)
            for leftover in LEFTOVERS:
                assert leftover not in line, (name, leftover, line)
            assert not CREDIT_LINE.match(line), (name, line)
            assert not AI_REPORTER.match(line), (name, line)
        if record["byline"]:
            assert record["byline"] not in record["body"].split("\n"), name


def test_names_are_names(records: dict[str, dict]) -> None:
    for name, record in records.items():
        for person in record["reporters"] + record["editors"]:
            assert 2 <= len(person) <= 4 and " " not in person, (name, person)


def test_bylines_give_credits(records: dict[str, dict]) -> None:
    for name, record in records.items():
        byline = record["byline"] or ""
        if "记者" in byline:
            assert record["reporters"], name
        if "编辑" in byline:
            assert record["editors"], name
