"""Running real crawls in tests: ``scrapy crawl nbd`` in a subprocess against the site copy.

- :func:`run_crawl` runs the unmodified spider through the real engine with the project's
  settings, ``NEWSBOT_SITE_ROOT`` pointing at a local server, politeness delays off, the state
  store in a temporary directory, and returns the records, the stats and the log.
- :class:`LoopbackResolver` is the DNS of those crawls: ``localhost`` resolves, every other name
  fails, so even a perimeter bug cannot make a test reach beyond 127.0.0.0/8.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler

PROJECT = Path(__file__).resolve().parents[1]

#: Settings every test crawl runs with: fast, and unable to leave the machine.
TEST_SETTINGS: dict[str, str] = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "DOWNLOAD_TIMEOUT": "10",
    "NEWSBOT_RETRY_BACKOFF": "0.05",
    "NEWSBOT_RETRY_BACKOFF_MAX": "0.2",
    "NEWSBOT_BLOCKED_PAUSE": "0.1",
    "NEWSBOT_BLOCKED_PAUSE_MAX": "0.2",
    "NEWSBOT_BLOCKED_DELAY": "0",
    "DNS_RESOLVER": "tests.crawlkit.LoopbackResolver",
    "LOG_LEVEL": "INFO",
    "LOGSTATS_INTERVAL": "0",
}

_STATS = re.compile(r"Dumping Scrapy stats:\n(\{.*?\})\n(?=\d{4}-\d\d-\d\d |\Z)", re.S)


@dataclass
class CrawlResult:
    """What a crawl left behind."""

    returncode: int
    records: list[dict[str, Any]]
    stats: dict[str, Any]
    log: str
    command: list[str]

    def ids(self) -> list[str]:
        """Article ids of the records, in output order."""
        return [r["article_id"] for r in self.records]

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0))

    def prefixed(self, prefix: str) -> dict[str, Any]:
        """Stats under ``prefix`` (keys without it)."""
        return {k[len(prefix) :]: v for k, v in self.stats.items() if k.startswith(prefix)}

    def explain(self) -> str:
        return f"$ {' '.join(self.command)}\nexit {self.returncode}\n{self.log[-6000:]}"


def run_crawl(
    root: str,
    *arguments: str,
    tmp_path: Path,
    settings: dict[str, str] | None = None,
    spider: str = "nbd",
    runspider: Path | None = None,
    timeout: float = 120,
) -> CrawlResult:
    """``scrapy crawl nbd -a ARG ... -o records.jsonl`` against ``root`` (cwd: the project).

    ``arguments`` are ``name=value`` spider arguments. ``runspider`` runs a spider file with
    ``scrapy runspider`` instead (still with the project's settings).
    """
    out = tmp_path / "records.jsonl"
    out.unlink(missing_ok=True)
    merged = {
        **TEST_SETTINGS,
        "NEWSBOT_SITE_ROOT": root,
        "NEWSBOT_STATE_DIR": str(tmp_path / "state"),
        **(settings or {}),
    }
    what = ["runspider", str(runspider)] if runspider else ["crawl", spider]
    command = [sys.executable, "-m", "scrapy", *what, "-o", f"{out}:jsonlines"]
    for name, value in merged.items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    env.pop("http_proxy", None)
    env.pop("https_proxy", None)
    done = subprocess.run(
        command, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, env=env
    )
    log = done.stderr + done.stdout
    records = []
    if out.exists():
        records = [json.loads(line) for line in out.read_text("utf-8").splitlines() if line]
    match = _STATS.search(log)
    stats = eval(match[1], {"datetime": datetime}) if match else {}  # our own log, in tests
    return CrawlResult(done.returncode, records, stats, log, command)


@implementer(IResolverSimple)
class LoopbackResolver:
    """``DNS_RESOLVER`` for tests: ``localhost`` is 127.0.0.1, loopback addresses are
    themselves, every other name or address fails."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> LoopbackResolver:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if name.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
            return defer.succeed("127.0.0.1")
        try:
            if ipaddress.ip_address(name).is_loopback:
                return defer.succeed(name)
        except ValueError:
            pass
        return defer.fail(DNSLookupError(f"tests reach loopback addresses only, not {name!r}"))
