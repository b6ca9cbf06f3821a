"""scrapyd, end to end: a real scrapyd on 127.0.0.1 (a free port, everything in a temporary
directory), the project deployed with scrapyd-client's ``scrapyd-deploy`` to the ``[deploy]``
target of scrapy.cfg, a crawl of the local site copy scheduled through the API with its
settings, and the delivered records and the job's report checked."""

from __future__ import annotations

import configparser
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sitecopy import SiteCopy

from tests.crawlkit import PROJECT
from tests.delivery_site import env

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(base: str, path: str, data: list[tuple[str, str]] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    handler = urllib.request.ProxyHandler({})  # loopback only, never through a proxy
    with urllib.request.build_opener(handler).open(base + path, body, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[str]:
    """A started scrapyd; yields its URL."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\n"
        f"items_dir = {home / 'items'}\ndbs_dir = {home / 'dbs'}\n"
        "poll_interval = 0.3\nmax_proc = 1\n"
    )
    proc = subprocess.Popen(
        [str(BIN / "scrapyd")], cwd=home, env=env(),
        stdout=(home / "scrapyd.out").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                if api(base, "daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("scrapyd did not start:\n" + (home / "scrapyd.out").read_text()[-3000:])
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def deployable_copy(tmp_path: Path, url: str) -> Path:
    """The project as scrapyd-deploy sees it (scrapy.cfg and the package), with the deploy
    target of scrapy.cfg pointed at this test's scrapyd. scrapyd-deploy writes a setup.py and
    build files beside scrapy.cfg: in the copy, not in the work tree."""
    copy = tmp_path / "project"
    shutil.copytree(
        PROJECT / "newsbot", copy / "newsbot", ignore=shutil.ignore_patterns("__pycache__")
    )
    config = configparser.ConfigParser()
    config.read(PROJECT / "scrapy.cfg")
    assert config["deploy"]["url"] == "http://127.0.0.1:6800/"
    assert config["deploy"]["project"] == "newsbot"
    config["deploy"]["url"] = url
    with (copy / "scrapy.cfg").open("w") as fh:
        config.write(fh)
    return copy


def test_deploy_schedule_and_deliver(scrapyd: str, site: SiteCopy, tmp_path: Path):
    project = deployable_copy(tmp_path, scrapyd)
    deployed = subprocess.run(
        [str(BIN / "scrapyd-deploy")], cwd=project, env=env(),
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert '"status": "ok"' in deployed.stdout + deployed.stderr
    assert api(scrapyd, "listspiders.json?project=newsbot")["spiders"] == ["nbd"]

    state = tmp_path / "state"
    settings = {
        "NEWSBOT_SITE_ROOT": site.root,
        "NEWSBOT_STATE_DIR": str(state),
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "0",
        "LOGSTATS_INTERVAL": "0",
    }
    job = api(
        scrapyd,
        "schedule.json",
        [("project", "newsbot"), ("spider", "nbd"), ("columns", "3,332")]
        + [("setting", f"{k}={v}") for k, v in settings.items()],
    )
    assert job["status"] == "ok", job
    jobid = job["jobid"]
    for _ in range(300):
        jobs = api(scrapyd, "listjobs.json?project=newsbot")
        finished = [j for j in jobs["finished"] if j["id"] == jobid]
        if finished:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"job {jobid} did not finish: {jobs}")

    home = tmp_path / "scrapyd"
    log = (home / "logs" / "newsbot" / "nbd" / f"{jobid}.log").read_text("utf-8")
    assert "] INFO: Run OK: 18 discovered, 18 exported" in log.strip().splitlines()[-1], log[-3000:]
    items = (home / "items" / "newsbot" / "nbd" / f"{jobid}.jl").read_text("utf-8")
    records = [json.loads(line) for line in items.splitlines()]
    assert len(records) == 18
    assert {r["column"] for r in records} == {"3", "332"}
    # The job's report, named after scrapyd's job id.
    (report_file,) = (state / "runs").glob(f"*-{jobid}.json")
    report = json.loads(report_file.read_text("utf-8"))
    assert report["job"] == jobid and report["status"] == "ok"
    assert report["arguments"] == {"columns": "3,332", "_job": jobid}
    assert report["accounting"]["exported"] == 18
    assert report["outputs"][0]["records"] == 18
    assert report["outputs"][0]["path"].endswith(f"{jobid}.jl")
