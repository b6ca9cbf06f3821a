"""newsbot's add-on, as users configure Scrapy: their settings add to newsbot's components
instead of replacing them, a configuration that would deliver without the state store is
refused, and every way of running the crawl (``scrapy crawl``, ``scrapy runspider``, a
``CrawlerProcess`` script) ends with the run's verdict as its exit code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.crawlkit import PROJECT, TEST_SETTINGS, run_crawl
from tests.opskit import reports

if TYPE_CHECKING:
    from testsite import SiteCopy

SPIDERMON = "spidermon.contrib.scrapy.extensions.Spidermon"

USER_MONITORS = """
import json, os
from spidermon import Monitor, MonitorSuite, monitors

@monitors.name("what a user's monitor reads")
class Reads(Monitor):
    @monitors.name("final stats")
    def test_final(self):
        stats = self.data.stats
        keys = ("newsbot/exported", "item_scraped_count", "newsbot/state/exported")
        with open(os.environ["MONITOR_OUT"], "w") as fh:
            json.dump({k: stats.get(k) for k in keys}, fh)

class Suite(MonitorSuite):
    monitors = [Reads]
"""


def scrapy(
    *args: str, site: str, tmp_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scrapy", *args]
    settings = {
        **TEST_SETTINGS,
        "NEWSBOT_SITE_ROOT": site,
        "NEWSBOT_STATE_DIR": str(tmp_path / "state"),
    }
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    env.update(extra_env or {})
    return subprocess.run(
        command, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=120
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_spidermon_enabled_the_documented_way_keeps_newsbot(site: SiteCopy, tmp_path: Path):
    (tmp_path / "usermon.py").write_text(USER_MONITORS)
    out = tmp_path / "monitor.json"
    done = scrapy(
        "crawl", "nbd", "-a", "columns=3", "-o", f"{tmp_path}/out.jsonl",
        "-s", f'EXTENSIONS={{"{SPIDERMON}": 500}}',
        "-s", "SPIDERMON_ENABLED=1", "-s", "SPIDERMON_SPIDER_CLOSE_MONITORS=usermon.Suite",
        site=site.root, tmp_path=tmp_path,
        extra_env={"PYTHONPATH": str(tmp_path), "MONITOR_OUT": str(out)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # The state store, the report and the verdict are there…
    assert (tmp_path / "state" / "state.sqlite3").exists()
    assert [r["status"] for r in reports(tmp_path / "state")] == ["ok"]
    assert "INFO: Run OK: 13 discovered, 13 exported" in done.stderr.strip().splitlines()[-1]
    # …and the user's monitor ran, after the feeds were published: final stats.
    assert json.loads(out.read_text()) == {
        "newsbot/exported": 13, "item_scraped_count": 13, "newsbot/state/exported": 13,
    }  # fmt: skip


@pytest.mark.process
def test_a_user_can_still_turn_one_component_off(site: SiteCopy, tmp_path: Path):
    done = scrapy(
        "crawl", "nbd", "-a", "columns=3", "-o", f"{tmp_path}/out.jsonl",
        "-s", 'EXTENSIONS={"newsbot.ops.progress.ProgressLog": null}',
        "-s", "NEWSBOT_PROGRESS_INTERVAL=0.05", "-s", "ADDONS={}",
        site=site.root, tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Progress:" not in done.stderr
    # ADDONS={} did not lose newsbot's add-on either: the spider brings it.
    assert "newsbot.state.extension.StateExtension" in done.stderr
    assert (tmp_path / "state" / "state.sqlite3").exists()


@pytest.mark.process
def test_delivering_without_the_state_store_is_refused_unless_asked(site: SiteCopy, tmp_path: Path):
    off = 'EXTENSIONS={"newsbot.state.extension.StateExtension": null}'
    done = scrapy(
        "crawl", "nbd", "-a", "columns=3", "-o", f"{tmp_path}/out.jsonl", "-s", off,
        site=site.root, tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].split(": error: ", 1)[1] == (
        "EXTENSIONS turns off newsbot.state.extension.StateExtension: this run "
        "would deliver records without the state store (no exactly-once, no record of what was "
        "delivered); set NEWSBOT_STATE_ENABLED=False if that is what you want"
    )
    assert site.paths() == []
    assert not (tmp_path / "out.jsonl").exists()

    asked = scrapy(
        "crawl", "nbd", "-a", "columns=3", "-o", f"{tmp_path}/out.jsonl", "-s", off,
        "-s", "NEWSBOT_STATE_ENABLED=False",
        site=site.root, tmp_path=tmp_path,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 13
    assert not (tmp_path / "state" / "state.sqlite3").exists()


@pytest.mark.process
def test_runspider_exits_with_the_verdict(site: SiteCopy, tmp_path: Path):
    spider = tmp_path / "adhoc.py"
    spider.write_text(
        "from newsbot.spiders.nbd import NbdSpider\n\n\n"
        "class AdHoc(NbdSpider):\n    name = 'adhoc'\n"
    )
    failed = scrapy(
        "runspider", str(spider), "-a", "columns=3", "-o", f"{tmp_path}/out.jsonl",
        site=f"http://127.0.0.1:{closed_port()}", tmp_path=tmp_path / "down",
    )  # fmt: skip
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "ERROR: Run failed: site_unreachable" in failed.stderr.strip().splitlines()[-1]

    ok = scrapy(
        "runspider", str(spider), "-a", "columns=3", "-o", f"{tmp_path}/out.jsonl",
        site=site.root, tmp_path=tmp_path / "up",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "INFO: Run OK: 13 discovered" in ok.stderr.strip().splitlines()[-1]


SCRIPT = """
import sys
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings
from newsbot.verdict import verdict

