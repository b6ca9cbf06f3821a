"""Shared test helpers: where things are, and reading fixture pages the way the crawl does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from itemadapter import ItemAdapter

from newsbot.commands.extract import saved_response
from newsbot.items import EXTRACTED_FIELDS
from newsbot.pages.article import ArticlePage

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
ARTICLES = FIXTURES / "articles"
NOT_ARTICLES = FIXTURES / "not_articles"
SHARED = ROOT.parent / "shared"


def need_shared() -> Path:
    """``../shared``, or a skip on a fresh clone; in CI its absence is a failure."""
    if not (SHARED / "corpus").is_dir():
        if os.environ.get("CI"):
            pytest.fail("../shared/corpus is missing in CI")
        pytest.skip("../shared is not beside this clone")
    return SHARED


def extract_file(path: Path) -> dict:
    item = ArticlePage(saved_response(path, path.read_bytes())).to_item()
    return ItemAdapter(item).asdict()


def expected(case: Path) -> dict:
    return json.loads(case.with_suffix(".json").read_text(encoding="utf-8"))


def extracted_part(record: dict) -> dict:
    return {k: record[k] for k in EXTRACTED_FIELDS}
