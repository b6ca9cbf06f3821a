"""``scrapy state report``'s page: one self-contained HTML file from a :class:`History`.

The page has no script, no stylesheet, font or image to fetch: CSS is inline and the charts
are inline SVG (:mod:`newsbot.ops.charts`). Every number a chart shows is also in a table
beside it (in a ``<details>`` when long), marked with ``data-*`` attributes so that tools (and
the tests, in a real browser) can read them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from newsbot.ops import charts
from newsbot.ops.history import History
from newsbot.ops.storeview import BEIJING

#: Runs listed in the runs table, newest first (the chart shows them all).
RUNS_SHOWN = 200

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;
color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.meta{color:#666}.tiles{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:.5em .9em;min-width:7em}
.tile b{display:block;font-size:1.6em}.tile.bad b{color:#d62728}.tile.good b{color:#2ca02c}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fdecea}tr.stopped td{background:#fff4e5}
svg{max-width:100%;height:auto}.note{color:#8a6d3b;background:#fcf8e3;padding:.4em .8em}
details summary{cursor:pointer;color:#555}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _table(
    ident: str,
    head: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Iterable[int] = (),
    keys: Sequence[str] | None = None,
    row_class: Sequence[str] | None = None,
) -> str:
    """A table; cells of ``numeric`` columns right-aligned; ``keys`` name each column in a
    ``data-key`` attribute, the first cell's value goes in the row's ``data-row``."""
    nums = set(numeric)
    keys = keys or [h.lower().replace(" ", "_") for h in head]
    out = [f'<table id="{ident}"><thead><tr>']
    out += [f'<th class="{"n" if i in nums else ""}">{_e(h)}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for n, row in enumerate(rows):
        cls = f' class="{row_class[n]}"' if row_class and row_class[n] else ""
        out.append(f'<tr data-row="{_e(row[0])}"{cls}>')
        out += [
            f'<td data-key="{_e(keys[i])}"{" class=n" if i in nums else ""}>{_e(cell)}</td>'
            for i, cell in enumerate(row)
        ]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _tile(key: str, label: str, value: Any, tone: str = "") -> str:
    return f'<div class="tile {tone}" data-metric="{_e(key)}"><b>{_e(value)}</b>{_e(label)}</div>'


def _time(value: dt.datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def _epoch(value: int | None) -> str:
    return _time(dt.datetime.fromtimestamp(value, BEIJING)) if value else ""


def _duration(seconds: float | None) -> str:
    """
    >>> _duration(4.2), _duration(185), _duration(3 * 3600 + 60), _duration(None)
    ('4s', '3m05s', '3h01m', '')
    """
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _summary(history: History) -> str:
    runs = history.runs
    failed_runs = sum(1 for r in runs if r.status != "ok")
    last = runs[-1] if runs else None
    last_ok = next((r for r in reversed(runs) if r.status == "ok"), None)
    tiles = []
    if history.store_note is None:
        totals = history.totals()
        tiles += [
            _tile("exported", "articles exported", totals["exported"], "good"),
            _tile("dropped", "dropped", totals["dropped"]),
            _tile("failed", "failed", totals["failed"], "bad" if totals["failed"] else ""),
            _tile("pending", "pending", totals["pending"]),
        ]
    tiles += [
        _tile("runs", "runs", len(runs)),
        _tile("runs_failed", "runs failed", failed_runs, "bad" if failed_runs else ""),
    ]
    if last:
        tone = "good" if last.status == "ok" else "bad"
        tiles.append(_tile("last_run", f"last run, {_time(last.started_at)}", last.status, tone))
    tiles.append(
        _tile("last_ok", "last successful run", _time(last_ok.finished_at) if last_ok else "never")
    )
    return f'<div class="tiles" id="summary">{"".join(tiles)}</div>'


def _published(history: History) -> str:
    out = ["<h2 id='published'>Articles published</h2>"]
    if history.store_note:
        return out[0] + f"<p class=note>{_e(history.store_note)}</p>"
    chart = charts.published_chart(history)
    if chart is None:
        return out[0] + "<p>No exported article in this window.</p>"
    size, periods, series = charts.published_series(history.published)
    columns = list(series)
    rows = [
        [p.isoformat(), *(series[c][i] for c in columns), sum(series[c][i] for c in columns)]
        for i, p in enumerate(periods)
    ]
    out += [
        chart,
        f"<details><summary>Articles per {size} and column (table)</summary>",
        _table(
            "published-table",
            [size, *(c or "(none)" for c in columns), "total"],
            reversed(rows),
            numeric=range(1, len(columns) + 2),
            keys=[size, *(f"column-{c}" for c in columns), "total"],
        ),
        "</details>",
    ]
    return "".join(out)


def _runs(history: History) -> str:
    out = ["<h2 id='runs'>Runs</h2>"]
    if not history.runs:
        return out[0] + "<p>No run report in this window.</p>"
    out.append(charts.runs_chart(history) or "")
    shown = list(reversed(history.runs))[:RUNS_SHOWN]
    if len(history.runs) > RUNS_SHOWN:
        out.append(f"<p>The newest {RUNS_SHOWN} of {len(history.runs)} runs:</p>")
    head = [
        "run",
        "started",
        "duration",
        "status",
        "failure",
        "discovered",
        "exported",
        "unchanged",
        "dropped",
        "failed",
        "pending",
        "blocked",
    ]
    rows = [
        [
            r.run_id,
            _time(r.started_at),
            _duration(r.duration),
            r.status,
            r.failure or "",
            *(r.counts[k] for k in head[5:]),
        ]
        for r in shown
    ]
    classes = ["failed" if r.status != "ok" else "" for r in shown]
    out.append(_table("runs-table", head, rows, numeric=range(5, 12), row_class=classes))
    if history.unreadable_reports:
        names = ", ".join(history.unreadable_reports[:10])
        out.append(f"<p class=note>Files in runs/ that are not run reports: {_e(names)}</p>")
    return "".join(out)


def _reasons(history: History) -> str:
    out = ["<h2 id='reasons'>Failures and drops</h2>"]
    chart = charts.reasons_chart(history)
    if chart:
        out.append(chart)
    in_runs: dict[str, Counter[str]] = {"failed": Counter(), "dropped": Counter()}
    for run in history.runs:
        in_runs["failed"].update(run.failed)
        in_runs["dropped"].update(run.dropped)
    rows = []
    for key in ("failed", "dropped"):
        now = history.reasons.get(key, {})
        for reason in sorted(set(now) | set(in_runs[key]), key=lambda r: -in_runs[key][r]):
            rows.append([f"{key}/{reason}", key, reason, in_runs[key][reason], now.get(reason, 0)])
    if not rows:
        return "".join(out) + "<p>No failure and no drop.</p>"
    out.append(
        "<p>Per reason: how often runs in this window met it, and how many articles the "
        "store holds with it now (a failure retried successfully is no longer held).</p>"
    )
    head = ["reason key", "outcome", "reason", "in runs", "in the store now"]
    out.append(
        _table(
            "reasons-table",
            head,
            rows,
            numeric=(3, 4),
            keys=["key", "outcome", "reason", "runs", "store"],
        )
    )
    return "".join(out)


def _columns(history: History) -> str:
    out = ["<h2 id='columns'>Columns</h2>"]
    if not history.columns:
        return out[0] + "<p>No column in this window.</p>"
    stopped = [c for c in history.columns.values() if c.stopped]
    if stopped:
        names = ", ".join(c.column for c in stopped)
        out.append(
            f"<p class=note id='stopped-columns'>List pages that stopped giving articles: "
            f"{_e(names)}</p>"
        )
    states = history.states
    rows, classes = [], []
    for name in sorted(history.columns, key=lambda c: (not history.columns[c].stopped, c)):
        c = history.columns[name]
        book = states.get(name, {})
        rows.append(
            [
                name,
                c.runs,
                c.listed_last,
                c.dry_runs,
                c.last_listing_run or "",
                c.list_failures,
                c.redirects_refused,
                book.get("exported", 0),
                book.get("failed", 0),
                c.newest_published.isoformat() if c.newest_published else "",
                _time(c.mark),
            ]
        )
        classes.append("stopped" if c.stopped else "")
    head = [
        "column",
        "runs",
        "listed last run",
        "runs listing nothing",
        "last run listing",
        "list page failures",
        "redirects refused",
        "exported",
        "failed",
        "newest published",
        "high-water mark",
    ]
    keys = [
        "column",
        "runs",
        "listed_last",
        "dry_runs",
        "last_listing_run",
        "list_failures",
        "redirects_refused",
        "exported",
        "failed",
        "newest_published",
        "mark",
    ]
    out.append(
        _table(
            "columns-table", head, rows, numeric=(1, 2, 3, 5, 6, 7, 8), keys=keys, row_class=classes
        )
    )
    return "".join(out)


def _warnings(history: History) -> str:
    out = ["<h2 id='warnings'>Warnings</h2>"]
    if history.boilerplate:
        out.append(
            "<h3>Possible new boilerplate</h3><p>Lines found in many articles' bodies "
            "that the extraction rules do not remove yet:</p>"
        )
        rows = [
            [c["text"], c.get("articles", ""), c.get("of", ""), c.get("run_id", "")]
            for c in history.boilerplate
        ]
        out.append(
            _table("boilerplate-table", ["text", "articles", "of", "run"], rows, numeric=(1, 2))
        )
    if history.disagreements:
        total = history.disagreements_total
        more = (
            f" (the newest {len(history.disagreements)} of {total})"
            if total > len(history.disagreements)
            else ""
        )
        out.append(
            f"<h3>Publication times that disagree</h3><p>The page's visible time and "
            f"another source on it differ{more}:</p>"
        )
        rows = [
            [
                d.get("article_id"),
                d.get("url"),
                d.get("visible"),
                d.get("other"),
                d.get("other_source"),
                d.get("run_id"),
            ]
            for d in history.disagreements
        ]
        out.append(
            _table(
                "disagreements-table",
                ["article", "url", "visible", "other", "other source", "run"],
                rows,
            )
        )
    if len(out) == 1:
        out.append("<p>No warning.</p>")
    return "".join(out)


def _dead_letter(history: History) -> str:
    out = ["<h2 id='dead-letter'>Dead letter</h2>"]
    if history.store_note:
        return out[0] + f"<p class=note>{_e(history.store_note)}</p>"
    total = history.dead_letter_total
    if not total:
        return out[0] + "<p>No failed article.</p>"
    shown = len(history.dead_letter)
    out.append(
        f"<p id='dead-letter-count' data-count='{total}'>{total} failed articles"
        + (f", the {shown} most recently tried:" if shown < total else ":")
        + "</p>"
    )
    rows = [
        [
            d.article_id,
            d.url_date or "",
            d.column or "",
            d.reason or "",
            d.attempts,
            _epoch(d.first_seen),
            _epoch(d.last_attempt),
        ]
        for d in history.dead_letter
    ]
    head = ["article", "date", "column", "reason", "attempts", "first seen", "last attempt"]
    out.append(_table("dead-letter-table", head, rows, numeric=(4,)))
    return "".join(out)


def render(history: History, *, state_dir: str, generated: dt.datetime) -> str:
    """The whole page."""
    window = history.window
    scope = []
    if window.since or window.until:
        scope.append(f"{window.since or '…'} to {window.until or '…'}")
    if window.columns:
        scope.append("columns " + ", ".join(window.columns))
    title = "newsbot report" + (f" ({'; '.join(scope)})" if scope else "")
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class=meta>State directory <code>{_e(state_dir)}</code>, made "
        f"{_e(_time(generated))} (all times Beijing, UTC+8).</p>",
        _summary(history),
    ]
    if history.store_note:
        body.append(f"<p class=note>{_e(history.store_note)}; showing the run reports only.</p>")
    body += [
        _published(history),
        _runs(history),
        _reasons(history),
        _columns(history),
        _warnings(history),
        _dead_letter(history),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing may be fetched: no script, no remote style, font or image, ever.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
