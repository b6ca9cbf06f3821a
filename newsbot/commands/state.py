"""``scrapy state``: look at the delivery record, or rebuild it from delivered files.

    scrapy state info
    scrapy state rebuild [--force] FILE [FILE ...]

Both use ``NEWSBOT_STATE_DIR`` (``-s NEWSBOT_STATE_DIR=...``) and take the directory's run lock,
so neither runs beside a crawl on the same directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from newsbot.state.errors import StateError
from newsbot.state.rebuild import rebuild
from newsbot.state.store import StateStore


class Command(ScrapyCommand):
    requires_project = True
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "info | rebuild [--force] FILE [FILE ...]"

    def short_desc(self) -> str:
        return "Show the delivery state store, or rebuild it from delivered JSON Lines files"

    def long_desc(self) -> str:
        return (
            "info: articles per state, drop and failure reasons, high-water marks (JSON).\n"
            "rebuild: create the state store of NEWSBOT_STATE_DIR from the JSON Lines files "
            "newsbot delivered, when the store was lost or is corrupt. Every record becomes an "
            "exported article, so the next crawl does not deliver it again. An existing store "
            "is only replaced with --force (it is kept, renamed)."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--force", action="store_true", help="replace an existing store")

    def _directory(self) -> Path:
        assert self.settings is not None
        return Path(self.settings.get("NEWSBOT_STATE_DIR") or "state")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args or args[0] not in ("info", "rebuild"):
            raise UsageError("say `info` or `rebuild FILE...`")
        assert self.settings is not None
        if self.settings.get("NEWSBOT_REDIS_URL"):
            # A distributed crawl's state (docs/distributed.md).
            from newsbot.distributed.status import state_command

            self.exitcode = state_command(self.settings, args, opts.force)
            return
        try:
            if args[0] == "info":
                self._info()
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
