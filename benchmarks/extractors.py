"""Speed and accuracy of newsbot's extractor next to bare lxml and the generic news extractors.

    python benchmarks/extractors.py [--rounds 3] [--seconds 2] [--only NAME,...] [PAGES...]

Pages default to fixtures/articles/*.html; each page's ``.json`` beside it is its reviewed
expected record. Every extractor runs in this one process on the same pages (bytes in, its own
result out). Speed: after one warm-up pass, ``--rounds`` rounds, each timing every extractor in
turn over whole passes on the pages for at least ``--seconds`` of this process's CPU time (other
processes on a shared machine do not count); the median round is printed with the range, and
"x floor" is the median over rounds of the time per page relative to bare lxml parsing in the
same round. Generic extractors that are not installed (``pip install -e ".[bench]"``) are
skipped with a printed line.

Scoring, per page, against the expected record (text is compared after collapsing runs of
whitespace, Unicode spaces included, and stripping):

- title: the extracted title equals the expected ``title``.
- time: the extracted publication time is the same instant, to the second, as ``published_at``
  (a time without an offset is read as Beijing time, the page's own); date: the same Beijing
  calendar date (a date-only answer can get this but not time).
- authors: the set of names equals the set of expected ``reporters``. Generic extractors return
  one string (or a list): it is split on spaces and , 、 ; / | : ( ) in both widths, and bare
  role labels (记者, 每经记者, 实习记者, 编辑, 每经编辑, 作者, 文, ...) are dropped.
- body =: the non-empty lines equal the expected ``body`` lines, in order;
  body set: the same set of lines, any order;
  body sim: difflib ``SequenceMatcher(autojunk=False).ratio()`` of the two texts (lines joined
  by ``\\n``), averaged over pages: 1.0 is identical.
- newsbot alone is also checked on every field it extracts (the issue's target: exact on all).

Nothing is asserted: timing belongs in benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import lxml.html
from common import ROOT, loopback_only, machine_line, median, spread, version
from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse
from w3lib.encoding import html_to_unicode

from newsbot.items import EXTRACTED_FIELDS
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.processors import BEIJING

NOW = datetime.now(timezone.utc)
SPACES = re.compile(r"\s+")  # str patterns match NBSP, U+3000 and the other Unicode spaces
NAME_SEPARATORS = re.compile(r"[\s,，、;；/|｜:：()（）]+")
ROLE_LABELS = re.compile(
    r"(每经)?(特约|实习|每经实习)?(记者|编辑|评论员)|责任编辑|作者|文|来源|稿件来源|每日经济新闻|by"
)
CLOCK = re.compile(r"\d:\d\d")
DATE_TIME = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


def decode(body: bytes) -> str:
    """The page as text, its charset found the way Scrapy finds it (BOM, meta, else UTF-8):
    for the extractors that take text only."""
    return html_to_unicode(None, body)[1]


def norm(text: str | None) -> str:
    return SPACES.sub(" ", text or "").strip()


def lines_of(text: str | None) -> list[str]:
    return [line for line in (norm(x) for x in (text or "").split("\n")) if line]


# --- what each extractor gives, made comparable ----------------------------------------------


@dataclass
class Reading:
    """One extractor's answer for one page, in the terms of the scoring."""

    title: str | None = None
    time: datetime | None = None  # aware
    date_only: bool = False  # the extractor gave a date without a time of day
    authors: set[str] = field(default_factory=set)
    body: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None  # newsbot's whole record, for the all-fields check
    error: str | None = None


def names_of(value: str | list[str] | None) -> set[str]:
    texts = value if isinstance(value, list) else [value or ""]
    names = set()
    for text in texts:
        for token in NAME_SEPARATORS.split(text):
            if token and not ROLE_LABELS.fullmatch(token):
                names.add(token)
    return names


def time_of(value: str | datetime | date | None) -> tuple[datetime | None, bool]:
    """An aware datetime from whatever an extractor gave, and whether it was a date only."""
    if value is None or value == "":
        return None, False
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=BEIJING)), False
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=BEIJING), True
    try:
        parsed = datetime.fromisoformat(value.strip())
        has_clock = CLOCK.search(value) is not None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)), not has_clock
    except ValueError:
        pass
    m = DATE_TIME.search(value)
    if not m:
        return None, False
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=BEIJING), m.group(4) is None
    except ValueError:
        return None, False


@dataclass
class Extractor:
    name: str
    version: str
    run: Callable[[str, bytes], Any]
    """The timed part: page bytes in, the extractor's own result out."""
    read: Callable[[Any], Reading]
    """Untimed: the result in the scoring's terms."""


FLOOR = "lxml parse (floor)"


