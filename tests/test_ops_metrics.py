"""Prometheus metrics of real crawls of the site copy: the node_exporter textfile, read back
with prometheus_client's own parser, and a push to a real Pushgateway (Debian's
``prometheus-pushgateway``) on a loopback port, read back from its /metrics."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.crawlkit import PROJECT, run_crawl
from tests.opskit import report_of
from testsite import SiteCopy


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(name, labels): value}`` of an exposition text, parsed by prometheus_client."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found[name, frozenset(labels.items())]


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def check_against_report(found: dict[Any, float], report: dict[str, Any], **extra: str) -> None:
    """Every per-column count and the run's status are the report's."""
    spider = {"spider": "nbd", **extra}
    assert value(found, "newsbot_run_success", **spider) == (report["status"] == "ok")
    assert value(found, "newsbot_run_last_timestamp_seconds", **spider) == epoch(
        report["finished_at"]
    )
    assert value(found, "newsbot_run_duration_seconds", **spider) == epoch(
        report["finished_at"]
    ) - epoch(report["started_at"])
    for column, book in report["columns"].items():
        labels = {**spider, "column": column}
        assert value(found, "newsbot_run_articles_discovered", **labels) == book["discovered"]
        assert (
            value(found, "newsbot_run_articles_exported", **labels) == book["new"] + book["updated"]
        )
        assert value(found, "newsbot_run_articles_unchanged", **labels) == book["unchanged"]
        assert value(found, "newsbot_run_articles_pending", **labels) == book["pending"]
        assert value(found, "newsbot_run_pages_blocked", **labels) == book["blocked"]
        for reason, n in book["failed"].items():
            assert value(found, "newsbot_run_articles_failed", **labels, reason=reason) == n
        for reason, n in book["dropped"].items():
            assert value(found, "newsbot_run_articles_dropped", **labels, reason=reason) == n
    failed = {
        dict(labels)["reason"]: v
        for (name, labels), v in found.items()
        if name == "newsbot_run_articles_failed" and dict(labels)["column"] == "2"
    }
    assert failed == report["columns"].get("2", {}).get("failed", {})


def test_textfile_of_an_ok_run_then_a_failed_one(site: SiteCopy, tmp_path: Path):
    textfile = tmp_path / "textfile" / "newsbot.prom"
    textfile.parent.mkdir()
    settings = {"NEWSBOT_PROMETHEUS_TEXTFILE": str(textfile), "NEWSBOT_MAX_FAILED_SHARE": "0.5"}
    ok = run_crawl(site.root, "columns=3,2", tmp_path=tmp_path, settings=settings)
    assert ok.returncode == 0, ok.explain()
    first = report_of(ok, tmp_path / "state")
    found = samples(textfile.read_text("utf-8"))
    check_against_report(found, first)
    assert value(found, "newsbot_run_last_success_timestamp_seconds", spider="nbd") == epoch(
        first["finished_at"]
    )
    assert f"Prometheus metrics written to {textfile}" in ok.log
    # Written atomically: no temporary file left beside it.
    assert [p.name for p in textfile.parent.iterdir()] == ["newsbot.prom"]

    # The failed articles fail again and, with the default threshold, fail the run.
    del settings["NEWSBOT_MAX_FAILED_SHARE"]
    failed = run_crawl(site.root, "columns=3,2", tmp_path=tmp_path, settings=settings)
    assert failed.returncode == 1, failed.explain()
    second = report_of(failed, tmp_path / "state")
    found = samples(textfile.read_text("utf-8"))
    check_against_report(found, second)
    assert value(found, "newsbot_run_success", spider="nbd") == 0
    code = second["failure"]["code"]
    assert value(found, "newsbot_run_failure", spider="nbd", code=code) == 1
    # The last success is still the first run's.
    assert value(found, "newsbot_run_last_success_timestamp_seconds", spider="nbd") == epoch(
        first["finished_at"]
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A real Pushgateway on 127.0.0.1 (no persistence); skips without it, except in CI."""
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        message = "needs prometheus-pushgateway (apt-get install prometheus-pushgateway)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    log = open(tmp_path / "pushgateway.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [binary, f"--web.listen-address={address}", "--persistence.file=", "--log.level=warn"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{address}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    said = (tmp_path / "pushgateway.log").read_text()
                    raise RuntimeError(f"the Pushgateway did not start: {said}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_push_to_a_real_pushgateway(site: SiteCopy, tmp_path: Path, pushgateway: str):
    settings = {
        "NEWSBOT_PROMETHEUS_PUSHGATEWAY": pushgateway,
        "NEWSBOT_WORKER_ID": "worker-a",
        "NEWSBOT_MAX_FAILED_SHARE": "0.5",
    }
    result = run_crawl(site.root, "columns=3,2", tmp_path=tmp_path, settings=settings)
    assert result.returncode == 0, result.explain()
    assert f"Prometheus metrics pushed to {pushgateway}" in result.log
    report = report_of(result, tmp_path / "state")
    with urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5) as answer:
        found = samples(answer.read().decode("utf-8"))
    # The Pushgateway adds the grouping labels: the job and this worker's instance.
    check_against_report(found, report, job="newsbot", instance="worker-a")
    assert value(found, "push_failure_time_seconds", job="newsbot", instance="worker-a") == 0


def test_metrics_that_cannot_be_delivered_do_not_change_the_verdict(site: SiteCopy, tmp_path):
    port = _free_port()  # nothing listens there
    settings = {
        "NEWSBOT_PROMETHEUS_PUSHGATEWAY": f"http://127.0.0.1:{port}",
        "NEWSBOT_PROMETHEUS_TEXTFILE": str(tmp_path / "missing-dir" / "newsbot.prom"),
    }
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path, settings=settings)
    assert result.returncode == 0, result.explain()
    assert "Cannot push the metrics to" in result.log
    assert "Cannot write the Prometheus textfile" in result.log
    assert not (tmp_path / "missing-dir").exists()


