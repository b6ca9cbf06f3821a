"""The log a person reads, with the project's own log settings (no LOG_LEVEL given): a clean
run has no warning and no per-request or per-item lines; an unreachable site is told in a few
lines, without a traceback, naming every column it could not read."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.crawlkit import PROJECT, TEST_SETTINGS

if TYPE_CHECKING:
    from testsite import SiteCopy

pytestmark = pytest.mark.process

LEVEL = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[([^\]]+)\] (\w+): ", re.M)


def crawl(
    root: str, tmp_path: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    settings = {k: v for k, v in TEST_SETTINGS.items() if k not in ("LOG_LEVEL", "DNS_RESOLVER")}
    # DNS_RESOLVER's new name (Scrapy 2.19 warns about the old one).
    settings["TWISTED_DNS_RESOLVER"] = TEST_SETTINGS["DNS_RESOLVER"]
    settings |= {"NEWSBOT_SITE_ROOT": root, "NEWSBOT_STATE_DIR": str(tmp_path / "state")}
    settings |= extra or {}
    command = [sys.executable, "-m", "scrapy", "crawl", "nbd", "-o", f"{tmp_path}/out.jsonl"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    for arg in args:
        command += ["-a", arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    return subprocess.run(
        command, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=120
    )


def test_clean_run_logs_info_and_no_warning(site: SiteCopy, tmp_path: Path) -> None:
    done = crawl(site.root, tmp_path, "columns=3,1161")
    log = done.stderr
    assert done.returncode == 0, log[-3000:]
    levels = [level for _, level in LEVEL.findall(log)]
    assert "DEBUG" not in levels, "per-request, per-item and spidermon lines are DEBUG"
    assert "WARNING" not in levels, [line for line in log.splitlines() if "WARNING" in line]
    assert "ERROR" not in levels
    assert "Scraped from" not in log and "[Spidermon]" not in log
    exported = sum(1 for _ in (tmp_path / "out.jsonl").open())
    assert exported > 20
    assert log.strip().splitlines()[-1].split("INFO: ")[1].startswith("Run OK:")


def test_debug_level_shows_every_response_and_record(site: SiteCopy, tmp_path: Path) -> None:
    """At INFO the per-response and per-record messages are not even made (newsbot.logsafe's
    LogFormatter); asked for, they are all there."""
    done = crawl(site.root, tmp_path, "columns=3", extra={"LOG_LEVEL": "DEBUG"})
    log = done.stderr
    assert done.returncode == 0, log[-3000:]
    exported = sum(1 for _ in (tmp_path / "out.jsonl").open())
    assert exported > 5
    assert log.count("Scraped from <200 ") == exported
    crawled = re.findall(r"\[scrapy\.core\.engine\] DEBUG: Crawled \((\d+)\) <GET ([^>]+)>", log)
    assert sum(1 for _, url in crawled if "/articles/" in url) >= exported
    assert any("/columns/3/" in url for _, url in crawled)


def test_unreachable_site_one_line_per_fact_no_traceback(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = crawl(f"http://127.0.0.1:{port}", tmp_path, "columns=3,332,1161")
    log = done.stderr
    assert done.returncode == 1, log[-3000:]
    assert "Traceback" not in log, log
    assert f"robots.txt of 127.0.0.1:{port} could not be read" in log
    assert "list_failed: columns 3, 332, 1161: their list pages could not be fetched" in log
    last = log.strip().splitlines()[-1]
    assert "Run failed: site_unreachable" in last
