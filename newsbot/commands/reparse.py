"""``scrapy reparse [PATH ...] [-o FILE]``: records rebuilt from the page archive, no fetching.

After a fix to the extractor, the pages earlier runs archived (``NEWSBOT_ARCHIVE``, see
:mod:`newsbot.ops.archive`) are read again with the current extractor and the crawl's own
validation, giving one record per article: from its newest archived page that is not a
challenge page. Records are printed as JSON lines (the crawl's field order), or written to
``-o FILE`` (atomically: the file appears whole or not at all). Each carries the current
``extractor_version``, the page's original fetch time as ``fetched_at`` and the column it was
listed on; the delivery fields (``revision``, ``duplicate_of``) keep their defaults, as nothing
is delivered.

Articles whose newest page no longer gives a valid record are named on stderr with the reason,
and make the exit status 1; articles archived only with other statuses (a 404) are counted.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.http import HtmlResponse
from scrapy.statscollectors import MemoryStatsCollector

from newsbot.exporters import JsonLinesExporter
from newsbot.logsafe import shown
from newsbot.ops.archive import Capture, archive_dir, iter_captures, warc_files
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.pipelines import RecordDropped, ValidationPipeline
from newsbot.state.files import atomic_file
from newsbot.urls import article_path_parts


def article_of(capture: Capture) -> str | None:
    if capture.article_id:
        return capture.article_id
    found = article_path_parts(capture.url)
    return found[1] if found else None


class Command(ScrapyCommand):
    requires_project = True
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options] [WARC_FILE_OR_DIR ...]"

    def short_desc(self) -> str:
        return "Rebuild records from archived pages (NEWSBOT_ARCHIVE) with the current extractor"

    def long_desc(self) -> str:
        return (
            "Read the WARC files newsbot archived (default: <NEWSBOT_STATE_DIR>/archive) and "
            "print one record per article as a JSON line, extracted again with the current "
            "extractor and checked like a crawl's records, without fetching anything. The "
            "newest archived page of an article that is not a challenge page is used. Articles "
            "whose page gives no valid record are named on stderr, and the exit status is 1."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="write the records to FILE instead of stdout"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        sources = args or [str(archive_dir(self.settings))]
        missing = [a for a in args if not Path(a).exists()]
        if missing:
            raise UsageError(f"no such file or directory: {', '.join(missing)}")
        files = warc_files(sources)
        if not files:
            raise UsageError(f"no WARC files in {' '.join(sources)} (is NEWSBOT_ARCHIVE on?)")
        captures: dict[str, list[Capture]] = {}
        for path in files:
            try:
                for capture in iter_captures(path):
                    ident = article_of(capture)
                    if ident is not None:
                        captures.setdefault(ident, []).append(capture)
            except (OSError, ValueError) as exc:
                print(f"reparse: {shown(path)}: unreadable: {shown(exc)}", file=sys.stderr)
                self.exitcode = 1
        if opts.output:
            self._write_file(Path(opts.output), captures)
        else:
            self._emit(sys.stdout.buffer, captures)
            sys.stdout.flush()

    def _write_file(self, target: Path, captures: dict[str, list[Capture]]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(target) as fh:
            self._emit(fh, captures)

    def _emit(self, out: IO[bytes], captures: dict[str, list[Capture]]) -> None:
        assert self.settings is not None
        stats = MemoryStatsCollector(SimpleNamespace(settings=self.settings))  # type: ignore[arg-type]
        validation = ValidationPipeline(SimpleNamespace(settings=self.settings, stats=stats))  # type: ignore[arg-type]
        exporter = JsonLinesExporter(out)
        records, broken = 0, 0
        other: Counter[str] = Counter()
        for ident, found in captures.items():
            item, problem = self._record(found)
            if item is None:
                if problem is None:
                    other[",".join(sorted({f"http_{c.status}" for c in found}))] += 1
                    continue
                print(f"reparse: article {ident}: {shown(problem)}", file=sys.stderr)
                broken += 1
                continue
            try:
                validation.process_item(item)
            except RecordDropped as exc:
                print(f"reparse: article {ident}: dropped: {shown(exc)}", file=sys.stderr)
                broken += 1
                continue
            exporter.export_item(item)
            records += 1
        skipped = ", ".join(f"{k} {n}" for k, n in other.most_common())
        print(
            f"reparse: {records} records from {len(captures)} archived articles"
            + (f"; {broken} gave no valid record" if broken else "")
            + (f"; {sum(other.values())} archived without a page ({skipped})" if other else ""),
            file=sys.stderr,
        )
        if broken:
            self.exitcode = 1

    @staticmethod
    def _record(found: list[Capture]) -> tuple[Any, str | None]:
        """The record of the newest archived page that is not a challenge, or why there is
        none (None when the article was never archived with status 200)."""
        pages = sorted((c for c in found if c.status == 200), key=lambda c: c.fetched_at)
        problem = None
        for capture in reversed(pages):
            response = HtmlResponse(
                url=capture.url,
                body=capture.body,
                headers=dict(capture.headers),
            )
            try:
                item = ArticlePage(response, fetched_at=capture.fetched_at).to_item()
            except NotArticle as exc:
                problem = f"{exc.reason}: {exc.detail} ({capture.where})"
                if exc.reason == "blocked":
                    continue  # a challenge page says nothing about the article: an older one
                return None, problem
            item.column = capture.column
            return item, None
        return None, problem
