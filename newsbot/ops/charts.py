"""The report's charts: matplotlib figures saved as SVG and embedded in the page.

Why matplotlib's SVG: the page must open offline and make no request at all. An inline SVG is
part of the HTML (no script, no font or image to fetch), stays sharp at any zoom, prints, and
its labels stay text (``svg.fonttype = none``) that a browser can search. A JavaScript library
(plotly, bokeh …) would need its several-megabyte bundle inlined into every page for the same
charts. Figures are made with :class:`matplotlib.figure.Figure` directly, not pyplot, so no
global figure state or GUI backend is involved.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from newsbot.ops.storeview import BEIJING

if TYPE_CHECKING:
    from newsbot.ops.history import History, Run

#: Colours (matplotlib's tab10, which reads well in print and for most colour-blind readers).
OK, FAILED, GREY = "#2ca02c", "#d62728", "#7f7f7f"
#: Reasons drawn separately in the reasons chart; the rest are "other".
TOP_REASONS = 8
#: Above this many periods stacked counts are drawn as areas rather than bars (hundreds of
#: bars cost seconds to draw and make a heavy SVG).
BARS_LIMIT = 60
#: Above this many runs the runs chart draws one point per day.
RUNS_PER_POINT_LIMIT = 400


class ChartsUnavailable(Exception):
    """matplotlib is not installed."""


def _figure(rows: int = 1, height: float = 3.2) -> tuple[Any, Any]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ChartsUnavailable(
            "scrapy state report draws its charts with matplotlib: pip install 'newsbot[report]'"
        ) from exc
    fig = Figure(figsize=(10, height * rows), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element (no XML prologue), text kept as text."""
    from matplotlib import rc_context

    out = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):
        # No RDF metadata block: the page names no outside address, not even a namespace.
        fig.savefig(
            out, format="svg", metadata=dict.fromkeys(("Creator", "Date", "Format", "Type"))
        )
    text = out.getvalue()
    return text[text.index("<svg") :]


def bucket_size(first: dt.date, last: dt.date) -> str:
    """``day``, ``week`` or ``month``: a period that keeps a chart readable.

    >>> bucket_size(dt.date(2026, 1, 1), dt.date(2026, 3, 1))
    'day'
    >>> bucket_size(dt.date(2025, 1, 1), dt.date(2026, 3, 1))
    'week'
    >>> bucket_size(dt.date(2016, 1, 1), dt.date(2026, 3, 1))
    'month'
    """
    span = (last - first).days
    return "day" if span <= 92 else "week" if span <= 731 else "month"


def bucket(day: dt.date, size: str) -> dt.date:
    """The first day of ``day``'s period (weeks start on Monday).

    >>> bucket(dt.date(2026, 11, 26), "week"), bucket(dt.date(2026, 11, 26), "month")
    (datetime.date(2026, 11, 23), datetime.date(2026, 11, 1))
    """
    if size == "week":
        return day - dt.timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    return day


def published_series(
    published: dict[tuple[dt.date, str], int],
) -> tuple[str, list[dt.date], dict[str, list[int]]]:
    """Exported articles per period and column: ``(period, periods, {column: counts})``,
    columns with the most articles first.

    >>> published_series({(dt.date(2021, 4, 10), "3"): 2, (dt.date(2021, 4, 12), "3"): 1,
    ...                   (dt.date(2021, 4, 12), "2"): 4})
    ('day', [datetime.date(2021, 4, 10), datetime.date(2021, 4, 12)], {'2': [0, 4], '3': [2, 1]})
    """
    if not published:
        return "day", [], {}
    days = [d for d, _ in published]
    size = bucket_size(min(days), max(days))
    counts: dict[str, Counter[dt.date]] = {}
    for (day, column), n in published.items():
        counts.setdefault(column, Counter())[bucket(day, size)] += n
    periods = sorted({p for c in counts.values() for p in c})
    order = sorted(counts, key=lambda c: (-sum(counts[c].values()), c))
    return size, periods, {c: [counts[c][p] for p in periods] for c in order}


