"""The cron recipe (tools/cron-run.sh), run as its documented command line against the local
site copy: one instance at a time, a time limit that stops the crawl gracefully, logs and
reports in the state directory; and run as cron runs it (``env -i PATH=/usr/bin:/bin``, no
virtualenv activated) from an installed project, finding the project's own virtualenv."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.crawlkit import PROJECT, TEST_SETTINGS
from tests.deliverykit import env, read_records
from testsite import DeliverySite, SiteCopy
from testsite.delivery import COLUMN

SCRIPT = PROJECT / "tools" / "cron-run.sh"


def cron(tmp_path: Path, root: str, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """``NEWSBOT_STATE_DIR=... tools/cron-run.sh -s ... -a ...``, as a crontab line runs it."""
    settings = [f"-s{name}={value}" for name, value in TEST_SETTINGS.items() if name != "LOG_LEVEL"]
    variables = {
        **env(),
        "NEWSBOT_STATE_DIR": str(tmp_path / "state"),
        "NEWSBOT_OUTPUT": f"{tmp_path}/out/nbd-%(time)s.jsonl",
        "SCRAPY": f"{sys.executable} -m scrapy",
        **environ,
    }
    return subprocess.run(
        [str(SCRIPT), f"-sNEWSBOT_SITE_ROOT={root}", *settings, *args],
        cwd="/", env=variables, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def logs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state" / "logs").glob("*.log"))


@pytest.mark.process
def test_a_scheduled_run_keeps_its_log_and_report_in_the_state_dir(site: SiteCopy, tmp_path):
    done = cron(tmp_path, site.root, "-a", "columns=3")
    assert done.returncode == 0, done.stderr
    (log,) = logs(tmp_path)
    text = log.read_text("utf-8")
    assert "] INFO: Run OK: 13 discovered, 13 exported" in text.strip().splitlines()[-1]
    (report,) = (tmp_path / "state" / "runs").glob("*.json")
    assert json.loads(report.read_text())["status"] == "ok"
    assert str(report) in text
    assert len(read_records(tmp_path / "out")) == 13
    # The next scheduled run: nothing new, a log and a report of its own, no new file.
    time.sleep(1.1)  # log names are per second
    again = cron(tmp_path, site.root, "-a", "columns=3")
    assert again.returncode == 0, again.stderr
    assert len(logs(tmp_path)) == 2
    assert len(list((tmp_path / "state" / "runs").glob("*.json"))) == 2
    assert len(read_records(tmp_path / "out")) == 13


@pytest.mark.process
def test_one_instance_at_a_time(site: SiteCopy, tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    with open(state / "cron.lock", "w") as held:  # the previous run, still going
        fcntl.flock(held, fcntl.LOCK_EX)
        began = time.monotonic()
        done = cron(tmp_path, site.root, "-a", "columns=3")
        assert time.monotonic() - began < 5
    assert done.returncode == 75, done.stderr
    assert "another run holds" in done.stderr
    assert site.hits == [] and logs(tmp_path) == []


@pytest.mark.process
def test_the_time_limit_stops_the_crawl_gracefully(tmp_path: Path):
    """SIGTERM at the limit: Scrapy's graceful shutdown finishes, publishes what was scraped,
    writes the report, and the run is red; nothing had to be killed."""
    # The limit leaves Scrapy time to start even on a loaded machine (a SIGTERM before Scrapy has
    # installed its handlers ends Python at once, with no log); the site is slow enough (80
    # pages at 0.5 s, two at a time: 20 s) that the crawl is still going when the limit comes.
    # The site itself answers two at a time: Scrapy 2.19 with no download delay does not hold a
    # slot to CONCURRENT_REQUESTS_PER_DOMAIN (see README: known limits), so the client's setting
    # alone let the whole crawl finish inside the limit.
    with DeliverySite(80, per_page=40, latency=0.5, capacity=2) as site:
        began = time.monotonic()
        done = cron(
            tmp_path, site.root, "-a", f"columns={COLUMN}",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
            NEWSBOT_RUN_LIMIT="10s", NEWSBOT_KILL_AFTER="60s",
        )  # fmt: skip
        took = time.monotonic() - began
    assert done.returncode == 124, done.stderr
    assert "stopped after 10s (graceful shutdown)" in done.stderr
    assert took < 30
    (log,) = logs(tmp_path)
    text = log.read_text("utf-8")
    assert "Closing spider (shutdown)" in text
    assert "Run failed: interrupted: the run stopped early (shutdown)" in text.splitlines()[-1]
    (report,) = (tmp_path / "state" / "runs").glob("*.json")
    report_data = json.loads(report.read_text())
    assert report_data["close_reason"] == "shutdown" and report_data["accounting"]["balanced"]
    delivered = read_records(tmp_path / "out")  # whatever was published is whole
    assert 0 < len(delivered) == report_data["accounting"]["exported"] < 80


def test_the_script_is_executable_and_documented():
    assert os.access(SCRIPT, os.X_OK)
    text = SCRIPT.read_text()
    assert "flock -n" in text and "timeout --signal=TERM --kill-after=" in text
    docs = (PROJECT / "README.md").read_text("utf-8")
    assert "tools/cron-run.sh" in docs


# -- as cron runs it ---------------------------------------------------------------------------

#: What cron gives a job (Debian's cron: HOME, LOGNAME, PATH=/usr/bin:/bin, SHELL=/bin/sh), plus
#: the variables a crontab line sets in front of the command.
CRON_ENV = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "LOGNAME": "root"}
CRON_SETTINGS = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"]


def installed(where: Path, venv: bool) -> Path:
    """The project as the README installs it on a server (a path with a space, to be sure): the
    checkout's scrapy.cfg and tools/cron-run.sh, and its virtualenv ``.venv`` (this test
    environment, where newsbot is installed), unless ``venv`` is false."""
    project = where / "srv" / "news bot"
    (project / "tools").mkdir(parents=True)
    shutil.copy2(SCRIPT, project / "tools" / "cron-run.sh")
    shutil.copy2(PROJECT / "scrapy.cfg", project / "scrapy.cfg")
    if venv:
        (project / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return project


def as_cron(project: Path, home: Path, crontab_vars: dict[str, str], *args: str):
    """The crontab line ``VAR=... <project>/tools/cron-run.sh ARGS``, in cron's environment."""
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(project / "tools" / "cron-run.sh"), *args],
        cwd=home, env={**CRON_ENV, "HOME": str(home), **crontab_vars},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.process
