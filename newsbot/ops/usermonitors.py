"""Spidermon's extension, running its close monitors once the run's books are closed.

Spidermon runs ``SPIDERMON_SPIDER_CLOSE_MONITORS`` as soon as ``spider_closed`` is sent. In a
newsbot run that is before the feeds have published their files and before the state store has
recorded them, so a user's monitor would read ``newsbot/exported = 0`` while 13 records were
exported, and no verdict (``newsbot/failure``). :class:`Spidermon` waits for the state store's
``state_closing`` (sent once everything is recorded, and after newsbot's own verdict) — or, with
no state store, for the feeds to close — then runs the suites as spidermon does. Everything
else (open and periodic monitors, expression monitors, actions) is spidermon's, unchanged.

Enable it in place of spidermon's: ``EXTENSIONS = {"newsbot.ops.usermonitors.Spidermon": 500}``;
newsbot's add-on puts it in place of ``spidermon.contrib.scrapy.extensions.Spidermon`` when a
user's settings name that one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.extensions.feedexport import FeedExporter
from scrapy.utils.defer import maybe_deferred_to_future
from spidermon.contrib.scrapy.extensions import Spidermon as _Spidermon
from twisted.internet.defer import Deferred

from newsbot import signals as nb_signals
from newsbot.state.extension import StateExtension

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler


class Spidermon(_Spidermon):
    """See the module docs."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Spidermon:
        ext: Spidermon = super().from_crawler(crawler)
        ext._books_closed = Deferred()
        crawler.signals.connect(ext._close_books, signal=nb_signals.state_closing)
        crawler.signals.connect(ext._close_books, signal=signals.feed_exporter_closed)
        return ext

    _books_closed: Deferred[None]

    def _close_books(self, **kwargs: Any) -> None:
        # With a state store, its state_closing is the end of the books; without one, the
        # feeds closing is.
        has_state = self.crawler.get_extension(StateExtension) is not None
        if ("store" in kwargs or not has_state) and not self._books_closed.called:
            self._books_closed.callback(None)

    async def spider_closed(self, spider: Spider) -> None:
        waits = (
            self.crawler.get_extension(StateExtension) is not None
            or self.crawler.get_extension(FeedExporter) is not None
        )
        if waits and not self._books_closed.called:
            await maybe_deferred_to_future(self._books_closed)
        # The other receivers of the signal that closed the books (newsbot's verdict) first.
        await asyncio.sleep(0)
        super().spider_closed(spider)
