"""One run's identity and where its operational files go, shared by the operations components.

Everything operational lives in the state directory (``NEWSBOT_STATE_DIR``), beside the state
store, so that one directory holds all a scheduled job leaves behind:

- ``runs/<run id>.json``: the run reports;
- ``dead-letter.jsonl``: the articles left failed, with reason and attempts;
- ``archive/<run id>.warc.gz``: the fetched article pages (``NEWSBOT_ARCHIVE``);
- ``logs/``: the cron recipe's logs (tools/cron-run.sh).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from newsbot.spiders.arguments import run_arguments
from newsbot.state.files import atomic_file

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def run_id(started: dt.datetime, job: str | None) -> str:
    """A sortable, file-name-safe run id: the start time (UTC) and the job id (scrapyd's, or
    a random one).

    >>> run_id(dt.datetime(2026, 11, 24, 8, 0, 5, tzinfo=dt.timezone.utc), "a1b2/../c3")
    '20261124T080005Z-a1b2_.._c3'
    """
    stamp = started.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{_SAFE.sub('_', job or secrets.token_hex(3))[:64]}"


@dataclass
class RunContext:
    """What the operations components of one crawl agree on."""

    run_id: str
    started_at: dt.datetime
    state_dir: Path
    job: str | None

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def report_path(self) -> Path:
        return self.runs_dir / f"{self.run_id}.json"

    @property
    def dead_letter_path(self) -> Path:
        return self.state_dir / DEAD_LETTER_NAME


DEAD_LETTER_NAME = "dead-letter.jsonl"


def run_context(crawler: Crawler) -> RunContext:
    """The crawl's run context, made on first use and kept by the run reporter (per crawler,
    not global; without a reporter each call makes one). The job id is scrapyd's
    (``SCRAPY_JOB`` in the environment, or the ``_job`` spider argument)."""
    from newsbot.ops.extension import RunReporter  # it imports this module

    reporter = crawler.get_extension(RunReporter)
    if reporter is not None and reporter.context is not None:
        return reporter.context
    spider = crawler.spider
    given = run_arguments(spider).given.get("_job")
    job = os.environ.get("SCRAPY_JOB") or (str(given) if given is not None else None)
    # Milliseconds: two runs in one second (a retry run straight after a run) still sort in the
    # order they ran; the run id's name keeps whole seconds.
    now = dt.datetime.now(dt.timezone.utc)
    started = now.replace(microsecond=now.microsecond // 1000 * 1000)
    context = RunContext(
        run_id=run_id(started, job),
        started_at=started,
        state_dir=Path(crawler.settings.get("NEWSBOT_STATE_DIR") or "state"),
        job=job,
    )
    if reporter is not None:
        reporter.context = context
    return context


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (:func:`~newsbot.state.files.atomic_file`): a reader sees
    the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as fh:
        fh.write(data)