def test_cron_finds_the_projects_own_virtualenv(site: SiteCopy, tmp_path: Path):
    assert Path(sys.prefix) != Path(sys.base_prefix), "the tests run in a virtualenv"
    project = installed(tmp_path, venv=True)
    variables = {"NEWSBOT_STATE_DIR": str(tmp_path / "state")}
    done = as_cron(
        project, tmp_path / "home", variables,
        "-a", "columns=3", "-s", f"NEWSBOT_SITE_ROOT={site.root}", *CRON_SETTINGS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (log,) = logs(tmp_path)
    text = log.read_text("utf-8")
    assert "] INFO: Run OK: 13 discovered, 13 exported" in text.strip().splitlines()[-1], text
    # The default output: out/ in the project, one file per run.
    assert len(read_records(project / "out")) == 13


@pytest.mark.process
def test_cron_without_a_virtualenv_says_what_is_missing(site: SiteCopy, tmp_path: Path):
    project = installed(tmp_path, venv=False)
    variables = {"NEWSBOT_STATE_DIR": str(tmp_path / "state")}
    done = as_cron(project, tmp_path / "home", variables, "-a", "columns=3")
    assert done.returncode == 127
    assert f"no virtualenv at {project}/.venv" in done.stderr
    (log,) = logs(tmp_path)  # the log folder says it too: cron's mail may go nowhere
    assert "ERROR: Run failed: newsbot: no scrapy to run" in log.read_text("utf-8")
    assert site.hits == []


@pytest.mark.process
def test_cron_with_a_wrong_argument_says_why_in_its_log(site: SiteCopy, tmp_path: Path):
    project = installed(tmp_path, venv=True)
    variables = {"NEWSBOT_STATE_DIR": str(tmp_path / "state")}
    done = as_cron(
        project, tmp_path / "home", variables,
        "-a", "columns=3", "-a", "max_pages=many", "-s", f"NEWSBOT_SITE_ROOT={site.root}",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (log,) = logs(tmp_path)  # cron's mail may go nowhere: the log says it
    last = log.read_text("utf-8").strip().splitlines()[-1]
    assert "ERROR: Run refused (usage): nbd: max_pages: 'many' is not a whole number" in last
    assert site.hits == []
