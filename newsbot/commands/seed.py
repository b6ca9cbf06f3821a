"""``scrapy seed``: queue the start of a distributed crawl (a backfill) without crawling.

    scrapy seed --since 2021-01-01 --until 2021-12-31 -s NEWSBOT_REDIS_URL=redis://host:6379/0
    scrapy seed -a columns=3,332 -a since=2024-01-01 -s NEWSBOT_REDIS_URL=...
    scrapy seed -a urls_file=backlog.txt -s NEWSBOT_REDIS_URL=...

It creates the crawl's job with these spider arguments (any the ``nbd`` spider takes) and queues
exactly what its first worker would queue: the start requests (column list pages, the search, or
the URLs), plus what earlier runs left pending or failed. Workers started afterwards with
``scrapy crawl nbd -s NEWSBOT_REDIS_URL=...`` take the job's arguments and share the work. A job
already in progress is never replaced (the command fails; ``scrapy queue-status`` shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import UsageError

from newsbot.commands.crawl import Command as CrawlCommand

if TYPE_CHECKING:
    import argparse


class Command(CrawlCommand):
    def syntax(self) -> str:
        return "[--since DATE] [--until DATE] [--columns IDS] [-a NAME=VALUE ...]"

    def short_desc(self) -> str:
        return "Queue the start requests of a distributed crawl (NEWSBOT_REDIS_URL), a backfill"

    def long_desc(self) -> str:
        return __doc__ or ""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--since", metavar="DATE", help="first publication date (-a since)")
        parser.add_argument("--until", metavar="DATE", help="last publication date (-a until)")
        parser.add_argument("--columns", metavar="IDS", help="column ids (-a columns)")

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        for name in ("since", "until", "columns"):
            value = getattr(opts, name)
            if value is None:
                continue
            if name in opts.spargs and opts.spargs[name] != value:
                raise UsageError(f"--{name} and -a {name} disagree", print_help=False)
            opts.spargs[name] = value
        assert self.settings is not None
        if not self.settings.get("NEWSBOT_REDIS_URL"):
            raise UsageError(
                "seeding queues a distributed crawl: set NEWSBOT_REDIS_URL "
                "(-s NEWSBOT_REDIS_URL=redis://host:6379/0)",
                print_help=False,
            )
        # Pushes and stops: no requests are popped, and there is no run to judge.
        self.settings.set("NEWSBOT_REDIS_SEED_ONLY", True, priority="cmdline")
        self.settings.set("NEWSBOT_OPS_ENABLED", False, priority="cmdline")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args or ["nbd"], opts)
