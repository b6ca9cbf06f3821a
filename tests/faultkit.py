"""Helpers for the reliability tests: crawls against the site copy under fault plans (testsite),
and what a run left behind, read the way an operator would: the records, the state store's
verdict on every article it discovered, and the exit status.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse
from twisted.internet import defer
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from newsbot.pages.article import ArticlePage
from newsbot.urls import is_nbd_host
from tests.crawlkit import CrawlResult, LoopbackResolver, run_crawl
from tests.helpers import extracted_part
from testsite import Server, SiteCopy

#: Short timeouts and few retries: faults show quickly. DOWNLOAD_MAXSIZE is 1 MiB, so "ten times
#: too large" is 10 MiB and a gzip bomb is far over it.
FAULT_SETTINGS = {
    "DOWNLOAD_TIMEOUT": "1",
    "RETRY_TIMES": "2",
    "DOWNLOAD_MAXSIZE": str(1 << 20),
    "DOWNLOAD_WARNSIZE": "0",
}

#: Synthetic articles of the site copy (fixtures/site/articles.tsv) that answer a plain page.
PLAIN_IDS = (
    "1700501", "1700502", "1700503", "1700401", "1700402", "1700403", "1700301", "1700302",
    "1700201", "1700202", "1700101", "1700102", "1700001", "1799901", "1230001", "1230002",
    "1230003", "1229901", "1229902", "1700601", "1700602", "1700706", "1700801", "1700802",
    "1700803", "1700804",
)  # fmt: skip


def crawl(
    server: SiteCopy,
    *arguments: str,
    tmp_path: Path,
    settings: dict[str, str] | None = None,
    process: bool = False,
) -> CrawlResult:
    """``scrapy crawl nbd`` against the fault server, with :data:`FAULT_SETTINGS` (in this
    process unless ``process``: :func:`tests.crawlkit.run_crawl`)."""
    return run_crawl(
        server.root,
        *arguments,
        tmp_path=tmp_path,
        settings={**FAULT_SETTINGS, **(settings or {})},
        process=process,
    )


def url_arg(server: SiteCopy, ids: list[str]) -> str:
    """``url=`` with the canonical URLs of these site-copy articles."""
    return "url=" + ",".join(server.articles[i].url for i in ids)


def ledger(state: Path) -> dict[str, str]:
    """Every article the state store knows, by id: ``exported``, ``pending``,
    ``failed:<reason>`` or ``dropped:<reason>``."""
    names = {0: "pending", 1: "exported", 2: "dropped", 3: "failed"}
    db = sqlite3.connect(f"file:{state / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT article_id, state, reason FROM articles").fetchall()
    finally:
        db.close()
    out = {}
    for ident, code, reason in rows:
        name = names[code]
        out[str(ident)] = f"{name}:{reason}" if name in ("failed", "dropped") else name
    return out


def assert_accounted(result: CrawlResult, state: Path, expected: dict[str, str]) -> None:
    """The run's accounting: the store holds exactly the expected verdict for every article
    discovered (nothing else, nothing pending unless expected), the stats count the same
    failures and drops with the same reasons, and the records are the exported ones."""
    got = ledger(state)
    assert got == expected, f"store: {got}\nexpected: {expected}\n{result.explain()}"
    failed = Counter(v.split(":", 1)[1] for v in expected.values() if v.startswith("failed:"))
    assert result.prefixed("newsbot/failed/") == dict(failed), result.explain()
    dropped = Counter(v.split(":", 1)[1] for v in expected.values() if v.startswith("dropped:"))
    assert result.prefixed("newsbot/dropped/") == dict(dropped), result.explain()
    exported = sorted(i for i, v in expected.items() if v == "exported")
    assert sorted(result.ids()) == exported, result.explain()
    assert result.stat("newsbot/discovered") == len(expected), result.explain()


def clean_record(server: SiteCopy, ident: str, body: bytes | None = None) -> dict[str, Any]:
    """The extracted fields of the article as its whole, undamaged page gives them."""
    article = server.articles[ident]
    if body is None:
        body = server.answer_path(article.path).body
    response = HtmlResponse(url=server.root + article.path, body=body, encoding="utf-8")
    return extracted_part(ItemAdapter(ArticlePage(response).to_item()).asdict())


def no_request_left_the_server(result: CrawlResult, *servers: Server) -> None:
    """Every request the downloader sent reached one of these servers (so none went to any
    other address, private, link-local or remote): Scrapy counts what it downloads, the
    servers count what they received."""
    received = sum(len(s.hits) for s in servers)
    assert result.stat("downloader/request_count") == received, result.explain()


@implementer(IResolverSimple)
class NbdOnLoopbackResolver(LoopbackResolver):
    """``DNS_RESOLVER`` for crawling with the production root (``https://www.nbd.com.cn``) on
    this machine: nbd.com.cn and its subdomains are 127.0.0.2 (where a test serves them on
    ports 80 and 443); loopback addresses are themselves; every other name fails."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if is_nbd_host(name.rstrip(".")):
            return defer.succeed("127.0.0.2")
        return super().getHostByName(name, timeout)