def _stacked(ax: Any, x: Sequence[Any], series: dict[str, list[int]], width: float) -> None:
    """Stacked counts: bars for a few periods, areas for many."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # articles come whole
    if len(x) > BARS_LIMIT:
        ax.stackplot(x, *series.values(), labels=list(series), step="mid")
        return
    bottom = [0] * len(x)
    for label, counts in series.items():
        ax.bar(x, counts, width, bottom=bottom, label=label)
        bottom = [b + n for b, n in zip(bottom, counts, strict=True)]


def published_chart(history: History) -> str | None:
    size, periods, series = published_series(history.published)
    if not periods:
        return None
    fig, (ax,) = _figure()
    width = {"day": 0.8, "week": 5.6, "month": 24}[size]
    _stacked(ax, periods, {c or "(no column)": n for c, n in series.items()}, width)
    ax.set_ylabel(f"articles per {size}")
    ax.set_title(f"Articles published per {size} (Beijing time), by column")
    ax.legend(title="column", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return svg(fig)


def runs_series(runs: Sequence[Run]) -> dict[str, list[Any]]:
    """Points of the runs chart: one per run, or one per day when there are many runs."""
    if len(runs) <= RUNS_PER_POINT_LIMIT:
        return {
            # Beijing wall-clock time, as everywhere in the report (matplotlib draws naive).
            "x": [r.started_at.astimezone(BEIJING).replace(tzinfo=None) for r in runs],
            "duration": [(r.duration or 0) / 60 for r in runs],
            "ok": [r.status == "ok" for r in runs],
            "exported": [r.counts["exported"] for r in runs],
            "failed": [r.counts["failed"] for r in runs],
            "dropped": [r.counts["dropped"] for r in runs],
        }
    days: dict[dt.date, list[Run]] = {}
    for run in runs:
        days.setdefault(run.day, []).append(run)
    ordered = sorted(days)
    return {
        "x": [dt.datetime.combine(d, dt.time(12)) for d in ordered],
        "duration": [max((r.duration or 0) for r in days[d]) / 60 for d in ordered],
        "ok": [all(r.status == "ok" for r in days[d]) for d in ordered],
        "exported": [sum(r.counts["exported"] for r in days[d]) for d in ordered],
        "failed": [sum(r.counts["failed"] for r in days[d]) for d in ordered],
        "dropped": [sum(r.counts["dropped"] for r in days[d]) for d in ordered],
    }


def runs_chart(history: History) -> str | None:
    if not history.runs:
        return None
    points = runs_series(history.runs)
    per_day = len(history.runs) > RUNS_PER_POINT_LIMIT
    unit = "minutes"
    if max(points["duration"], default=0) < 2:  # short runs: seconds read better
        unit, points["duration"] = "seconds", [m * 60 for m in points["duration"]]
    fig, (top, bottom) = _figure(rows=2, height=2.6)
    colours = [OK if ok else FAILED for ok in points["ok"]]
    top.vlines(points["x"], 0, points["duration"], colors=colours, alpha=0.5)
    top.scatter(points["x"], points["duration"], c=colours, s=18, zorder=3)
    top.set_ylabel(unit + (" (longest of the day)" if per_day else ""))
    more = " (a red day had a failed run)" if per_day else ""
    top.set_title(f"Runs: duration, green OK, red failed{more}")
    top.set_ylim(bottom=0)
    top.grid(axis="y", alpha=0.3)
    for key, colour in (("exported", OK), ("failed", FAILED), ("dropped", GREY)):
        bottom.plot(points["x"], points[key], marker="o", markersize=3, color=colour, label=key)
    bottom.set_ylabel("articles" + (" per day" if per_day else " per run"))
    from matplotlib.ticker import MaxNLocator

    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()  # readable from runs seconds apart to years of them
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    bottom.set_ylim(bottom=0)
    bottom.legend(fontsize="small", ncols=3)
    bottom.grid(axis="y", alpha=0.3)
    return svg(fig)


def reason_series(runs: Sequence[Run], key: str) -> tuple[list[dt.date], dict[str, list[int]]]:
    """Failures (``key="failed"``) or drops by reason per day of the runs, the most frequent
    reasons apart and the rest as ``other``."""
    days: dict[dt.date, Counter[str]] = {}
    total: Counter[str] = Counter()
    for run in runs:
        reasons: Counter[str] = getattr(run, key)
        days.setdefault(run.day, Counter()).update(reasons)
        total.update(reasons)
    if not total:
        return [], {}
    top = [r for r, _ in total.most_common(TOP_REASONS)]
    ordered = sorted(days)
    series = {r: [days[d][r] for d in ordered] for r in top}
    rest = [sum(n for r, n in days[d].items() if r not in top) for d in ordered]
    if any(rest):
        series["other"] = rest
    return ordered, series


def reasons_chart(history: History) -> str | None:
    panels = [(k, *reason_series(history.runs, k)) for k in ("failed", "dropped")]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    fig, axes = _figure(rows=len(panels), height=2.6)
    from matplotlib.ticker import MaxNLocator

    for ax, (key, days, series) in zip(axes, panels, strict=True):
        # Few days: one bar per day with runs (categories); many: areas over time.
        x: list[Any] = [d.isoformat() for d in days] if len(days) <= BARS_LIMIT else days
        _stacked(ax, x, series, 0.8)
        ax.set_ylabel(f"articles {key}")
        ax.set_title(f"Articles {key} per day, by reason")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.grid(axis="y", alpha=0.3)
        if len(days) <= BARS_LIMIT:
            # A tick per category, or a dozen of them.
            if len(days) <= 12:
                ax.set_xticks(range(len(days)))
            else:
                ax.xaxis.set_major_locator(MaxNLocator(12, integer=True))
    if len(panels[0][1]) > BARS_LIMIT:
        fig.autofmt_xdate()
    return svg(fig)
