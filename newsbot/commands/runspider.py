"""``scrapy runspider FILE``: Scrapy's, with the checks and the verdict of ``scrapy crawl``
(:class:`newsbot.commands.crawl.VerdictCommand`): a run that failed exits 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.commands.runspider import Command as ScrapyRunspiderCommand

from newsbot.commands.crawl import VerdictCommand

if TYPE_CHECKING:
    import argparse

    from scrapy import Spider
    from scrapy.crawler import Crawler


class Command(VerdictCommand, ScrapyRunspiderCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        self._run_with_verdict(super().run, args, opts)

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        return self._remember(super()._create_crawler(spidercls))
