"""A run's fixed cost against the state store's size: a run that finds nothing new, on a small
store and on a big one.

    python benchmarks/fixed_cost.py [--ids 10000,5000000] [--runs 3] [--dir DIR]

For each size N it builds a SQLite store the way years of crawling leave it (N article ids: 96 %
exported with a content hash, a file and a text fingerprint, 3 % dropped, 1 % failed for good
-- the dead-letter list --, none pending), then crawls a local column of 200 articles
(testsite/synthetic.py, small pages) into it once, which exports them and sets the column's
high-water mark. The measured runs are the same crawl again, the way an hourly job finds the
site when nothing was published: the first list page, every article on it already delivered,
nothing fetched, nothing exported. Each is ``scrapy crawl nbd`` with the project's settings
(delays off, ``NEWSBOT_STATE_CHECK`` and everything else as configured) and a fresh output
file; the runs on the sizes are interleaved.

Printed: each run's wall time (process start to exit: start-up, opening and checking the
store, the crawl, the books, the report, the dead-letter list) and peak RSS (``wait4()``), then
per size the median (min-max), and the ratio of the largest size to the smallest (target:
<= 1.2 for both). 5 M ids take about 450 MiB of disk and a minute or two to build.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, machine_line, median, spread
from crawl import CRAWL_SETTINGS, exit_on_sigterm, run_measured, scrapy_env, site
from state_store import insert_many, rows

from newsbot.state.model import DROPPED, EXPORTED, FAILED
from newsbot.state.store import DB_NAME, StateStore

#: The store's ids start far above the local site's (4,000,001 up), so none collides.
STORE_FIRST_ID = 10_000_000
SITE_ARTICLES = 200


def store_rows(n: int):  # type: ignore[no-untyped-def]
    """state_store.py's rows, re-dealt: 96 % exported, 3 % dropped, 1 % failed, 0 pending."""
    chunk = 200_000
    for start in range(STORE_FIRST_ID, STORE_FIRST_ID + n, chunk):
        batch = []
        for ident, _, published, column, digest, text in rows(
            start, min(chunk, STORE_FIRST_ID + n - start)
        ):
            r = ident % 100
            state = EXPORTED if r < 96 else DROPPED if r < 99 else FAILED
            exported = state == EXPORTED
            batch.append(
                (
                    ident,
                    state,
                    published,
                    column,
                    digest if exported else None,
                    text if exported else None,
                )
            )
        yield batch


def build(directory: Path, n: int) -> None:
    with StateStore(directory) as store:
        for batch in store_rows(n):
            insert_many(store, batch)
        # Failed for good: the dead-letter list, never retried automatically.
        store._db.execute("UPDATE articles SET attempts = 3, reason = 'http_404' WHERE state = 3")
        store.checkpoint()


def build_apart(directory: Path, n: int) -> None:
    """Build in a child process: the peak RSS of a crawl comes from ``wait4()``, and Linux
    counts in it the memory of the process it was forked from (this one), so this one stays
    small."""
    subprocess.run([sys.executable, __file__, "--build", str(directory), str(n)], check=True)


def lines(path: Path) -> int:
    return sum(1 for line in path.open("rb") if line.strip()) if path.exists() else 0


def crawl(root: str, state: Path, work: Path, extra: dict[str, str]):  # type: ignore[no-untyped-def]
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    cmd = [sys.executable, "-m", "scrapy", "crawl", "nbd", "-a", "columns=3"]
    settings = {**CRAWL_SETTINGS, "NEWSBOT_SITE_ROOT": root, "NEWSBOT_STATE_DIR": str(state)}
    settings.update(extra)
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    # The hourly job's one target (delivered is kept per destination, README: Destinations).
    cmd += ["-o", f"{feed_of(state)}:jsonl"]
    return run_measured(cmd, cwd=ROOT, env=scrapy_env(), log=work / "crawl.log")


def feed_of(state: Path) -> Path:
    return state.parent / f"feed-{state.name}" / "articles.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ids", default="10000,5000000", help="comma separated store sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="where to build the stores (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the stores and logs in --dir")
    parser.add_argument("--build", nargs=2, metavar=("DIR", "IDS"), help=argparse.SUPPRESS)
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    if args.build:  # the child that builds one store (see build_apart)
        build(Path(args.build[0]), int(args.build[1]))
        return
    sizes = sorted({int(s.replace("_", "")) for s in args.ids.split(",") if s.strip()})
    extra = dict(s.split("=", 1) for s in args.set)
    exit_on_sigterm()

    print(machine_line(("scrapy",)))
    print(
        f"# a run that finds nothing new (a column of {SITE_ARTICLES}, all delivered) on "
        f"stores of {', '.join(f'{n:,}' for n in sizes)} ids; {args.runs} runs each, "
        "interleaved; median (min-max)"
    )
    if extra:
        print(f"# extra settings: {' '.join(f'{k}={v}' for k, v in extra.items())}")
    seconds: dict[int, list[float]] = {n: [] for n in sizes}
    rss: dict[int, list[float]] = {n: [] for n in sizes}
    problems = False
    with contextlib.ExitStack() as stack:
        if args.keep and args.dir:
            work = args.dir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.dir)))
        with site(SITE_ARTICLES, small=True) as root:
            for n in sizes:
                state = work / f"state-{n}"
                if not (state / DB_NAME).exists():
                    build_apart(state, n)
                first = crawl(root, state, work / f"prime-{n}", extra)
                size = (state / DB_NAME).stat().st_size / 2**20
                print(
                    f"{n:>10,} ids: store {size:,.0f} MiB; first run (exports the column) "
                    f"{first.seconds:.1f} s, exit {first.returncode}"
                )
                problems |= first.returncode != 0
            for i in range(args.runs):
                for n in sizes if i % 2 == 0 else reversed(sizes):
                    before = lines(feed_of(work / f"state-{n}"))
                    run = crawl(root, work / f"state-{n}", work / f"run-{n}-{i}", extra)
                    exported = lines(feed_of(work / f"state-{n}")) - before
                    seconds[n].append(run.seconds)
                    rss[n].append(run.peak_rss / 2**20)
                    bad = run.returncode != 0 or exported != 0
                    problems |= bad
                    print(
                        f"run {i + 1}, {n:>10,} ids: {run.seconds:5.2f} s, peak RSS "
                        f"{run.peak_rss / 2**20:5.1f} MiB, {exported} exported"
                        + (f"  PROBLEM: exit {run.returncode}" if bad else "")
                    )
    print()
    for n in sizes:
        print(
            f"{n:>10,} ids: {spread(seconds[n], '{:.2f}')} s, "
            f"peak RSS {spread(rss[n], '{:.1f}')} MiB"
        )
    small, large = sizes[0], sizes[-1]
    time_ratio = median(seconds[large]) / median(seconds[small])
    rss_ratio = median(rss[large]) / median(rss[small])
    print(
        f"{large:,} ids over {small:,}: time {time_ratio:.2f}x, memory {rss_ratio:.2f}x "
        "(target: <= 1.2x both)"
    )
    if problems:
        sys.exit("some runs failed or exported something: see PROBLEM above")


if __name__ == "__main__":
    main()
