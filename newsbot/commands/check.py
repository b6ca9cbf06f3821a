"""``scrapy check``: the nbd spider's contracts, run against ``NEWSBOT_SITE_ROOT``.

The contracts are in the callbacks' docstrings (``@path``, :mod:`newsbot.spiders.entry`); run
them against the local copy of the site with ``-s NEWSBOT_SITE_ROOT=http://127.0.0.1:8765``.
Like ``scrapy parse``, the check delivers nothing and keeps no state
(:func:`newsbot.commands.parse.one_page_settings`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.commands.check import Command as ScrapyCheckCommand

from newsbot.commands.parse import one_page_settings
from newsbot.spiders.entry import SitePathContract

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCheckCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        one_page_settings(self.settings)
        # Contracts are read before any crawler (and so newsbot's add-on) exists.
        self.settings.set_in_component_priority_dict("SPIDER_CONTRACTS", SitePathContract, 1)