def lxml_floor() -> Extractor:
    def run(url: str, body: bytes) -> Any:
        return lxml.html.document_fromstring(body)

    return Extractor(FLOOR, version("lxml") or "?", run, lambda _: Reading())


def newsbot() -> Extractor:
    def run(url: str, body: bytes) -> Any:
        try:
            return ArticlePage(HtmlResponse(url=url, body=body), fetched_at=NOW).to_item()
        except NotArticle as e:
            return e

    def read(item: Any) -> Reading:
        if isinstance(item, NotArticle):
            return Reading(error=str(item))
        record = ItemAdapter(item).asdict()
        when, date_only = time_of(record["published_at"])
        return Reading(
            title=record["title"],
            time=when,
            date_only=date_only,
            authors=set(record["reporters"]),
            body=lines_of(record["body"]),
            record={k: record[k] for k in EXTRACTED_FIELDS},
        )

    return Extractor("newsbot", version("newsbot") or "?", run, read)


def trafilatura() -> Extractor:
    import trafilatura as lib
    from trafilatura.settings import set_date_params

    # Its defaults, plus a time of day in the date it returns, so that it can score on time.
    dates = {**set_date_params(), "outputformat": "%Y-%m-%d %H:%M:%S"}

    def run(url: str, body: bytes) -> Any:
        # Bytes: it finds the charset itself.
        return lib.bare_extraction(body, url=url, with_metadata=True, date_extraction_params=dates)

    def read(doc: Any) -> Reading:
        if doc is None:
            return Reading(error="no result")
        when, date_only = time_of(doc.date)
        return Reading(doc.title, when, date_only, names_of(doc.author), lines_of(doc.text))

    return Extractor("trafilatura", version("trafilatura") or "?", run, read)


def gne() -> Extractor:
    from gne import GeneralNewsExtractor

    extractor = GeneralNewsExtractor()

    def run(url: str, body: bytes) -> Any:
        return extractor.extract(decode(body))

    def read(result: Any) -> Reading:
        when, date_only = time_of(result.get("publish_time"))
        return Reading(
            result.get("title"),
            when,
            date_only,
            names_of(result.get("author")),
            lines_of(result.get("content")),
        )

    return Extractor("GNE", version("gne") or "?", run, read)


def newspaper4k() -> Extractor:
    import newspaper

    config = newspaper.Config()
    config.fetch_images = False  # it would download them
    config.language = "zh"

    def run(url: str, body: bytes) -> Any:
        article = newspaper.Article(url, config=config)
        article.download(input_html=decode(body))
        article.parse()
        return article

    def read(article: Any) -> Reading:
        when, date_only = time_of(article.publish_date)
        return Reading(
            article.title, when, date_only, names_of(list(article.authors)), lines_of(article.text)
        )

    return Extractor("newspaper4k", version("newspaper4k") or "?", run, read)


FACTORIES: dict[str, Callable[[], Extractor]] = {
    "lxml": lxml_floor,
    "newsbot": newsbot,
    "trafilatura": trafilatura,
    "gne": gne,
    "newspaper4k": newspaper4k,
}
EXTRA = "pip install -e '.[bench]'"


def load(names: list[str]) -> list[Extractor]:
    found = []
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # newspaper4k warns that nltk is absent
                found.append(FACTORIES[name]())
        except ImportError as e:
            print(f"skipped {name}: not installed ({e.name or e}); {EXTRA} to include it")
    return found


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Page:
    path: Path
    url: str
    body: bytes
    expected: dict[str, Any] | None


def load_pages(paths: list[Path]) -> list[Page]:
    pages = []
    for path in paths:
        sidecar = path.with_suffix(".json")
        expected = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else None
        # The URL the crawl would have fetched it from; the saved file's own URL otherwise.
        url = (expected or {}).get("url") or path.resolve().as_uri()
        pages.append(Page(path, url, path.read_bytes(), expected))
    return pages


def one_round(extractor: Extractor, pages: list[Page], seconds: float) -> float:
    """Pages per CPU second over whole passes on the pages lasting ``seconds`` or more.

    CPU time of this process, not wall time: on a shared machine another process's work then
    does not count against the extractor that happened to be running.
    """
    done = 0
    start = time.process_time()
    while True:
        for page in pages:
            extractor.run(page.url, page.body)
        done += len(pages)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done / elapsed


@dataclass
class Score:
    pages: int = 0
    title: int = 0
    time: int = 0
    date: int = 0
    authors: int = 0
    body_exact: int = 0
    body_set: int = 0
    body_sim: float = 0.0
    all_fields: int = 0
    errors: int = 0
    misses: dict[str, list[str]] = field(default_factory=dict)

    def miss(self, what: str, page: Page) -> None:
        self.misses.setdefault(what, []).append(page.path.stem)


