"""How fast ``scrapy state report`` reads a big state directory and draws its page.

    python benchmarks/history_report.py [--ids 1000000] [--runs 2000] [--dir DIR]

Builds a store of N articles with the state-store benchmark's loader (``state_store.rows``:
95 % exported over about 13 years of publication times in six columns, the rest dropped, failed
or pending) and a ``runs/`` directory of R run reports (hourly runs, a failed one now and then,
with per-column counts and reasons), then measures, best of three:

- ``store``: the store's aggregate queries (per day, column and state; reasons; dead letter);
- ``runs``: reading and summarising the run reports;
- ``page``: drawing the charts and writing the HTML;
- ``command``: ``scrapy state report`` end to end in a new process (Python and Scrapy start-up
  included), once; and the same narrowed to one column and one year.

It prints seconds and the page's size. Nothing is fetched; nothing but local files is touched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine_line
from state_store import COLUMNS, build

from newsbot.ops.history import collect
from newsbot.ops.htmlreport import render
from newsbot.ops.storeview import StoreView, Window

ROOT = Path(__file__).resolve().parents[1]
REASONS = ("http_404", "timeout", "blocked", "not_article", "connection_lost")


def write_runs(runs_dir: Path, count: int) -> None:
    """``count`` hourly run reports ending now, shaped like the operations extension's."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(count)
    end = dt.datetime.now(dt.timezone.utc).replace(minute=7, second=0, microsecond=0)
    for i in range(count):
        started = end - dt.timedelta(hours=count - i)
        failed_run = rng.random() < 0.03
        columns = {}
        for column in COLUMNS:
            failed = {r: rng.randint(1, 3) for r in rng.sample(REASONS, 2)} if failed_run else {}
            new = rng.randint(0, 12)
            columns[column] = {
                "listed": 40, "list_pages": 1, "discovered": new + sum(failed.values()),
                "new": new, "updated": 0, "unchanged": 0, "dropped": {}, "failed": failed,
                "pending": 0, "blocked": 0, "list_failures": [],
            }  # fmt: skip
        run_id = started.strftime("%Y%m%dT%H%M%SZ") + f"-{i:06x}"
        report = {
            "report_version": 1,
            "run_id": run_id,
            "started_at": started.isoformat(),
            "finished_at": (started + dt.timedelta(seconds=rng.randint(40, 400))).isoformat(),
            "close_reason": "finished",
            "status": "failed" if failed_run else "ok",
            "exit_code": 1 if failed_run else 0,
            "failure": {"code": "too_many_failures", "message": "…"} if failed_run else None,
            "columns": columns,
            "stats": {f"downloader/response_status_count/{c}": 10 for c in (200, 301, 404)},
        }
        (runs_dir / f"{run_id}.json").write_text(json.dumps(report), "utf-8")


def best(fn, rounds: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--dir", type=Path, help="where to build the store (default: temp)")
    args = parser.parse_args()
    print(machine_line(("scrapy", "matplotlib")))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        state = Path(tmp) / "state"
        t0 = time.perf_counter()
        build(state, args.ids)
        write_runs(state / "runs", args.runs)
        print(f"# built {args.ids:,} articles, {args.runs:,} run reports in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        window = Window()

        def store() -> None:
            with StoreView(state) as view:
                view.per_day(window)
                view.reasons(window)
                view.dead_letter(window, 500)

        def runs() -> None:
            collect(state, window, read_store=False)

        history = collect(state, window)
        now = dt.datetime.now(dt.timezone.utc)
        page = render(history, state_dir=str(state), generated=now)

        def draw() -> None:
            render(history, state_dir=str(state), generated=now)

        print(f"{'step':>28} | {'seconds':>8}")
        print(f"{'store (' + format(args.ids, ',') + ' articles)':>28} | {best(store):8.3f}")
        print(f"{'runs (' + format(args.runs, ',') + ' reports)':>28} | {best(runs):8.3f}")
        print(f"{'page (charts + HTML)':>28} | {best(draw):8.3f}")
        year = str(max(d for d, _ in history.published).year)
        for label, extra in (
            ("command, everything", []),
            ("command, 1 column, 1 year", ["--column", COLUMNS[0], "--since", f"{year}-01-01"]),
        ):
            out = Path(tmp) / "report.html"
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "scrapy", "state", "report", "-o", str(out),
                 "-s", f"NEWSBOT_STATE_DIR={state}", *extra],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            print(f"{label:>28} | {time.perf_counter() - t0:8.3f}")
        print(f"# page: {len(page.encode()) / 2**10:,.0f} KiB, "
              f"{sum(history.published.values()):,} articles exported, "
              f"{len(history.runs):,} runs")  # fmt: skip


if __name__ == "__main__":
    main()
