"""Prometheus metrics of each run, the usual way for batch jobs.

A scheduled crawl is not a server Prometheus can scrape: it writes what its last run did where
a long-lived process picks it up. Two ways, both with the official ``prometheus_client``:

- ``NEWSBOT_PROMETHEUS_TEXTFILE=/var/lib/node_exporter/textfile/newsbot.prom``: a file for
  node_exporter's textfile collector, written atomically (``write_to_textfile`` writes a
  temporary file beside it and renames it over), so the collector never reads half a file;
- ``NEWSBOT_PROMETHEUS_PUSHGATEWAY=http://pushgateway:9091``: pushed to a Pushgateway (job
  ``NEWSBOT_PROMETHEUS_JOB``, grouped by ``instance``: ``NEWSBOT_WORKER_ID`` or the host name,
  so the workers of a distributed crawl do not overwrite each other's metrics).

The metrics come from the run report (:mod:`newsbot.ops.report`) once it is written; every one
is a gauge labelled by ``spider`` (and ``column``, ``reason``, ``code`` where they apply). A new
:class:`~prometheus_client.CollectorRegistry` is made for each run: nothing is global.

Writing or pushing the metrics never changes the run's verdict (the crawl delivered, or not, in
any case): a failure is logged as an error.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile
from scrapy import signals
from scrapy.exceptions import NotConfigured

from newsbot.ops.extension import RunReporter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Per-column counts of the report and the metric each becomes (``newsbot_run_<name>``).
COLUMN_GAUGES = {
    "discovered": "articles_discovered",
    "exported": "articles_exported",
    "unchanged": "articles_unchanged",
    "pending": "articles_pending",
    "blocked": "pages_blocked",
}


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _count(value: Any) -> int:
    return sum(int(v) for v in value.values()) if isinstance(value, dict) else int(value or 0)


def last_success(runs_dir: Path, report: dict[str, Any]) -> float | None:
    """When the newest successful run finished: this one, or the newest OK report in
    ``runs_dir`` (read newest first, stopping at the first OK one)."""
    if report.get("status") == "ok":
        return _epoch(report.get("finished_at"))
    if not runs_dir.is_dir():
        return None
    for path in sorted(runs_dir.glob("*.json"), reverse=True):
        try:
            earlier = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(earlier, dict) and earlier.get("status") == "ok":
            return _epoch(earlier.get("finished_at"))
    return None


def registry_for(report: dict[str, Any], *, last_ok: float | None) -> CollectorRegistry:
    """The metrics of one run report, in a registry of their own.

    >>> from prometheus_client import generate_latest
    >>> reg = registry_for({"spider": "nbd", "status": "failed",
    ...     "started_at": "2026-11-24T08:00:00+00:00", "finished_at": "2026-11-24T08:01:00+00:00",
    ...     "failures": [{"code": "too_many_failures", "message": "…"}],
    ...     "columns": {"3": {"discovered": 5, "new": 3, "updated": 0,
    ...                       "failed": {"http_404": 2}, "dropped": {}}}}, last_ok=None)
    >>> text = generate_latest(reg).decode()
    >>> 'newsbot_run_success{spider="nbd"} 0.0' in text
    True
    >>> 'newsbot_run_articles_failed{column="3",reason="http_404",spider="nbd"} 2.0' in text
    True
    >>> 'newsbot_run_failure{code="too_many_failures",spider="nbd"} 1.0' in text
    True
    """
    reg = CollectorRegistry(auto_describe=True)
    spider = str(report.get("spider") or "nbd")

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"newsbot_run_{name}", doc, ("spider", *labels), registry=reg)

    started, finished = _epoch(report.get("started_at")), _epoch(report.get("finished_at"))
    if finished is not None:
        gauge("last_timestamp_seconds", "When the last run finished.").labels(spider).set(finished)
    if last_ok is not None:
        gauge(
            "last_success_timestamp_seconds", "When the last successful run (exit 0) finished."
        ).labels(spider).set(last_ok)
    gauge("success", "1 if the last run succeeded (exit 0), else 0.").labels(spider).set(
        1 if report.get("status") == "ok" else 0
    )
    if started is not None and finished is not None:
        gauge("duration_seconds", "How long the last run took.").labels(spider).set(
            finished - started
        )
    failure = gauge("failure", "The last run's failure codes (1 each).", ("code",))
    for item in report.get("failures") or ():
        failure.labels(spider, str(item.get("code"))).set(1)

    column_gauges = {
        key: gauge(
            name,
            "Challenge pages met in the last run, per column."
            if key == "blocked"
            else f"Articles {key} in the last run, per column.",
            ("column",),
        )
        for key, name in COLUMN_GAUGES.items()
    }
    by_reason = {
        key: gauge(
            f"articles_{key}", f"Articles {key} in the last run, by reason.", ("column", "reason")
        )
        for key in ("dropped", "failed")
    }
    for column, book in (report.get("columns") or {}).items():
        values = {
            "discovered": _count(book.get("discovered")),
            "exported": _count(book.get("new")) + _count(book.get("updated")),
            "unchanged": _count(book.get("unchanged")),
            "pending": _count(book.get("pending")),
            "blocked": _count(book.get("blocked")),
        }
        for key, value in values.items():
            column_gauges[key].labels(spider, column).set(value)
        for key, metric in by_reason.items():
            for reason, n in (book.get(key) or {}).items():
                metric.labels(spider, column, str(reason)).set(n)
    return reg


class PrometheusMetrics:
    """Writes and/or pushes the run's metrics once its report is written (see module docs)."""

    def __init__(self, crawler: Crawler, textfile: str, gateway: str) -> None:
        self.crawler = crawler
        self.textfile = textfile
        self.gateway = gateway
        settings = crawler.settings
        self.job = settings.get("NEWSBOT_PROMETHEUS_JOB") or "newsbot"
        self.instance = settings.get("NEWSBOT_WORKER_ID") or socket.gethostname()
        self.timeout = settings.getfloat("NEWSBOT_PROMETHEUS_TIMEOUT", 10.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrometheusMetrics:
        textfile = crawler.settings.get("NEWSBOT_PROMETHEUS_TEXTFILE") or ""
        gateway = crawler.settings.get("NEWSBOT_PROMETHEUS_PUSHGATEWAY") or ""
        if not textfile and not gateway:
            # Off by default: a reason would be a WARNING on every clean run.
            raise NotConfigured
        ext = cls(crawler, textfile, gateway)
        # engine_stopped: after the run reporter, loaded (and connected) before this, has
        # written the report, whichever way the run ended.
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_stopped(self) -> None:
        reporter = self.crawler.get_extension(RunReporter)
        report = reporter.report if reporter is not None else None
        if report is None:
            logger.warning("No run report (NEWSBOT_OPS_ENABLED off?): no Prometheus metrics")
            return
        runs_dir = Path(report["report_path"]).parent
        registry = registry_for(report, last_ok=last_success(runs_dir, report))
        # engine_stopped comes after Scrapy's stats are dumped: the outcome is logged.
        if self.textfile:
            try:
                write_to_textfile(self.textfile, registry)
            except OSError as exc:
                logger.error("Cannot write the Prometheus textfile %s: %s", self.textfile, exc)
            else:
                logger.info("Prometheus metrics written to %s", self.textfile)
        if self.gateway:
            try:
                push_to_gateway(
                    self.gateway,
                    job=self.job,
                    registry=registry,
                    grouping_key={"instance": self.instance},
                    timeout=self.timeout,
                )
            except OSError as exc:  # URLError, connection refused, timeouts, HTTP errors
                logger.error("Cannot push the metrics to %s: %s", self.gateway, exc)
            else:
                logger.info("Prometheus metrics pushed to %s", self.gateway)
