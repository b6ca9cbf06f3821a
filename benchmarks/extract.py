"""Pages per second for newsbot's article extractor, next to lxml parsing the same pages.

    python benchmarks/extract.py [--seconds 3] [PAGES...]

Pages default to fixtures/articles/*.html. Each side runs for about ``--seconds`` over all pages;
the numbers are printed, nothing is asserted (timing belongs in benchmarks, not tests).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import lxml
import lxml.html
import scrapy
from scrapy.http import HtmlResponse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsbot.pages import NotArticle  # noqa: E402
from newsbot.pages.article import ArticlePage  # noqa: E402


def rate(label: str, pages: list[tuple[str, bytes]], work: Callable[[str, bytes], object],
         seconds: float) -> float:  # fmt: skip
    for url, body in pages:  # warm up: imports, caches
        work(url, body)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for url, body in pages:
            work(url, body)
        done += len(pages)
    elapsed = time.perf_counter() - start
    per_second = done / elapsed
    print(f"{label:<34} {per_second:>9.0f} pages/s  {1000 / per_second:>7.3f} ms/page")
    return per_second


def parse_only(url: str, body: bytes) -> object:
    return lxml.html.document_fromstring(body)


def extract(url: str, body: bytes) -> object:
    response = HtmlResponse(url=url, body=body)
    try:
        return ArticlePage(response, fetched_at=NOW).to_item()
    except NotArticle as e:
        return e


NOW = datetime.now(timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", type=Path)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    files = args.pages or sorted((ROOT / "fixtures" / "articles").glob("*.html"))
    pages = [(f.resolve().as_uri(), f.read_bytes()) for f in files]
    if not pages:
        sys.exit("no pages to measure")
    size = sum(len(b) for _, b in pages) / len(pages) / 1024
    versions = f"Scrapy {scrapy.__version__}, lxml {lxml.__version__}"
    print(f"{len(pages)} pages, {size:.0f} KB on average; Python {platform.python_version()}, ")
    print(f"{versions}, {platform.machine()}")
    floor = rate("lxml parse only (floor)", pages, parse_only, args.seconds)
    ours = rate("newsbot extract (decode+parse+read)", pages, extract, args.seconds)
    print(f"newsbot takes {floor / ours:.2f}x the time of bare lxml parsing (target: <= 2x)")


if __name__ == "__main__":
    main()
