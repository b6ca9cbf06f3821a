"""Noticing new boilerplate in a crawl: a footer no rule knows, repeated over a column's
articles, is named in the run report and in a WARNING line (real engine, local site copy)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.crawlkit import run_crawl
from tests.opskit import report_of, synthetic_route
from testsite import SiteCopy

# Invented, and in no class of the rules: the extractor keeps it in the body.
FOOTER = "本栏目由某某研究小组每周二更新，下期再会"
KNOWN = "免责声明：本文内容与数据仅供参考，不构成投资建议，使用前核实。据此操作，风险自担。"


def with_footer(*footers: str, every: int = 1) -> Callable[[str], str]:
    """Pages ending in ``footers`` (every ``every``-th article: the others unchanged)."""
    seen = {"n": 0}

    def change(page: str) -> str:
        seen["n"] += 1
        if seen["n"] % every:
            return page
        blocks = "".join(f"<p>{f}</p>" for f in footers)
        return page.replace("    <!-- 页数 -->", f"    {blocks}\n    <!-- 页数 -->")

    return change


def test_unknown_footer_over_a_column_is_reported_and_logged(
    site_factory: Callable[..., SiteCopy], tmp_path: Path
) -> None:
    site = site_factory(volume=24, volume_page_size=24)
    # The new footer after a known disclaimer: the disclaimer goes, the footer ends the body.
    synthetic_route(site, with_footer(FOOTER, KNOWN))
    result = run_crawl(site.root, "columns=9000", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert len(result.records) == 24
    assert all(r["body"].endswith(FOOTER) for r in result.records)

    report = report_of(result, tmp_path / "state")
    assert report["boilerplate_candidates"] == [{"text": FOOTER, "articles": 24, "of": 24}]
    warning = [line for line in result.log.splitlines() if "possible new boilerplate" in line]
    assert len(warning) == 1 and "WARNING" in warning[0], result.explain()
    assert FOOTER in warning[0] and re.search(r"in 24 of 24 articles", warning[0])
    # The known disclaimer was removed and counted, the unknown footer was not.
    assert result.stat("newsbot/removed/disclaimer") == 24
    assert result.stat("newsbot/removed/byline") == 24
    assert result.stat("newsbot/tails/candidates") == 1


def test_a_footer_on_a_few_articles_or_listed_as_known_is_not_reported(
    site_factory: Callable[..., SiteCopy], tmp_path: Path
) -> None:
    site = site_factory(volume=24, volume_page_size=24)
    synthetic_route(site, with_footer(FOOTER, every=6))  # 4 of 24: under both thresholds
    result = run_crawl(site.root, "columns=9000", tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sum(r["body"].endswith(FOOTER) for r in result.records) == 4
    report: dict[str, Any] = report_of(result, tmp_path / "state")
    assert report["boilerplate_candidates"] == []
    assert "possible new boilerplate" not in result.log

    site2 = site_factory(volume=24, volume_page_size=24)
    synthetic_route(site2, with_footer(FOOTER))
    ignored = run_crawl(
        site2.root,
        "columns=9000",
        tmp_path=tmp_path / "again",
        settings={"NEWSBOT_TAIL_IGNORE": FOOTER},
    )
    assert ignored.returncode == 0, ignored.explain()
    assert report_of(ignored, tmp_path / "again" / "state")["boilerplate_candidates"] == []
