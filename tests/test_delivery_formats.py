"""Scrapy's other feed formats go through the same delivery tracking as JSON Lines."""

from __future__ import annotations

import csv
import json
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

from newsbot.pages.kinds import KINDS
from tests.crawlkit import run_crawl
from testsite import SiteCopy


def test_every_format_holds_every_record(site: SiteCopy, tmp_path: Path) -> None:
    feeds = {
        str(tmp_path / "out.csv"): {"format": "csv"},
        str(tmp_path / "out.json"): {"format": "json"},
        str(tmp_path / "out.xml"): {"format": "xml"},
        str(tmp_path / "out.pickle"): {"format": "pickle"},
    }
    result = run_crawl(
        site.root, "columns=3", tmp_path=tmp_path, settings={"FEEDS": json.dumps(feeds)}
    )
    assert result.returncode == 0, result.explain()
    ids = sorted(r["article_id"] for r in result.records)
    assert ids

    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["article_id"] for r in rows) == ids
    assert list(rows[0])[:3] == ["url", "article_id", "title"]
    columns = list(rows[0])
    i = columns.index("kind")
    assert columns[i : i + 4] == ["kind", "sourced_from", "figures", "videos"]
    assert {r["kind"] for r in rows} <= set(KINDS) and all(r["kind"] for r in rows)

    as_json = json.loads((tmp_path / "out.json").read_text("utf-8"))
    assert sorted(r["article_id"] for r in as_json) == ids

    items = ET.parse(tmp_path / "out.xml").getroot().findall("item")
    assert sorted(i.findtext("article_id") for i in items) == ids

    pickled = []
    with (tmp_path / "out.pickle").open("rb") as f:
        while True:
            try:
                pickled.append(pickle.load(f))  # our own file, written by this test's crawl
            except EOFError:
                break
    assert sorted(r["article_id"] for r in pickled) == ids
    # Every file was tracked: the run publishes five files and leaves nothing pending.
    assert result.stat("newsbot/feed/files_published") == 5
    assert result.stat("newsbot/state/pending") == 0
