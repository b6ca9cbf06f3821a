"""Time per page of newsbot's article extractor next to bare lxml parsing of the same pages.

    python benchmarks/extract.py [--rounds 15] [--seconds 0.5] [--set fixtures,corpus,synthetic]

Page sets: ``fixtures`` (fixtures/articles/*.html), ``corpus`` (every post of
../shared/corpus, nbd-2021, nbd-2021-more and nbd-2017, wrapped in the fixture page shell: the
head, navigation, sidebar and footer of a fixture page around the post's markup, as the site
serves it; a post that kept only the body gets its title as the h1 and the shell's time line)
and ``synthetic`` (the crawl benchmark's 95-100 KB pages, testsite/synthetic.py).
The two sides run interleaved (parse, extract, parse, extract, ... ``--rounds`` times, each for
about ``--seconds``), so both see the same load on a shared machine; the ratio printed is the
median of the rounds' ratios, with the lowest and highest. Nothing is asserted (timing belongs
in benchmarks, not tests). The real-markup figure is fixtures and corpus together.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
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

from newsbot.commands.extract import post_page  # noqa: E402
from newsbot.pages import NotArticle  # noqa: E402
from newsbot.pages.article import ArticlePage  # noqa: E402
from newsbot.pages.partial import forget_navigation  # noqa: E402

SHELL = ROOT / "fixtures" / "articles" / "original-2021-full.html"
CORPUS = ROOT.parent / "shared" / "corpus"
NOW = datetime.now(timezone.utc)
Page = tuple[str, bytes]


def fixture_pages() -> list[Page]:
    files = sorted(ROOT.glob("fixtures/articles/*.html"))
    return [(f.resolve().as_uri(), f.read_bytes()) for f in files]


def corpus_pages() -> list[Page]:
    """Every corpus post inside the fixture page shell (its div.g-article replaced)."""
    shell = SHELL.read_text(encoding="utf-8")
    start = shell.index('<div class="g-article">')
    end = shell.index('<div class="g-main-right">', start)
    # A body-only post lost its page's top; the shell's source and time line stands in for it
    # (every article page of the site has one), after the post's h1.
    u_time = re.search(r'<p class="u-time">.*?</p>', shell, re.S)
    assert u_time is not None
    posts = sorted(CORPUS.glob("nbd-2021*/posts/*.md")) + sorted(CORPUS.glob("nbd-2017/*.html"))
    pages = []
    for n, post in enumerate(posts):
        inner = re.search(
            r"<div class='g-article'>(.*)</div></body>",
            post_page(post.read_text(encoding="utf-8"))[0].decode("utf-8"),
            re.S,
        )
        assert inner is not None
        article = inner.group(1)
        if "u-time" not in article:
            article = article.replace("</h1></div>", f"</h1>{u_time.group(0)}</div>", 1)
        page = shell[:start] + f'<div class="g-article">{article}</div>\n' + shell[end:]
        url = f"https://www.nbd.com.cn/articles/2021-07-01/{1800000 + n}.html"
        pages.append((url, page.encode("utf-8")))
    return pages


def synthetic_pages(count: int = 30) -> list[Page]:
    from testsite.synthetic import SyntheticPages

    site = SyntheticPages(count, ["3"], 50)
    pages = []
    for i in range(count):
        path = site.path(i)
        date, ident = path.split("/")[-2], int(path.rsplit("/", 1)[-1].removesuffix(".html"))
        body = site.article_page(date, ident)
        assert body is not None
        pages.append((f"https://www.nbd.com.cn{path}", body))
    return pages


def parse_only(url: str, body: bytes) -> object:
    return lxml.html.document_fromstring(body)


def extract(url: str, body: bytes) -> object:
    try:
        return ArticlePage(HtmlResponse(url=url, body=body), fetched_at=NOW).to_item()
    except NotArticle as e:
        return e


def navigation_of(body: bytes) -> bytes:
    """The bytes between the body's start tag and the article's (as the page object finds
    them): what its memo tells apart."""
    start = body.find(b'<div class="g-article">')
    return body[body.rfind(b"<body", 0, start) : start] if start >= 0 else b""


def left_out_of(url: str, body: bytes) -> bool:
    page = ArticlePage(HtmlResponse(url=url, body=body), fetched_at=NOW)
    try:
        page.to_item()
    except NotArticle:
        return False
    return page.left_out > 0


def timed(
    pages: list[Page],
    work: Callable[[str, bytes], object],
    seconds: float,
    before_pass: Callable[[], None] = lambda: None,
) -> float:
    """CPU seconds per page over whole passes lasting about ``seconds`` of CPU time (CPU time,
    not wall time: the other processes of a shared machine do not count)."""
    done = 0
    start = time.process_time()
    while True:
        before_pass()
        for url, body in pages:
            work(url, body)
        done += len(pages)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return elapsed / done


def measure(label: str, pages: list[Page], rounds: int, seconds: float) -> None:
    for url, body in pages:  # warm up: imports, caches
        parse_only(url, body), extract(url, body)
    floors, ours, ratios = [], [], []
    for _ in range(rounds):
        floor = timed(pages, parse_only, seconds)
        # Each pass as a crawl of those pages meets them: the page object's memo of the
        # navigations it has seen starts empty, so each navigation pays its check once.
        mine = timed(pages, extract, seconds, forget_navigation)
        floors.append(floor)
        ours.append(mine)
        ratios.append(mine / floor)
    size = sum(len(b) for _, b in pages) / len(pages) / 1024
    forget_navigation()
    navigations = len({navigation_of(body) for _, body in pages})
    left_out = sum(1 for url, body in pages if left_out_of(url, body))
    print(
        f"{label:<28} {len(pages):4d} pages {size:4.0f} KB   lxml {1000 * statistics.median(floors):6.3f} ms"  # noqa: E501
        f"   newsbot {1000 * statistics.median(ours):6.3f} ms   "
        f"ratio {statistics.median(ratios):.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})"
        f"   navigation left out {left_out}/{len(pages)} ({navigations} distinct)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--set", default="fixtures,corpus,real,synthetic")
    args = parser.parse_args()
    wanted = set(args.set.split(","))
    print(
        f"Python {platform.python_version()}, Scrapy {scrapy.__version__}, "
        f"lxml {lxml.__version__}, {platform.machine()}; {args.rounds} interleaved rounds, "
        "median CPU time per page (ratio: median of the rounds' ratios; target <= 1.5x)"
    )
    fixtures = fixture_pages()
    corpus = corpus_pages() if CORPUS.is_dir() else []
    if "fixtures" in wanted:
        measure("fixtures", fixtures, args.rounds, args.seconds)
    if "corpus" in wanted and corpus:
        measure("corpus in the page shell", corpus, args.rounds, args.seconds)
    if "real" in wanted and corpus:
        measure("real markup (both)", fixtures + corpus, args.rounds, args.seconds)
    if not corpus:
        print(f"(no corpus at {CORPUS}: real markup is the fixtures only)")
    if "synthetic" in wanted:
        measure("synthetic 95 KB pages", synthetic_pages(), args.rounds, args.seconds)


if __name__ == "__main__":
    main()
