"""``scrapy tails PATH [PATH ...]``: the most frequent last blocks of bodies, to spot a footer
no extraction rule knows yet (the crawl's own watcher is newsbot/ops/tails.py).

PATHs are JSON Lines files of records (``.jsonl``, ``.jl``: their ``body``), saved pages and
Hexo posts (read with the crawl's extractor), or folders of them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from newsbot.commands.extract import (
    POST_SUFFIX,
    PathsCommand,
    page_files,
    post_page,
    saved_response,
)
from newsbot.ops.tails import tail_counts
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage

RECORD_SUFFIXES = (".jsonl", ".jl")


class Command(PathsCommand, ScrapyCommand):
    def short_desc(self) -> str:
        return "List the most frequent last blocks of bodies (records or saved pages)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--top", type=int, default=20, help="how many blocks (default 20)")
        parser.add_argument(
            "--depth", type=int, default=1, help="last blocks of each body counted (default 1)"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name at least one file or folder of records or pages")
        self.problems = 0
        counts, total = tail_counts(self._bodies(args), depth=max(1, opts.depth))
        out = sys.stdout
        print(f"{total} bodies; most frequent last blocks:", file=out)
        for text, n in counts.most_common(opts.top):
            print(f"{n:6d} {100 * n / max(total, 1):5.1f}%  {text}", file=out)
        self.exitcode = 1 if self.problems or not total else 0

    def _bodies(self, args: list[str]) -> Iterator[str | None]:
        files: list[Path] = []
        for name in args:
            path = Path(name)
            if path.is_dir():
                files += sorted(p for p in path.rglob("*") if p.suffix in RECORD_SUFFIXES)
                files += page_files([name])
            else:
                files.append(path)
        for path in files:
            try:
                data = path.read_bytes()
            except OSError as e:
                self._problem(f"{path}: unreadable: {e.strerror or e}")
                continue
            if path.suffix in RECORD_SUFFIXES:
                yield from self._record_bodies(path, data)
            else:
                yield self._page_body(path, data)

    def _record_bodies(self, path: Path, data: bytes) -> Iterator[str | None]:
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                self._problem(f"{path}:{number}: not a JSON record")
                continue
            if isinstance(record, dict):
                yield record.get("body")

    def _page_body(self, path: Path, data: bytes) -> str | None:
        response = saved_response(path, data)
        if path.suffix.lower() == POST_SUFFIX:
            response = response.replace(body=post_page(data.decode("utf-8", "replace"))[0])
        page = ArticlePage(response)
        try:
            page.to_item()
        except NotArticle as e:
            if e.reason != "no_url":  # a body is a body, named or not
                self._problem(f"{path}: {e.reason}: {e.detail}")
                return None
        return "\n".join(page.body_lines)

    def _problem(self, message: str) -> None:
        self.problems += 1
        print(f"newsbot: {message}", file=sys.stderr)
