"""``scrapy queue-status``: the shared crawl of ``NEWSBOT_REDIS_URL`` at a glance.

    scrapy queue-status -s NEWSBOT_REDIS_URL=redis://queue.example:6379/0
    scrapy queue-status --drop -s NEWSBOT_REDIS_URL=...     # forget an unfinished job

Prints JSON: the job (its spider arguments), the queue's size, each worker (alive, lease left,
requests and articles it holds), publishes of dead workers not yet settled, and the state
totals. Registered as an entry point (a module name cannot hold the ``-``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from newsbot.state.errors import StateError
from newsbot.state.rebuild import rebuild_redis
from newsbot.state.redis_store import RedisStateStore

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


class Command(ScrapyCommand):
    requires_project = True
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--drop]"

    def short_desc(self) -> str:
        return "Show the shared queue, job and workers of a distributed crawl (NEWSBOT_REDIS_URL)"

    def long_desc(self) -> str:
        return (
            "Prints the distributed crawl kept under NEWSBOT_REDIS_PREFIX on NEWSBOT_REDIS_URL as "
            "JSON: the job and its spider arguments, requests queued, workers and what they "
            "hold, unsettled publishes, article totals. --drop forgets an unfinished job (its "
            "queue and dupefilter) once no worker is alive: the articles it still owed stay "
            "pending, and the next crawl fetches them."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--drop", action="store_true", help="forget an unfinished job")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        url = self.settings.get("NEWSBOT_REDIS_URL")
        if not url:
            raise UsageError("set NEWSBOT_REDIS_URL (-s NEWSBOT_REDIS_URL=redis://host:6379/0)")
        if args:
            raise UsageError(f"unexpected arguments: {' '.join(args)}")
        try:
            with RedisStateStore(
                url,
                prefix=self.settings.get("NEWSBOT_REDIS_PREFIX") or "newsbot",
                worker_id="queue-status",
            ) as store:
                if opts.drop:
                    dropped = store.drop_job()
                    print(f"queue-status: job dropped ({dropped} requests)", file=sys.stderr)
                print(json.dumps(store.status(), ensure_ascii=False, indent=2))
        except StateError as exc:
            print(f"queue-status: {exc}", file=sys.stderr)
            self.exitcode = 1


def state_command(settings: BaseSettings, args: list[str], force: bool) -> int:
    """``scrapy state info|rebuild`` for the state in Redis (``NEWSBOT_REDIS_URL``)."""
    prefix = settings.get("NEWSBOT_REDIS_PREFIX") or "newsbot"
    url = settings.get("NEWSBOT_REDIS_URL")
    try:
        if args[0] == "info":
            with RedisStateStore(url, prefix=prefix, worker_id="state") as store:
                info = {
                    "redis": store.directory,
                    "articles": store.counts(),
                    "dropped": store.reasons("dropped"),
                    "failed": store.reasons("failed"),
                    "high_water_marks": {
                        c: m.isoformat()
                        for c in store.columns_with_marks()
                        if (m := store.high_water_mark(c)) is not None
                    },
                }
            print(json.dumps(info, ensure_ascii=False, indent=2))
            return 0
        if len(args) < 2:
            raise UsageError("rebuild needs the delivered JSON Lines files")
        with RedisStateStore(
            url,
            prefix=prefix,
            worker_id="state-rebuild",
            marker_dir=settings.get("NEWSBOT_STATE_DIR") or "state",
            create=True,
        ) as store:
            report = rebuild_redis(
                store,
                [Path(a) for a in args[1:]],
                min_chars=settings.getint("NEWSBOT_DUPLICATE_MIN_CHARS", 50),
                force=force,
            )
    except StateError as exc:
        print(f"state: {exc}", file=sys.stderr)
        return 1
    print(
        f"rebuilt {store.directory}: {report.articles} articles exported, from "
        f"{report.records} records in {report.files} files",
        file=sys.stderr,
    )
    if report.bad_lines:
        shown = ", ".join(report.bad_lines[:5])
        print(f"state: {len(report.bad_lines)} lines were not records: {shown}", file=sys.stderr)
        return 1
    return 0