settings = get_project_settings()
settings.setdict(dict(arg.split("=", 1) for arg in sys.argv[2:]), priority="cmdline")
settings.set("FEEDS", {sys.argv[1]: {"format": "jsonlines"}}, priority="cmdline")
process = CrawlerProcess(settings)
crawler = process.create_crawler("nbd")
process.crawl(crawler, columns="3")
process.start()
result = verdict(crawler)
print("VERDICT", result.exit_code, result.line)
print("AIOHTTP", "aiohttp" in sys.modules)
sys.exit(result.exit_code)
"""


@pytest.mark.process
def test_crawler_process_script_gets_the_verdict(site: SiteCopy, tmp_path: Path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    # The script runs from its own folder: the project (and tests.crawlkit's resolver) on the path.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))

    def run(root: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        settings = [f"{k}={v}" for k, v in TEST_SETTINGS.items()]
        settings += [f"NEWSBOT_SITE_ROOT={root}", f"NEWSBOT_STATE_DIR={state}", *extra]
        command = [sys.executable, str(script), str(tmp_path / "out.jsonl"), *settings]
        return subprocess.run(
            command, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=120
        )

    ok = run(site.root, tmp_path / "ok")
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "VERDICT 0 Run OK: 13 discovered, 13 exported" in ok.stdout
    # Scrapy's remote control, off in newsbot's settings, is not even imported (aiohttp).
    assert "AIOHTTP False" in ok.stdout

    down = run(f"http://127.0.0.1:{closed_port()}", tmp_path / "down")
    assert down.returncode == 1, down.stderr[-3000:]
    assert "VERDICT 1 Run failed: site_unreachable: robots.txt of" in down.stdout

    refused = run(
        site.root, tmp_path / "refused",
        'EXTENSIONS={"newsbot.state.extension.StateExtension": null}',
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert "VERDICT 1 Run failed: not_started" in refused.stdout


def test_the_remote_control_is_there_for_a_user_who_turns_it_on(site: SiteCopy, tmp_path: Path):
    """newsbot leaves Scrapy's remote control out of the extensions while it is off (so that
    aiohttp is not imported for nothing: the CrawlerProcess test above); turned on, it runs."""
    remote = "scrapy.extensions.remote_control.RemoteControl"
    off = run_crawl(site.root, "columns=3", tmp_path=tmp_path / "off")
    assert off.returncode == 0, off.explain()
    assert "Enabled extensions:" in off.log
    assert remote not in off.log

    jobs = tmp_path / "jobs"
    on = run_crawl(
        site.root, "columns=3", tmp_path=tmp_path / "on",
        settings={"REMOTE_CONTROL_ENABLED": "True", "REMOTE_CONTROL_JOBS_DIR": str(jobs)},
    )  # fmt: skip
    assert on.returncode == 0, on.explain()
    assert remote in on.log
    assert len(on.records) == len(off.records) == 13
