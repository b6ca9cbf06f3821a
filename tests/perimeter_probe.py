"""A spider for ``scrapy runspider`` in the perimeter tests: it asks, with ``dont_filter``, for
every URL listed in the file named by the ``PROBE_URLS_FILE`` setting, and yields one item per
response it gets. The project's settings (and so its perimeter) apply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response


class PerimeterProbe(Spider):
    name = "perimeter_probe"

    async def start(self) -> AsyncIterator[Any]:
        assert self.crawler.stats is not None
        for url in Path(self.settings["PROBE_URLS_FILE"]).read_text().split("\n"):
            if not url.strip():
                continue
            try:
                request = Request(
                    url.strip(), dont_filter=True, callback=self.got, errback=self.lost
                )
            except ValueError:  # Scrapy itself rejects javascript: and mailto: URLs
                self.crawler.stats.inc_value("probe/invalid")
                continue
            yield request

    def got(self, response: Response) -> Any:
        yield {"url": response.url, "status": response.status}

    def lost(self, failure: Any) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"probe/lost/{type(failure.value).__name__}")