def _readme_rules() -> str:
    """The alert rules the README shows (the YAML block of "Prometheus metrics")."""
    text = (PROJECT / "README.md").read_text("utf-8")
    section = text.split("### Prometheus metrics", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "needs promtool (apt-get install prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_the_readme_alert_rules_fire_on_real_metrics(site: SiteCopy, tmp_path: Path):
    """promtool (Prometheus's own rule checker and tester) loads the README's two rules and
    evaluates them on the metrics real crawls wrote: the failure-share rule fires for a run
    with column 2's broken links and not for a clean one; the no-success rule fires for a
    last success that stopped moving."""
    promtool = _promtool()
    rules = tmp_path / "rules.yml"
    rules.write_text(_readme_rules(), "utf-8")
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    series = []
    shares = {}
    for instance, columns in (("troubled", "columns=3,2"), ("clean", "columns=3")):
        textfile = tmp_path / instance / "newsbot.prom"
        textfile.parent.mkdir()
        result = run_crawl(
            site.root, columns, tmp_path=tmp_path / instance,
            settings={"NEWSBOT_PROMETHEUS_TEXTFILE": str(textfile),
                      "NEWSBOT_MAX_FAILED_SHARE": "0.5"},
        )  # fmt: skip
        assert result.returncode == 0, result.explain()
        found = samples(textfile.read_text("utf-8"))
        for (name, labels), v in found.items():
            if name.startswith("newsbot_run_articles_"):
                rendered = ",".join(f'{k}="{val}"' for k, val in sorted(labels))
                series.append(
                    {"series": f'{name}{{instance="{instance}",{rendered}}}', "values": f"{v}x300"}
                )
        failed = sum(v for (n, _), v in found.items() if n == "newsbot_run_articles_failed")
        discovered = sum(v for (n, _), v in found.items() if n == "newsbot_run_articles_discovered")
        shares[instance] = failed / discovered
    assert shares["troubled"] > 0.1 and shares["clean"] == 0
    # Last success: one machine succeeding every minute, one that stopped at time 0.
    for instance, values in (("fresh", "0+60x300"), ("stale", "0x300")):
        series.append(
            {"series": f'newsbot_run_last_success_timestamp_seconds{{instance="{instance}",'
                       f'spider="nbd"}}', "values": values}
        )  # fmt: skip
    share = shares["troubled"] * 100
    tests = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": "4h",
                        "alertname": "NewsbotFailuresHigh",
                        "exp_alerts": [
                            {
                                "exp_labels": {"instance": "troubled", "spider": "nbd"},
                                "exp_annotations": {
                                    "summary": f"newsbot nbd on troubled: {share:.4g}% of the "
                                    "last run's articles failed"
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "4h",
                        "alertname": "NewsbotNoSuccessfulRun",
                        "exp_alerts": [
                            {
                                "exp_labels": {"instance": "stale", "spider": "nbd"},
                                "exp_annotations": {
                                    "summary": "newsbot nbd on stale: no successful run for 3 hours"
                                },
                            }
                        ],
                    },
                    # Before three hours (plus the rule's 15 minutes) nobody is alerted.
                    {"eval_time": "3h", "alertname": "NewsbotNoSuccessfulRun", "exp_alerts": []},
                ],
            }
        ],
    }
    unit = tmp_path / "rules-test.yml"
    unit.write_text(json.dumps(tests), "utf-8")  # JSON is YAML
    tested = subprocess.run([promtool, "test", "rules", str(unit)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
