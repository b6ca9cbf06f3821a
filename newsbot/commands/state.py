"""``scrapy state``: look at the delivery record, or rebuild it from delivered files.

    scrapy state info
    scrapy state check [--full]
    scrapy state rebuild [--force] FILE [FILE ...]
    scrapy state report [-o FILE] [--since DATE] [--until DATE] [--column ID ...]

All use ``NEWSBOT_STATE_DIR`` (``-s NEWSBOT_STATE_DIR=...``). ``info``, ``check`` and
``rebuild`` take the directory's run lock, so none runs beside a crawl on the same directory;
``report`` only
reads (the store opened read-only, no lock), so it may run while a crawl writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from newsbot.state.errors import StateCorrupt, StateError
from newsbot.state.rebuild import rebuild
from newsbot.state.store import REBUILD_HINT, StateStore

#: ``scrapy state report``'s page when no ``-o`` is given (in the current directory).
REPORT_NAME = "newsbot-report.html"


class Command(ScrapyCommand):
    requires_project = True
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return (
            "info | check [--full] | rebuild [--force] FILE [FILE ...] | "
            "report [-o FILE] [--since DATE] [--until DATE] [--column ID]"
        )

    def short_desc(self) -> str:
        return "Show the delivery state store, or rebuild it from delivered JSON Lines files"

    def long_desc(self) -> str:
        return (
            "info: articles per state, drop and failure reasons, high-water marks (JSON).\n"
            "check: read every page of the store (PRAGMA quick_check; --full: integrity_check, "
            "which also compares each index with its table); exit 1 if it is damaged. A run "
            "only checks what does not grow with the store (NEWSBOT_STATE_CHECK=light).\n"
            "rebuild: create the state store of NEWSBOT_STATE_DIR from the JSON Lines files "
            "newsbot delivered, when the store was lost or is corrupt. Every record becomes an "
            "exported article, so the next crawl does not deliver it again. An existing store "
            "is only replaced with --force (it is kept, renamed).\n"
            "report: write one self-contained HTML page (charts and tables, opens offline) of "
            "the store and the run reports: articles published per day and column, runs, "
            "failures and drops by reason, columns whose list pages stopped giving articles, "
            "warnings, the dead-letter list."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--force", action="store_true", help="replace an existing store")
        parser.add_argument(
            "--full", action="store_true", help="check: integrity_check instead of quick_check"
        )
        parser.add_argument(
            "-o", "--output", metavar="FILE",
            help=f"report: where the page goes (default: ./{REPORT_NAME})",
        )  # fmt: skip
        parser.add_argument("--since", metavar="DATE", help="report: first day (Beijing date)")
        parser.add_argument("--until", metavar="DATE", help="report: last day (Beijing date)")
        parser.add_argument(
            "--column", action="append", default=[], metavar="ID",
            help="report: only this column (repeat, or ID,ID)",
        )  # fmt: skip

    def _directory(self) -> Path:
        assert self.settings is not None
        return Path(self.settings.get("NEWSBOT_STATE_DIR") or "state")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args or args[0] not in ("info", "check", "rebuild", "report"):
            raise UsageError("say `info`, `check`, `rebuild FILE...` or `report`")
        assert self.settings is not None
        if args[0] == "report":
            self.exitcode = self._report(opts)
            return
        if self.settings.get("NEWSBOT_REDIS_URL") and args[0] == "check":
            raise UsageError("`check` reads the SQLite store's pages; a Redis store has none")
        if self.settings.get("NEWSBOT_REDIS_URL"):
            # A distributed crawl's state (README.md, Distributed crawling).
            from newsbot.distributed.status import state_command

            self.exitcode = state_command(self.settings, args, opts.force)
            return
        try:
            if args[0] == "info":
                self._info()
            elif args[0] == "check":
                self._check(opts.full)
            else:
                if len(args) < 2:
                    raise UsageError("rebuild needs the delivered JSON Lines files")
                self._rebuild([Path(a) for a in args[1:]], opts.force)
        except StateError as exc:
            print(f"state: {exc}", file=sys.stderr)
            self.exitcode = 1

    def _info(self) -> None:
        if not self._directory().is_dir():
            raise StateError(f"there is no state directory {self._directory()}")
        with StateStore(self._directory(), create=False) as store:
            info = {
                "directory": str(self._directory()),
                "articles": store.counts(),
                "dropped": store.reasons("dropped"),
                "failed": store.reasons("failed"),
                "high_water_marks": {
                    column: mark.isoformat()
                    for column, mark in (
                        (c, store.high_water_mark(c)) for c in store.columns_with_marks()
                    )
                    if mark is not None
                },
            }
        print(json.dumps(info, ensure_ascii=False, indent=2))

    def _check(self, thorough: bool) -> None:
        if not self._directory().is_dir():
            raise StateError(f"there is no state directory {self._directory()}")
        # Opening runs the light check (a file that is not a store at all is refused there).
        with StateStore(self._directory(), create=False, check="light") as store:
            problems = store.check(thorough=thorough)
        if problems:
            raise StateCorrupt(
                f"state store {store.path} is damaged: {'; '.join(problems[:5])}. "
                + REBUILD_HINT.format(dir=self._directory())
            )
        print(f"state store {store.path}: ok", file=sys.stderr)

    def _rebuild(self, files: list[Path], force: bool) -> None:
        assert self.settings is not None
        report = rebuild(
            self._directory(),
            files,
            min_chars=self.settings.getint("NEWSBOT_DUPLICATE_MIN_CHARS", 50),
            force=force,
        )
        print(
            f"rebuilt {self._directory()}: {report.articles} articles exported, from "
            f"{report.records} records in {report.files} files",
            file=sys.stderr,
        )
        if report.bad_lines:
            shown = ", ".join(report.bad_lines[:5])
            print(
                f"state: {len(report.bad_lines)} lines were not records and were skipped: {shown}",
                file=sys.stderr,
            )
            self.exitcode = 1

    def _report(self, opts: argparse.Namespace) -> int:
        from newsbot.ops.charts import ChartsUnavailable
        from newsbot.ops.history import collect
        from newsbot.ops.htmlreport import render
        from newsbot.ops.run import write_atomically
        from newsbot.ops.storeview import Window

        assert self.settings is not None
        window = Window(
            since=_date(opts.since, "--since"),
            until=_date(opts.until, "--until"),
            columns=tuple(c.strip() for arg in opts.column for c in arg.split(",") if c.strip()),
        )
        if window.since and window.until and window.since > window.until:
            raise UsageError(f"--since {window.since} is after --until {window.until}")
        directory = self._directory()
        if not directory.is_dir():
            print(f"state: there is no state directory {directory}", file=sys.stderr)
            return 1
        redis = bool(self.settings.get("NEWSBOT_REDIS_URL"))
        history = collect(directory, window, read_store=not redis)
        if redis:
            history.store_note = (
                "the delivery state is in Redis (NEWSBOT_REDIS_URL): articles per day, states "
                "and the dead-letter list are read from a SQLite store only"
            )
        try:
            now = dt.datetime.now(dt.timezone.utc)
            page = render(history, state_dir=str(directory), generated=now)
        except ChartsUnavailable as exc:
            print(f"state: {exc}", file=sys.stderr)
            return 1
        # Never into the state directory by default: a file there makes a directory that has
        # no store yet look "used before", and the first crawl would refuse to start.
        target = Path(opts.output or REPORT_NAME)
        try:
            write_atomically(target, page.encode("utf-8"))
        except OSError as exc:
            print(f"state: cannot write {target}: {exc}", file=sys.stderr)
            return 1
        print(
            f"report: {target} ({len(history.runs)} runs, "
            f"{sum(history.published.values())} articles published in the window)",
            file=sys.stderr,
        )
        return 0


def _date(value: str | None, option: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` option, or a usage error naming it."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None
