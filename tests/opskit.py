"""Helpers for the operations tests: the run report a crawl left, its last log line, and pages
of the site copy changed the way a redesign or a broken article would change them."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.crawlkit import CrawlResult
from testsite import Hit, Reply, SiteCopy, render_article

_BYLINE = re.compile(r'<p style="color: #6d6d6d;">.*?</p>', re.S)


def last_line(log: str) -> str:
    """The last line the run logged."""
    return log.strip().splitlines()[-1]


def reports(state: Path) -> list[dict[str, Any]]:
    """The run reports in a state directory, oldest first (by start time: run ids name whole
    seconds, and runs of a test often start in one)."""
    found = [json.loads(p.read_text("utf-8")) for p in (state / "runs").glob("*.json")]
    return sorted(found, key=lambda r: dt.datetime.fromisoformat(r["started_at"]))


def report_of(result: CrawlResult | str, state: Path) -> dict[str, Any]:
    """The report of the run that just ended (the newest), checked against its log."""
    log = result if isinstance(result, str) else result.log
    found = reports(state)
    assert found, f"no run report in {state}/runs\n{log[-3000:]}"
    mine = [r for r in found if r["report_path"] in log]
    assert len(mine) == 1, f"{len(mine)} reports named in the log of this run"
    return mine[0]


def assert_failed(result: CrawlResult | subprocess.CompletedProcess[str], code: str) -> str:
    """The run exited 1 and its last log line names ``code``; returns that line."""
    if isinstance(result, CrawlResult):
        log, explain = result.log, result.explain()
    else:
        log = result.stderr
        explain = f"exit {result.returncode}\n{log[-3000:]}"
    line = last_line(log)
    assert result.returncode == 1, explain
    assert line.split("] ERROR: ", 1)[-1].startswith(f"Run failed: {code}: "), explain
    return line


def synthetic_route(site: SiteCopy, change: Any) -> None:
    """Serve the synthetic article pages of ``site`` changed by ``change(html) -> html`` (the
    fixture pages are served as they are)."""

    def handler(hit: Hit) -> Reply | None:
        ident = hit.route.rsplit("/", 1)[-1].removesuffix(".html")
        article = site.articles.get(ident)
        if article is None or article.file is not None or article.special:
            return None
        return Reply(200, change(render_article(article)).encode("utf-8"))

    site.route(r"/articles/.*", handler)


def without_byline(page: str) -> str:
    return _BYLINE.sub("", page)


def redesigned(page: str) -> str:
    """The same article in markup the extractor does not know."""
    return (
        page.replace("g-articl-text", "article-content")
        .replace("g-article-top", "article-head")
        .replace('class="time"', 'class="pub-date"')
    )


def misdated(page: str) -> str:
    """The page's time a week after the date in its URL (validation drops the record)."""
    return re.sub(
        r'(<span class="time">\s*)(\d{4})-(\d{2})-(\d{2})',
        lambda m: f"{m[1]}{int(m[2]) + 1}-{m[3]}-{m[4]}",
        page,
    )
