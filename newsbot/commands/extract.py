"""``scrapy extract PATH [PATH ...]``: records from saved pages, with the crawl's own extractor."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from itemadapter import ItemAdapter
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.http import HtmlResponse

from newsbot.inputs import DEFAULT_MAX_INPUT_BYTES, InputRefused, read_input_file
from newsbot.logsafe import shown
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.urls import article_path_parts, article_url, canonical_article_url

PAGE_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")


def page_files(paths: list[str], skipped: Counter[str] | None = None) -> Iterator[Path]:
    """The files named, and the pages inside the folders named, in a stable order. Other files
    in the folders are counted in ``skipped`` by suffix (``(none)`` without one). A page name
    that is not a regular file (a FIFO, a link to a device) is listed too: reading refuses it
    with a reason, rather than it vanishing unsaid."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for p in sorted(p for p in path.rglob("*") if not p.is_dir()):
                if p.suffix.lower() in PAGE_SUFFIXES:
                    yield p
                elif skipped is not None:
                    skipped[p.suffix.lower() or "(none)"] += 1
        else:
            yield path


def skipped_line(skipped: Counter[str]) -> str:
    """What ``scrapy extract`` says about the files of a folder it did not read.

    >>> print(skipped_line(Counter({".json": 11, ".png": 1})).replace(": ", ":\\n"))
    newsbot:
    skipped 12 files that are not HTML pages (.json 11, .png 1):
    in a folder, only .html, .htm, .shtml and .xhtml files are read (name a file to read it anyway)
    """
    most = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))  # stable for equal counts
    kinds = ", ".join(f"{suffix} {n}" for suffix, n in most)
    total = sum(skipped.values())
    names = ", ".join(PAGE_SUFFIXES[:-1]) + " and " + PAGE_SUFFIXES[-1]
    return (
        f"newsbot: skipped {total} file{'s' if total != 1 else ''} that are not HTML pages "
        f"({kinds}): in a folder, only {names} files are read (name a file to read it anyway)"
    )


def saved_response(path: Path, body: bytes) -> HtmlResponse:
    """A response for a saved page. Its URL is the article URL when the path follows the site's
    layout (a wget mirror), else the file's own URL, so the page's canonical link decides."""
    found = article_path_parts(path.resolve().as_posix())
    url = article_url(*found) if found else path.resolve().as_uri()
    return HtmlResponse(url=url, body=body)


class Command(ScrapyCommand):
    requires_project = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options] PATH [PATH ...]"

    def short_desc(self) -> str:
        return "Print a JSON line for each saved article page (files or folders)"

    def long_desc(self) -> str:
        return (
            "Read saved 每经网 pages and print one record per article page as a JSON line on "
            "stdout, with the same extraction as the crawl. A page's URL comes from its path when "
            "the path ends in articles/YYYY-MM-DD/ID.html, else from its canonical link, else "
            "from --url (one file only). Pages that give no record are reported on stderr, and "
            "the exit status is then 1."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--url", metavar="URL", help="article URL of the page, when only one PATH is given"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name at least one saved page or folder")
        skipped: Counter[str] = Counter()
        files = list(page_files(args, skipped))
        if opts.url and len(files) != 1:
            raise UsageError("--url applies to a single page")
        if opts.url and not canonical_article_url(opts.url, any_host=True):
            raise UsageError(f"--url is not an article URL: {shown(opts.url)}")
        assert self.settings is not None
        limit = self.settings.getint("NEWSBOT_MAX_INPUT_BYTES", DEFAULT_MAX_INPUT_BYTES)
        failures = 0
        out = sys.stdout
        for path in files:
            try:
                body = read_input_file(path, limit)
            except InputRefused as e:
                reason = "unreadable" if e.reason == "missing" else e.reason
                print(f"newsbot: {shown(path)}: {reason}: {e.detail}", file=sys.stderr)
                failures += 1
                continue
            page = ArticlePage(
                saved_response(path, body),
                fetched_at=datetime.now(timezone.utc),
                url_hint=opts.url,
            )
            try:
                item = page.to_item()
            except NotArticle as e:
                print(f"newsbot: {shown(path)}: {e.reason}: {shown(e.detail)}", file=sys.stderr)
                failures += 1
                continue
            out.write(json.dumps(ItemAdapter(item).asdict(), ensure_ascii=False) + "\n")
        out.flush()
        if skipped:
            print(skipped_line(skipped), file=sys.stderr)
        if not files:
            print("newsbot: no pages found in " + " ".join(map(shown, args)), file=sys.stderr)
        self.exitcode = 1 if failures or not files else 0
