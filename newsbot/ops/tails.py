"""Noticing new boilerplate: how a run's bodies end.

Extraction stays a pure function of the page; the crawl watches its output. A block that ends
the bodies of many of a run's records verbatim, and that the rules keep, is most likely a footer
no rule knows yet (a new disclaimer, another account's banner). :class:`TailWatcher` counts the
last blocks of every exported body and, at the end of the run, names those found in at least
``NEWSBOT_TAIL_MIN_ARTICLES`` records and ``NEWSBOT_TAIL_MIN_SHARE`` of them: a WARNING line
each (``possible new boilerplate: …, in 31 of 40 articles``), the run report's
``boilerplate_candidates`` and the stat ``newsbot/tails/candidates``. A maintainer then adds a
rule (newsbot/pages/boilerplate.py) or lists the block in ``NEWSBOT_TAIL_IGNORE``.

``scrapy tails`` lists the most frequent tail blocks of records or saved pages for the same
purpose (:func:`tail_counts` is shared).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

#: Footers are short: longer blocks are the writer's own and are not counted.
LONGEST_TAIL_BLOCK = 160
#: Distinct blocks kept while counting; past it, blocks seen once are forgotten (memory stays
#: flat in the size of the crawl, and a footer repeats long before that).
MAX_TRACKED = 20_000


def tail_blocks(body: str | None, depth: int) -> list[str]:
    """The last ``depth`` blocks of a body, each once, short ones only.

    >>> tail_blocks("第一段。\\n第二段。\\n页脚\\n页脚", 3)
    ['页脚', '第二段。']
    """
    lines = [line for line in (body or "").split("\n") if line]
    found: list[str] = []
    for line in reversed(lines[-depth:]):
        if len(line) <= LONGEST_TAIL_BLOCK and line not in found:
            found.append(line)
    return found


def tail_counts(bodies: Iterable[str | None], depth: int = 3) -> tuple[Counter[str], int]:
    """How many bodies each tail block ends, and how many bodies there were.

    >>> tail_counts(["甲。\\n页脚", "乙。\\n页脚", "丙。"], depth=1)
    (Counter({'页脚': 2, '丙。': 1}), 3)
    """
    counts: Counter[str] = Counter()
    total = 0
    for body in bodies:
        total += 1
        counts.update(tail_blocks(body, depth))
    return counts, total


class TailWatcher:
    """Counts the tail blocks of the run's exported records (see the module's docs)."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        min_articles: int,
        min_share: float,
        depth: int,
        ignore: Iterable[str] = (),
    ) -> None:
        self.crawler = crawler
        self.min_articles = max(1, min_articles)
        self.min_share = min_share
        self.depth = max(1, depth)
        self.ignore = frozenset(ignore)
        self.counts: Counter[str] = Counter()
        self.records = 0
        self._found: list[dict[str, Any]] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TailWatcher:
        settings = crawler.settings
        if not settings.getbool("NEWSBOT_TAIL_WATCH", True):
            raise NotConfigured
        watcher = cls(
            crawler,
            min_articles=settings.getint("NEWSBOT_TAIL_MIN_ARTICLES", 5),
            min_share=settings.getfloat("NEWSBOT_TAIL_MIN_SHARE", 0.3),
            depth=settings.getint("NEWSBOT_TAIL_DEPTH", 1),
            ignore=settings.getlist("NEWSBOT_TAIL_IGNORE"),
        )
        crawler.signals.connect(watcher.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(watcher.spider_closed, signal=signals.spider_closed)
        return watcher

    def item_scraped(self, item: Any, spider: Spider) -> None:
        body = getattr(item, "body", None)
        if body is None and isinstance(item, dict):
            body = item.get("body")
        self.records += 1
        self.counts.update(tail_blocks(body, self.depth))
        if len(self.counts) > MAX_TRACKED:
            self.counts = Counter({k: n for k, n in self.counts.items() if n > 1})

    def candidates(self) -> list[dict[str, Any]]:
        """``[{"text", "articles", "of"}]``, most frequent first; logged once as warnings."""
        if self._found is not None:
            return self._found
        need = max(self.min_articles, self.min_share * self.records)
        found = [
            {"text": text, "articles": n, "of": self.records}
            for text, n in self.counts.most_common()
            if n >= need and text not in self.ignore
        ]
        self._found = found
        for c in found:
            logger.warning(
                "possible new boilerplate: %r, in %d of %d articles (add a rule, or list it in "
                "NEWSBOT_TAIL_IGNORE)",
                c["text"],
                c["articles"],
                c["of"],
            )
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("newsbot/tails/candidates", len(found))
        return found

    def spider_closed(self, spider: Spider) -> None:
        self.candidates()
