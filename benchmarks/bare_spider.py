"""The yardstick of benchmarks/crawl.py: a bare Scrapy spider over the same local site.

    scrapy runspider benchmarks/bare_spider.py -a root=http://127.0.0.1:PORT -a column=3 \\
        -o articles.jsonl:jsonl

What a minimal crawler of the site does and no more: follow a column's list pages (下一页),
fetch every article they link to (rewritten to the local root, as newsbot does), read four
fields with parsel (title, time, source, body text) and export them as JSON Lines. No state,
no validation, no politeness components: Scrapy's defaults, with the concurrency crawl.py gives
both sides. Run outside the project (crawl.py runs it in an empty folder), so the project's
settings do not apply.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

SITE = "https://www.nbd.com.cn"


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, root: str, column: str = "3", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root.rstrip("/")
        self.column = column

    async def start(self) -> Any:
        yield scrapy.Request(f"{self.root}/columns/{self.column}/", callback=self.parse_list)

    def parse_list(self, response: Response) -> Iterator[scrapy.Request]:
        for href in response.css("li.u-news-title a::attr(href)").getall():
            yield scrapy.Request(href.replace(SITE, self.root, 1), callback=self.parse_article)
        more = response.xpath('//div[@class="u-page"]/a[text()="下一页"]/@href').get()
        if more:
            yield response.follow(more, callback=self.parse_list)

    def parse_article(self, response: Response) -> Iterator[dict[str, Any]]:
        article = response.css("div.g-article")
        yield {
            "url": response.url,
            "title": " ".join(article.css("h1::text").getall()).strip(),
            "published_at": (article.css("span.time::text").get() or "").strip(),
            "source": (article.css("span.source::text").get() or "").strip(),
            "body": "\n".join(
                t.strip() for t in article.css("div.g-articl-text p ::text").getall() if t.strip()
            ),
        }
