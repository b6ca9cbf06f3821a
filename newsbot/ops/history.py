"""What the state directory says about past runs: the facts behind ``scrapy state report``.

:func:`collect` reads the run reports (``runs/*.json``, see :mod:`newsbot.ops.report` for
their keys) and, through :class:`~newsbot.ops.storeview.StoreView`, the state store, and
returns a :class:`History` narrowed to a :class:`~newsbot.ops.storeview.Window` (dates and
columns). Nothing here draws: :mod:`newsbot.ops.htmlreport` turns a History into a page.

Keys added to the run reports by later versions are read when present and ignored when not:
``boilerplate_candidates``, ``time_disagreements`` and ``columns[<id>]["redirects_refused"]``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsbot.ops.storeview import (
    BEIJING,
    STATES,
    DeadLetter,
    StoreUnreadable,
    StoreView,
    Window,
)

#: Dead-letter rows shown (the total is always given).
DEAD_LETTER_SHOWN = 500
#: Time disagreements shown, newest first.
DISAGREEMENTS_SHOWN = 200


@dataclass
class Run:
    """One run, as its report tells it (counts summed over the window's columns)."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    failure: str | None
    close_reason: str
    counts: dict[str, int]
    """discovered, exported, unchanged, dropped, failed, pending, blocked, listed."""
    failed: Counter[str]
    dropped: Counter[str]

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def day(self) -> dt.date:
        return self.started_at.astimezone(BEIJING).date()


@dataclass
class ColumnHealth:
    """A column's list pages over the runs that read it."""

    column: str
    runs: int = 0
    """Runs that read (or tried to read) its list pages."""
    listed_last: int = 0
    dry_runs: int = 0
    """Consecutive latest runs whose list pages gave no article link."""
    last_listing_run: str | None = None
    list_failures: int = 0
    redirects_refused: int = 0
    newest_published: dt.date | None = None
    mark: dt.datetime | None = None

    @property
    def stopped(self) -> bool:
        """Its latest run listed nothing while an earlier one did, or it never listed."""
        return self.dry_runs > 0


@dataclass
class History:
    """Everything the report shows, already narrowed to the window."""

    window: Window
    runs: list[Run] = field(default_factory=list)
    unreadable_reports: list[str] = field(default_factory=list)
    store_note: str | None = None
    """Why the store could not be read (the page then shows the runs only)."""
    published: dict[tuple[dt.date, str], int] = field(default_factory=dict)
    states: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    dead_letter_total: int = 0
    dead_letter: list[DeadLetter] = field(default_factory=list)
    boilerplate: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    disagreements_total: int = 0
    columns: dict[str, ColumnHealth] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        """Articles per state over the window's columns."""
        out: Counter[str] = Counter()
        for book in self.states.values():
            out.update(book)
        return {k: out[k] for k in ("exported", "dropped", "failed", "pending")}


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _count(value: Any) -> int:
    """A count or a ``{reason: count}`` as a number.

    >>> _count({"http_404": 2, "timeout": 1}), _count(4), _count(None)
    (3, 4, 0)
    """
    if isinstance(value, dict):
        return sum(int(v) for v in value.values())
    return int(value or 0)


_COUNTED = ("listed", "discovered", "unchanged", "dropped", "failed", "pending", "blocked")


def run_of(report: dict[str, Any], columns: tuple[str, ...]) -> Run | None:
    """A :class:`Run` from a report, or None when it has no start time or none of
    ``columns`` (empty: every column).

    >>> r = run_of({"run_id": "r", "started_at": "2026-11-24T08:00:00+00:00",
    ...             "finished_at": "2026-11-24T08:01:30+00:00", "status": "ok",
    ...             "close_reason": "finished",
    ...             "columns": {"3": {"listed": 5, "discovered": 5, "new": 4, "updated": 1,
    ...                               "failed": {}}, "2": {"discovered": 2, "new": 0,
    ...                               "failed": {"http_404": 2}}}}, ("2",))
    >>> r.duration, r.counts["discovered"], r.counts["exported"], dict(r.failed)
    (90.0, 2, 0, {'http_404': 2})
    """
    started = _time(report.get("started_at"))
    if started is None:
        return None
    books = report.get("columns") or {}
    if columns:
        books = {c: b for c, b in books.items() if c in columns}
        if not books:
            return None
    counts = dict.fromkeys(("exported", *_COUNTED), 0)
    failed: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for book in books.values():
        if not isinstance(book, dict):
            continue
        counts["exported"] += _count(book.get("new")) + _count(book.get("updated"))
        for key in _COUNTED:
            counts[key] += _count(book.get(key))
        for reasons, into in ((book.get("failed"), failed), (book.get("dropped"), dropped)):
            if isinstance(reasons, dict):
                into.update({str(k): int(v) for k, v in reasons.items()})
    failure = report.get("failure")
    return Run(
        run_id=str(report.get("run_id") or "?"),
        started_at=started,
        finished_at=_time(report.get("finished_at")),
        status=str(report.get("status") or "?"),
        failure=str(failure.get("code")) if isinstance(failure, dict) else None,
        close_reason=str(report.get("close_reason") or "?"),
        counts=counts,
        failed=failed,
        dropped=dropped,
    )


#: The keys of a run report the page uses.
_KEPT = (
    "run_id", "started_at", "finished_at", "status", "failure", "close_reason", "columns",
    "boilerplate_candidates", "time_disagreements",
)  # fmt: skip


def read_reports(runs_dir: Path, window: Window) -> tuple[list[dict[str, Any]], list[str]]:
    """The reports of the runs started in the window (Beijing dates), oldest first, and the
    names of files that are not reports. Run ids start with the UTC start time, so files
    far outside the window are skipped without being read."""
    if not runs_dir.is_dir():
        return [], []
    start, end = window.epoch_range()
    reports: list[tuple[float, str, dict[str, Any]]] = []
    bad: list[str] = []
    for path in sorted(runs_dir.glob("*.json")):
        stamp = _stamp(path.name)
        # One day of slack either side: the name is UTC, the window Beijing dates.
        if stamp is not None and (
            (start is not None and stamp < start - 86_400)
            or (end is not None and stamp >= end + 86_400)
        ):
            continue
        try:
            report = json.loads(path.read_bytes())
        except (OSError, ValueError):
            bad.append(path.name)
            continue
        if not isinstance(report, dict):
            bad.append(path.name)
            continue
        started = _time(report.get("started_at"))
        if started is None:
            bad.append(path.name)
            continue
        moment = started.timestamp()
        if (start is None or moment >= start) and (end is None or moment < end):
            # Only what the page shows: a year of hourly reports with their Scrapy stats
            # would otherwise be held in memory whole.
            kept = {k: report[k] for k in _KEPT if k in report}
            reports.append((moment, str(report.get("run_id")), kept))
    # By time, not by text: reports from before milliseconds were kept compare wrongly as text.
    reports.sort(key=lambda entry: entry[:2])
    return [kept for _, _, kept in reports], bad


def _stamp(name: str) -> float | None:
    """The start time in a run report's file name.

    >>> _stamp("20261124T080005Z-3fa9c1.json")
    1795507205.0
    >>> _stamp("notes.json") is None
    True
    """
    try:
        when = dt.datetime.strptime(name[:16], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
    return when.replace(tzinfo=dt.timezone.utc).timestamp()


def _warnings(history: History, reports: list[dict[str, Any]]) -> None:
    """Boilerplate candidates (the newest sighting of each text) and time disagreements."""
    candidates: dict[str, dict[str, Any]] = {}
    disagreements: list[dict[str, Any]] = []
    columns = history.window.columns
    for report in reports:
        if columns and not set(columns) & set(report.get("columns") or {}):
            continue  # warnings name articles, not columns: keep those of the column's runs
        for cand in report.get("boilerplate_candidates") or ():
            if isinstance(cand, dict) and cand.get("text"):
                candidates[str(cand["text"])] = {**cand, "run_id": report.get("run_id")}
        for item in report.get("time_disagreements") or ():
            if isinstance(item, dict):
                disagreements.append({**item, "run_id": report.get("run_id")})
    history.boilerplate = sorted(
        candidates.values(), key=lambda c: (-int(c.get("articles") or 0), str(c["text"]))
    )
    disagreements.reverse()  # newest run first
    history.disagreements_total = len(disagreements)
    history.disagreements = disagreements[:DISAGREEMENTS_SHOWN]


def _column_health(history: History, reports: list[dict[str, Any]]) -> None:
    wanted = history.window.columns
    for report in reports:
        for name, book in (report.get("columns") or {}).items():
            if name.startswith("(") or (wanted and name not in wanted):
                continue  # URL lists and search have no list pages
            if not isinstance(book, dict):
                continue
            health = history.columns.setdefault(name, ColumnHealth(name))
            health.redirects_refused += _count(book.get("redirects_refused"))
            failures = book.get("list_failures") or ()
            if not _count(book.get("list_pages")) and not failures:
                continue  # its list pages were not read (articles retried from earlier runs)
            health.runs += 1
            listed = _count(book.get("listed"))
            health.listed_last = listed
            if listed:
                health.dry_runs = 0
                health.last_listing_run = report.get("run_id")
            else:
                health.dry_runs += 1
            health.list_failures += len(failures)


def collect(state_dir: str | Path, window: Window, *, read_store: bool = True) -> History:
    """Read the state directory (see the module docs); the run reports only when not
    ``read_store``."""
    state_dir = Path(state_dir)
    history = History(window)
    reports, history.unreadable_reports = read_reports(state_dir / "runs", window)
    for report in reports:
        run = run_of(report, window.columns)
        if run is not None:
            history.runs.append(run)
    _warnings(history, reports)
    _column_health(history, reports)
    if not read_store:
        return history
    try:
        view = StoreView(state_dir)
    except StoreUnreadable as exc:
        history.store_note = str(exc)
        return history
    with view:
        for (day, column, state), n in view.per_day(window).items():
            book = history.states.setdefault(column, dict.fromkeys(STATES.values(), 0))
            book[state] = book.get(state, 0) + n
            if state == "exported" and day is not None:
                history.published[day, column] = n
        history.reasons = view.reasons(window)
        history.dead_letter_total, history.dead_letter = view.dead_letter(window, DEAD_LETTER_SHOWN)
        marks = view.marks()
    newest: dict[str, dt.date] = {}
    for (day, column), _ in history.published.items():
        if column and (column not in newest or day > newest[column]):
            newest[column] = day
    for column in set(newest) | {c for c in marks if not window.columns or c in window.columns}:
        health = history.columns.setdefault(column, ColumnHealth(column))
        health.newest_published = newest.get(column)
        if column in marks:
            health.mark = dt.datetime.fromtimestamp(marks[column], BEIJING)
    return history
