"""The run report: a small table for people, the same as JSON for schedulers and dashboards.

:func:`render` turns the report (a JSON-ready dict, built by the operations extension) into the
summary logged at the end of every run; the dict itself is written to
``<NEWSBOT_STATE_DIR>/runs/<run id>.json``. Its keys (``REPORT_VERSION`` 1):

- ``run_id``, ``job``, ``spider``, ``arguments``, ``site_root``, ``started_at``,
  ``finished_at``, ``close_reason``;
- ``status`` (``ok`` or ``failed``), ``exit_code``, ``failure`` (the first ``{code, message}``,
  the run's last log line) and ``failures`` (all of them), ``checks`` (every rule and whether it
  held);
- ``accounting``: ``discovered``, ``exported`` (``new`` + ``updated``), ``unchanged``,
  ``dropped``, ``failed``, ``pending`` and ``balanced``;
- ``columns``: per column id (``(urls)``, ``(search)`` for the other modes) ``listed``,
  ``list_pages``, ``discovered``, ``new``, ``updated``, ``unchanged``, ``dropped`` and ``failed``
  by reason, ``pending``, ``blocked``, ``redirects_refused`` (article links that redirected off
  the site), ``list_failures``;
- ``time_disagreements``: ``[{article_id, url, visible, other, other_source}]``, the articles
  whose time sources disagree by more than a minute (the record keeps the visible time);
- ``field_coverage`` (share of the run's records with each field filled), ``full_records``,
  ``published`` (``earliest``/``latest`` publication time exported), ``outputs`` (path and
  records), ``dead_letter`` (path and count), ``failed_articles`` (this run's), ``archive``,
  ``boilerplate_candidates`` (``[{text, articles, of}]``: tail blocks that ended many of the
  run's bodies, newsbot/ops/tails.py), ``stats`` (Scrapy's, as at the end).
"""

from __future__ import annotations

import json
from typing import Any

REPORT_VERSION = 1

_COLUMNS = ("listed", "new", "updated", "unchanged", "dropped", "failed", "pending", "blocked")


def _count(value: Any) -> int:
    return sum(value.values()) if isinstance(value, dict) else int(value or 0)


def table(columns: dict[str, dict[str, Any]]) -> list[str]:
    """The per-column table, with a total row.

    >>> for line in table({"3": {"listed": 12, "new": 10, "failed": {"http_404": 1}},
    ...                    "332": {"listed": 5, "new": 5, "dropped": {"no_title": 1}}}):
    ...     print(line)
    column  listed  new  updated  unchanged  dropped  failed  pending  blocked
    3           12   10        0          0        0       1        0        0
    332          5    5        0          0        1       0        0        0
    total       17   15        0          0        1       1        0        0
    """
    rows = [["column", *_COLUMNS]]
    totals = dict.fromkeys(_COLUMNS, 0)
    for name, book in columns.items():
        counts = [_count(book.get(key)) for key in _COLUMNS]
        for key, n in zip(_COLUMNS, counts, strict=True):
            totals[key] += n
        rows.append([name, *map(str, counts)])
    rows.append(["total", *(str(totals[k]) for k in _COLUMNS)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def _reasons(columns: dict[str, dict[str, Any]], key: str) -> str:
    parts = []
    for name, book in columns.items():
        reasons = book.get(key) or {}
        if reasons:
            label = name if name.startswith("(") else f"column {name}"
            parts.append(f"{label}: " + ", ".join(f"{r} {n}" for r, n in reasons.items()))
    return "; ".join(parts)


def render(report: dict[str, Any]) -> str:
    """The human summary of a report (see :func:`table` for its first part)."""
    lines = [f"Run {report['run_id']} ({report['close_reason']}):"]
    columns = report.get("columns") or {}
    lines += ["  " + line for line in table(columns)]
    for key in ("dropped", "failed"):
        text = _reasons(columns, key)
        if text:
            lines.append(f"  {key.capitalize()} by reason: {text}")
    refused = {n: b["redirects_refused"] for n, b in columns.items() if b.get("redirects_refused")}
    if refused:
        lines.append(
            "  Redirects refused: " + ", ".join(f"column {n} {k}" for n, k in refused.items())
        )
    disagreements = report.get("time_disagreements") or []
    if disagreements:
        shown = ", ".join(d["article_id"] for d in disagreements[:10])
        more = f" and {len(disagreements) - 10} more" if len(disagreements) > 10 else ""
        lines.append(f"  Time sources disagree: {shown}{more}")
    accounting = report["accounting"]
    lines.append(
        "  Accounting: "
        f"discovered {accounting['discovered']} = exported {accounting['exported']} "
        f"(new {accounting['new']}, updated {accounting['updated']}) + unchanged "
        f"{accounting['unchanged']} + dropped {accounting['dropped']} + failed "
        f"{accounting['failed']} + pending {accounting['pending']}"
        + ("" if accounting["balanced"] else "  ** DOES NOT BALANCE **")
    )
    coverage = report.get("field_coverage") or {}
    if coverage:
        full = report["full_records"]
        lines.append(
            f"  Field coverage ({full['records']} records, {full['full']} of {full['pages']} "
            "article pages full): "
            + ", ".join(f"{name} {share:.0%}" for name, share in coverage.items())
        )
    published = report.get("published") or {}
    if published.get("earliest"):
        lines.append(f"  Published: {published['earliest']} … {published['latest']}")
    outputs = report.get("outputs") or []
    for out in outputs:
        files = f" in {out['files']} files" if out.get("files", 1) > 1 else ""
        lines.append(f"  Output: {out['path']} ({out['records']} records{files})")
    if not outputs:
        lines.append("  Output: none written")
    dead = report.get("dead_letter")
    if dead and dead["count"]:
        lines.append(f"  Dead letter: {dead['path']} ({dead['count']} failed articles)")
    elif dead:
        lines.append("  Dead letter: no failed articles")
    archive = report.get("archive")
    if archive:
        lines.append(f"  Archive: {archive['path']} ({archive['records']} pages)")
    lines.append(f"  Report: {report['report_path']}")
    if report["status"] == "ok":
        lines.append("  Status: OK (exit 0)")
    else:
        failure = report["failure"]
        lines.append(
            f"  Status: FAILED (exit {report['exit_code']}): {failure['code']}: "
            f"{failure['message']}"
        )
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8")