def score(extractor: Extractor, pages: list[Page]) -> Score:
    s = Score()
    for page in pages:
        want = page.expected
        if want is None:
            continue
        s.pages += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = extractor.read(extractor.run(page.url, page.body))
        if got.error:
            s.errors += 1
            s.miss("error", page)
        want_time, _ = time_of(want.get("published_at"))
        want_lines = lines_of(want.get("body"))
        checks = {
            "title": norm(got.title) == norm(want.get("title")) and got.title is not None,
            "time": got.time is not None and not got.date_only and got.time == want_time,
            "date": got.time is not None
            and want_time is not None
            and got.time.astimezone(BEIJING).date() == want_time.astimezone(BEIJING).date(),
            "authors": got.authors == set(want.get("reporters") or []),
            "body_exact": got.body == want_lines,
            "body_set": set(got.body) == set(want_lines),
        }
        for what, ok in checks.items():
            if ok:
                setattr(s, what, getattr(s, what) + 1)
            else:
                s.miss(what, page)
        s.body_sim += difflib.SequenceMatcher(
            None, "\n".join(got.body), "\n".join(want_lines), autojunk=False
        ).ratio()
        if got.record is not None:
            wrong = [k for k in EXTRACTED_FIELDS if got.record.get(k) != want.get(k)]
            if wrong:
                s.miss("all_fields", page)
                for k in wrong:
                    s.miss(f"field {k}", page)
            else:
                s.all_fields += 1
    if s.pages:
        s.body_sim /= s.pages
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("pages", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per extractor")
    parser.add_argument("--seconds", type=float, default=2.0, help="least length of one run")
    parser.add_argument(
        "--only", default=",".join(FACTORIES), help=f"comma-separated: {', '.join(FACTORIES)}"
    )
    parser.add_argument("--misses", action="store_true", help="list the pages each check missed")
    args = parser.parse_args()
    names = [n.strip().lower() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in FACTORIES]
    if unknown:
        parser.error(f"unknown extractor(s): {', '.join(unknown)}")
    loopback_only()

    files = args.pages or sorted((ROOT / "fixtures" / "articles").glob("*.html"))
    pages = load_pages(files)
    if not pages:
        sys.exit("no pages to measure: fixtures/articles/*.html is empty")
    size = sum(len(p.body) for p in pages) / len(pages) / 1024
    scored = sum(p.expected is not None for p in pages)
    print(machine_line(("scrapy", "lxml", "parsel", "trafilatura", "gne", "newspaper4k")))
    print(
        f"# {len(pages)} pages, {size:.0f} KB on average, {scored} with expected records; "
        f"{args.rounds} rounds of >= {args.seconds:g} CPU s each, median (min-max)"
    )
    extractors = load(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ex in extractors:
            for page in pages:  # warm up: imports, caches, jieba's dictionary
                ex.run(page.url, page.body)
        # Rounds interleave the extractors, so that a busy spell on the machine hits them all.
        rates: dict[str, list[float]] = {ex.name: [] for ex in extractors}
        for _ in range(args.rounds):
            for ex in extractors:
                rates[ex.name].append(one_round(ex, pages, args.seconds))

    print()
    print(f"{'extractor':<20} {'version':<9} {'pages/s':>22} {'ms/page':>8} {'x floor':>8}")
    floor = rates.get(FLOOR)
    for ex in extractors:
        ms = 1000 / median(rates[ex.name])
        # The ratio of each round's times, then their median: both sides saw the same load.
        ratio = (
            f"{median(f / r for f, r in zip(floor, rates[ex.name], strict=True)):.2f}"
            if floor
            else "-"
        )
        print(f"{ex.name:<20} {ex.version:<9} {spread(rates[ex.name]):>22} {ms:>8.3f} {ratio:>8}")

    if not scored:
        print("\nno expected records beside the pages: accuracy not scored")
        return
    print()
    print(
        f"{'accuracy':<20} {'title':>7} {'time':>7} {'date':>7} {'authors':>7} "
        f"{'body =':>7} {'body set':>8} {'body sim':>8}"
    )
    for ex in extractors:
        if ex.name == FLOOR:
            continue
        s = score(ex, pages)
        n = s.pages
        print(
            f"{ex.name:<20} {s.title:>3}/{n:<3} {s.time:>3}/{n:<3} {s.date:>3}/{n:<3} "
            f"{s.authors:>3}/{n:<3} {s.body_exact:>3}/{n:<3} {s.body_set:>4}/{n:<3} "
            f"{s.body_sim:>8.3f}"
        )
        if ex.name == "newsbot":
            print(f"{'':<20} every extracted field exact on {s.all_fields}/{n} pages")
        if args.misses:
            for what, stems in sorted(s.misses.items()):
                print(f"{'':<22}missed {what}: {', '.join(stems)}")


if __name__ == "__main__":
    main()
