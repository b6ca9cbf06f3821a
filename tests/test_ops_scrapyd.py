"""scrapyd, the way a user deploys to it: a real scrapyd on 127.0.0.1 (a free port, everything in
a temporary directory) in an environment that has the project's dependencies but not the project,
``scrapyd-deploy`` (scrapyd-client) run in a fresh ``git clone`` of this repository (pyproject.toml,
setup.py and all, as committed), then crawls scheduled through ``schedule.json`` and judged by the
job's own log and items.

The egg is built by the setuptools of the environment scrapyd-deploy runs in (65 in a Python
3.11 virtualenv; scrapyd itself needs setuptools below 81), so this is the test of the packaging
files: an egg without the ``[scrapy] settings`` entry point makes scrapyd fail every job.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.crawlkit import PROJECT
from testsite import SiteCopy

BIN = Path(sys.executable).parent
JOB_SETTINGS = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "0", "LOGSTATS_INTERVAL": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(base: str, path: str, data: list[tuple[str, str]] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    handler = urllib.request.ProxyHandler({})  # loopback only, never through a proxy
    with urllib.request.build_opener(handler).open(base + path, body, timeout=10) as answer:
        return json.loads(answer.read())


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH into the work tree, no SCRAPY_* left over
    from the test run, no proxies."""
    drop = {"PYTHONPATH", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SCRAPY_")}


def server_python(where: Path) -> Path:
    """A Python that sees this environment's packages (Scrapy, scrapyd, newsbot's dependencies)
    but not newsbot itself: a virtualenv whose only addition is a ``.pth`` line naming this
    environment's site-packages. The ``.pth`` files in there (the editable install of newsbot)
    are not read from a path added that way, so the jobs can only get newsbot from the egg."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=60
    )
    purelib = Path(sysconfig.get_paths()["purelib"])
    (site,) = where.glob("lib/python*/site-packages")
    (site / "newsbot-test-deps.pth").write_text(f"{purelib}\n")
    python = where / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import scrapyd, scrapy; import newsbot"],
        cwd=where, env=clean_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "No module named 'newsbot'" in probe.stderr, probe.stderr
    return python


@dataclass
class Deployed:
    url: str
    home: Path
    deploy_output: str

    def schedule(self, *fields: tuple[str, str], settings: dict[str, str]) -> str:
        job = api(
            self.url,
            "schedule.json",
            [("project", "newsbot"), ("spider", "nbd"), *fields]
            + [("setting", f"{k}={v}") for k, v in {**JOB_SETTINGS, **settings}.items()],
        )
        assert job["status"] == "ok", job
        return str(job["jobid"])

    def wait(self, jobid: str) -> dict[str, Any]:
        for _ in range(600):
            jobs = api(self.url, "listjobs.json?project=newsbot")
            finished = [j for j in jobs["finished"] if j["id"] == jobid]
            if finished:
                return dict(finished[0])
            time.sleep(0.2)
        pytest.fail(f"job {jobid} did not finish: {jobs}\n{self.server_log()}")

    def log(self, jobid: str) -> str:
        return (self.home / "logs" / "newsbot" / "nbd" / f"{jobid}.log").read_text("utf-8")

    def items(self, jobid: str) -> Path:
        return self.home / "items" / "newsbot" / "nbd" / f"{jobid}.jl"

    def server_log(self) -> str:
        return (self.home / "scrapyd.out").read_text("utf-8", "replace")[-4000:]


def fresh_clone(where: Path, url: str) -> Path:
    """``git clone`` of the repository under test (its committed state, as a user gets it), with
    the deploy target of its scrapy.cfg pointed at this test's scrapyd, as a user edits it."""
    done = subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(PROJECT), str(where)],
        env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = configparser.ConfigParser()
    config.read(where / "scrapy.cfg")
    assert config["deploy"]["url"] == "http://127.0.0.1:6800/"
    assert config["deploy"]["project"] == "newsbot"
    config["deploy"]["url"] = url
    with (where / "scrapy.cfg").open("w") as fh:
        config.write(fh)
    return where


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A started scrapyd with newsbot deployed to it by scrapyd-deploy from a fresh clone."""
    if shutil.which("git") is None and os.environ.get("CI") != "true":
        pytest.skip("git is not installed")
    top = tmp_path_factory.mktemp("scrapyd")
    home = top / "scrapyd"
    home.mkdir()
    python = server_python(top / "server-env")
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\n"
        f"items_dir = {home / 'items'}\ndbs_dir = {home / 'dbs'}\n"
        "poll_interval = 0.3\nmax_proc = 2\n"
    )
    proc = subprocess.Popen(
        [str(python), "-m", "scrapyd"], cwd=home, env=clean_env(),
        stdout=(home / "scrapyd.out").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(150):
            try:
                if api(base, "daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("scrapyd did not start:\n" + (home / "scrapyd.out").read_text()[-3000:])
        checkout = fresh_clone(top / "checkout", base)
        deploy = subprocess.run(
            [str(BIN / "scrapyd-deploy")], cwd=checkout, env=clean_env(),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        output = deploy.stdout + deploy.stderr
        assert deploy.returncode == 0, output
        assert '"status": "ok"' in output, output
        yield Deployed(base, home, output)
    finally:
        proc.terminate()
        proc.wait(30)


def test_deploy_from_a_clone_schedule_and_deliver(
    deployed: Deployed, site: SiteCopy, tmp_path: Path
) -> None:
    # scrapyd reads the spiders from the egg: its [scrapy] settings entry point works.
    spiders = api(deployed.url, "listspiders.json?project=newsbot")
    assert spiders.get("spiders") == ["nbd"], (spiders, deployed.server_log())

    state = tmp_path / "state"
    jobid = deployed.schedule(
        ("columns", "3,332"),
        settings={"NEWSBOT_SITE_ROOT": site.root, "NEWSBOT_STATE_DIR": str(state)},
    )
    deployed.wait(jobid)
    log = deployed.log(jobid)
    assert "] INFO: Run OK: 18 discovered, 18 exported" in log.strip().splitlines()[-1], log[-3000:]
    records = [json.loads(line) for line in deployed.items(jobid).read_text("utf-8").splitlines()]
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


def test_a_bad_spider_argument_is_explained_in_the_jobs_own_log(
    deployed: Deployed, site: SiteCopy, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    jobid = deployed.schedule(
        ("columns", "3"),
        ("max_pages", "many"),
        settings={"NEWSBOT_SITE_ROOT": site.root, "NEWSBOT_STATE_DIR": str(state)},
    )
    deployed.wait(jobid)
    log = deployed.log(jobid)
    reasons = [line for line in log.splitlines() if "max_pages" in line]
    assert len(reasons) == 1, log
    assert (
        "ERROR: Run refused (usage): nbd: max_pages: 'many' is not a whole number" in reasons[0]
    ), log
    assert log.strip().splitlines()[-1] == reasons[0]  # the job's verdict, as for any run
    assert "Traceback" not in log
    assert site.hits == []
    assert not deployed.items(jobid).exists()
    assert not (state / "runs").exists() or list((state / "runs").glob("*.json")) == []
