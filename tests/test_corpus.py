"""The extractor on real markup saved from the site (../shared/corpus), wrapped in a page.

Real text stays outside the project: these tests read it from ../shared at run time and compare
it with reviewed expectations that keep only hashes of lines (tests/corpus_expectations.json,
written by ``python -m tests.corpus_kit --write`` after reading each post).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from newsbot.pages.boilerplate import sourced_from, tail_class
from newsbot.pages.kinds import KINDS
from tests.corpus_kit import corpus_pages, extract, load_expectations, manifest, summary
from tests.helpers import need_shared

LEFTOVERS = (
    "图片来源", "封面图片来源", "视觉中国图", "每经资料图", "免责声明", "每经头条（nbdtoutiao）",
    "乐视20亿", "<!--", "<script", "<p", "<span", "&nbsp;", "&ldquo;", "\u00a0", "\u3000",
    "原创文章自动插入", "nbdnews", "禁止转载", "二维码", "请搜索", "风险自担",
)  # fmt: skip
CREDIT_LINE = re.compile(r"^(?:编辑|校对|记者|视觉|排版|封面|整理)\s*[|｜:：]\s*\S{1,4}(?:\s|$)")
AI_REPORTER = re.compile(r"^[(（]记者 ")


@pytest.fixture(scope="module")
def records() -> dict[str, tuple[dict[str, Any], Any]]:
    need_shared()
    return {page.name: extract(page) for page in corpus_pages()}


def test_every_post_is_there_with_a_reviewed_expectation(records: dict) -> None:
    expected = load_expectations()
    assert len(records) >= 198
    assert set(records) == set(expected)


@pytest.mark.parametrize("name", sorted(load_expectations()))
def test_post_gives_its_reviewed_record(records: dict, name: str) -> None:
    want = {k: v for k, v in load_expectations()[name].items() if k != "note"}
    record, _ = records[name]
    assert summary(record) == want


def test_no_body_ends_in_boilerplate(records: dict) -> None:
    for name, (record, _) in records.items():
        last = record["body"].split("\n")[-1]
        assert tail_class(last) is None, (name, tail_class(last))
        assert sourced_from(last) is None, name


def test_no_body_holds_leftovers(records: dict) -> None:
    for name, (record, _) in records.items():
        for line in record["body"].split("\n"):
            assert line == line.strip() and line, (name, line)
            for leftover in LEFTOVERS:
                assert leftover not in line, (name, leftover)
            assert not CREDIT_LINE.match(line), name
            assert not AI_REPORTER.match(line), name
        if record["byline"]:
            assert record["byline"] not in record["body"].split("\n"), name


def test_removed_blocks_are_accounted_for(records: dict) -> None:
    """What left the body is named with a class, and is not in the body."""
    classes = {"byline", "caption", "credit", "disclaimer", "copyright", "account", "promotion",
               "app_prompt", "cover_credit", "related", "sourcing"}  # fmt: skip
    for name, (record, reader) in records.items():
        body = set(record["body"].split("\n"))
        for removed in reader.removed:
            assert removed.kind in classes, (name, removed.kind)
            assert removed.text not in body or removed.kind == "byline", name


def _manifest_kind(text: str) -> str | None:
    """The kind the manifest's description gives, in the record's words."""
    rules = (
        ("video", r"VIDEO"), ("roundup", r"roundup|每经X点|早财经|一目了然|briefing"),
        ("ai_flash", r"每经AI快讯"), ("advertorial", r"advertorial|sponsored|PR"),
        ("repost", r"repost(?!ed via)"), ("compiled", r"compiled|rewrite"),
        ("original", r"original|ORIGINAL"),
    )  # fmt: skip
    if re.search(r"original news flash", text):
        return "original"
    return next((kind for kind, pattern in rules if re.search(pattern, text)), None)


def test_kinds_agree_with_the_manifest(records: dict) -> None:
    """Where the manifest's description says what a post is, the record says the same, but
    for the posts whose expectation notes why not."""
    expected = load_expectations()
    checked = 0
    for name, row in manifest().items():
        said = _manifest_kind(row["kind"])
        if said is None or "manifest" in expected[name].get("note", ""):
            continue
        checked += 1
        assert records[name][0]["kind"] == said, (name, said)
    assert checked >= 190
    assert {r["kind"] for r, _ in records.values()} == set(KINDS) - {"commentary"}


def test_sourcing_lines_and_videos(records: dict) -> None:
    with_source = [n for n, (r, _) in records.items() if r["sourced_from"]]
    assert len(with_source) >= 60
    videos = [r for r, _ in records.values() if r["videos"]]
    assert len(videos) == 1 and videos[0]["kind"] == "video"
    assert videos[0]["videos"][0]["url"].endswith(".mp4")


def test_names_are_names(records: dict) -> None:
    for name, (record, _) in records.items():
        for person in record["reporters"] + record["editors"]:
            assert 2 <= len(person) <= 4 and " " not in person, (name, person)


def test_bylines_give_credits(records: dict) -> None:
    for name, (record, _) in records.items():
        byline = record["byline"] or ""
        if "记者" in byline:
            assert record["reporters"], name
        if "编辑" in byline:
            assert record["editors"], name


def test_corpus_paths_exist() -> None:
    need_shared()
    assert all(isinstance(p, Path) and p.is_file() for p in corpus_pages())


def test_the_quick_line_filter_spares_no_line_a_text_test_would_take() -> None:
    """``may_be_removed`` copies the opening words of five text tests; on every line of every
    real body (and each with a bracket in front) a line it lets pass must be one that all five
    leave in the body, so a test's new word cannot be missed there unseen."""
    from scrapy.http import HtmlResponse

    from newsbot.pages.article import ArticlePage, _find_body, _walk_body, may_be_removed
    from newsbot.pages.boilerplate import cover_credit
    from newsbot.processors import credit_line, is_boilerplate, is_caption, is_related_heading
    from tests.corpus_kit import URL, wrap

    need_shared()
    texts: set[str] = set()
    for page in corpus_pages():
        response = HtmlResponse(url=URL, body=wrap(page.read_text(encoding="utf-8")))
        body = _find_body(ArticlePage(response)._root())
        if body is not None:
            texts.update(b.text for b in _walk_body(body, URL).blocks if b.text)
    taken = 0
    for text in texts | {f"（{t}" for t in texts}:
        took = (
            is_related_heading(text, normal=True)
            or is_boilerplate(text, normal=True)
            or cover_credit(text) is not None
            or is_caption(text, normal=True)
            or credit_line(text) is not None
        )
        taken += took
        assert may_be_removed(text) or not took, text
    assert len(texts) > 2000 and taken > 100, (len(texts), taken)
