"""One case per page variant: each fixture page against its reviewed expected record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsbot.items import EXTRACTED_FIELDS
from newsbot.pages import NotArticle
from tests.helpers import ARTICLES, NOT_ARTICLES, expected, extract_file, extracted_part

ARTICLE_CASES = sorted(ARTICLES.glob("*.html"))
NOT_ARTICLE_CASES = sorted(NOT_ARTICLES.glob("*.html"))


def test_there_is_a_case_for_every_variant() -> None:
    names = {p.stem for p in ARTICLE_CASES}
    for variant in (
        "ai-flash",
        "compiled",
        "roundup",
        "advertorial",
        "2017",
        "colon",
        "bar",
        "video",
        "repost",
        "commentator",
    ):
        assert any(variant in n for n in names), f"no fixture case covers {variant}"
    assert len(NOT_ARTICLE_CASES) >= 5


@pytest.mark.parametrize("page", ARTICLE_CASES, ids=lambda p: p.stem)
def test_article_case(page: Path) -> None:
    want = expected(page)
    assert list(want) == list(EXTRACTED_FIELDS), "expected record must list every field in order"
    got = extracted_part(extract_file(page))
    for name in EXTRACTED_FIELDS:
        if name == "body":
            assert (got["body"] or "").split("\n") == (want["body"] or "").split("\n")
        assert got[name] == want[name], f"{page.stem}: field {name}"


@pytest.mark.parametrize("page", NOT_ARTICLE_CASES, ids=lambda p: p.stem)
def test_not_article_case(page: Path) -> None:
    want = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))["reason"]
    with pytest.raises(NotArticle) as caught:
        extract_file(page)
    assert caught.value.reason == want


@pytest.mark.parametrize("page", ARTICLE_CASES, ids=lambda p: p.stem)
def test_fetch_fields(page: Path) -> None:
    record = extract_file(page)
    assert record["fetched_at"].endswith("+00:00")
    assert record["extractor_version"]
    assert record["revision"] == 1 and record["duplicate_of"] is None
