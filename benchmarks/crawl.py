"""Articles per minute and CPU per article of a full column crawl, next to a bare Scrapy spider.

    python benchmarks/crawl.py [--articles 5000] [--runs 3] [--pages full,small]

Serves testsite.synthetic on 127.0.0.1 with ``--articles`` generated articles in one column,
twice: whole pages of about 95 KB (``full``) and the bare article template of 3-5 KB (``small``).
Then, ``--runs`` times, interleaved (the side that goes first alternates) so that both see the
same load on the machine, on each site:

- the yardstick, ``scrapy runspider benchmarks/bare_spider.py`` in an empty folder: Scrapy's
  defaults, list pages followed, every article fetched, four parsel queries, a JSON Lines feed;
- ``scrapy crawl nbd`` of the whole column with the project's settings: every pipeline,
  extension and middleware they enable (extraction, validation, dedupe, state store, atomic
  JSON Lines feed, run report, the politeness components), only the delays turned off: no
  ``DOWNLOAD_DELAY``, no AutoThrottle, a fresh state directory and output file.

Both sides run with the same concurrency (16 requests, 8 per host: Scrapy's defaults). Rates are
the records in each side's exported file over its ``elapsed_time_seconds`` (engine open to
close); CPU is the process's user + system time (``wait4()``, start-up included) over the same
records; the peak RSS is the process's own. Printed: each run, then per page size the median
(min-max) of each side and the ratio of the medians (target: newsbot >= 0.90 of bare).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, machine_line, median, spread

sys.path.insert(0, str(ROOT))  # the test site package, testsite/, is not installed

from testsite.synthetic import SyntheticSite

HERE = Path(__file__).resolve().parent
STAT = re.compile(r"^\s*[{ ]?'([^']+)':\s*(.+?),?}?$")

#: Delays off, everything else as the project configures it. Concurrency is Scrapy's
#: default, the one the bare spider runs with.
CRAWL_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "NEWSBOT_MAX_LIST_PAGES": "0",
    "LOG_LEVEL": "INFO",
    "LOGSTATS_INTERVAL": "5",
}


def parse_stats(log: str) -> dict[str, str]:
    """The values of the last 'Dumping Scrapy stats' block of a Scrapy log, as text."""
    start = log.rfind("Dumping Scrapy stats:")
    stats: dict[str, str] = {}
    if start < 0:
        return stats
    for line in log[start:].splitlines()[1:]:
        m = STAT.match(line)
        if m:
            stats[m[1]] = m[2].strip()
        elif stats:  # the block ended
            break
    return stats


def stat_float(stats: dict[str, str], key: str) -> float | None:
    try:
        return float(stats[key])
    except (KeyError, ValueError):
        return None


@dataclass
class Run:
    """One subprocess: its exit status, stats, log, peak RSS and RSS over time."""

    returncode: int
    seconds: float  # wall clock, process start to exit
    peak_rss: int  # bytes
    stats: dict[str, str]
    log: str
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, bytes)
    cpu: float = 0.0  # user + system CPU seconds of the process, start-up included

    @property
    def elapsed(self) -> float:
        return stat_float(self.stats, "elapsed_time_seconds") or self.seconds

    def rss_at(self, fraction: float) -> int | None:
        """The RSS sampled closest to ``fraction`` of the run's wall time."""
        if not self.rss:
            return None
        when = fraction * self.seconds
        return min(self.rss, key=lambda sample: abs(sample[0] - when))[1]


def current_rss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def run_measured(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Run:
    """Run ``cmd`` to its end. Its peak RSS comes from wait4() on it alone (the site server,
    another child of this process, does not count); its RSS is also sampled from /proc twice
    a second, to show whether it levels off or keeps growing."""
    start = time.perf_counter()
    samples: list[tuple[float, int]] = []
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                rss = current_rss(proc.pid)
                if rss is not None:
                    samples.append((time.perf_counter() - start, rss))
                time.sleep(0.5 if samples and samples[-1][0] > 5 else 0.1)
        except BaseException:  # interrupted: leave no crawl running behind
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    text = log.read_text(encoding="utf-8", errors="replace")
    return Run(
        proc.returncode,
        seconds,
        usage.ru_maxrss * 1024,  # KiB on Linux
        parse_stats(text),
        text,
        samples,
        usage.ru_utime + usage.ru_stime,
    )


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the site server and a running crawl are stopped too."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def scrapy_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    env.pop("SCRAPY_PROJECT", None)
    return env


# --- the site ----------------------------------------------------------------------------------


@contextlib.contextmanager
def site(
    articles: int, columns: str = "3", per_page: int = 50, *, small: bool = False
) -> Iterator[str]:
    """The generated site (testsite.synthetic), served on 127.0.0.1 by a thread of this process
    while the block runs (it keeps no hits: 50,000 would only cost memory); yields its root."""
    served = SyntheticSite(articles, columns.split(","), per_page, small=small, record=False)
    with served:
        yield served.root


# --- the two measurements ------------------------------------------------------------------------


@dataclass
class CrawlResult:
    run: Run
    exported: int
    state_bytes: int
    output_bytes: int
    problems: list[str] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return self.exported / self.run.elapsed * 60

    @property
    def pages_per_minute(self) -> float:
        pages = stat_float(self.run.stats, "response_received_count") or 0
        return pages / self.run.elapsed * 60

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per exported article, the process's start-up included."""
        return self.run.cpu * 1000 / max(self.exported, 1)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def exported_records(work: Path) -> tuple[int, int]:
    """Records and bytes in the JSON Lines files published in ``work``."""
    exported = size = 0
    for published in work.glob("articles*.jsonl"):  # the feed's published file(s)
        size += published.stat().st_size
        with published.open("rb") as f:
            exported += sum(1 for line in f if line.strip())
    return exported, size


def check(result: CrawlResult, articles: int) -> CrawlResult:
    run = result.run
    if run.returncode != 0:
        result.problems.append(f"exit status {run.returncode}")
    if result.exported != articles:
        result.problems.append(f"exported {result.exported} of {articles} articles")
    reason = run.stats.get("finish_reason", "?").strip("'")
    if reason != "finished":
        result.problems.append(f"finish reason {reason}")
    return result


def fresh(work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)


def crawl_once(
    root: str,
    articles: int,
    work: Path,
    *,
    columns: str = "3",
    extra: dict[str, str] | None = None,
) -> CrawlResult:
    """One full newsbot crawl of the column(s) into a fresh state directory and output file;
    ``extra`` settings override the benchmark's."""
    fresh(work)
    output = work / "articles.jsonl"
    state = work / "state"
    cmd = [sys.executable, "-m", "scrapy", "crawl", "nbd", "-a", f"columns={columns}"]
    settings = {**CRAWL_SETTINGS, "NEWSBOT_SITE_ROOT": root, "NEWSBOT_STATE_DIR": str(state)}
    settings.update(extra or {})
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    cmd += ["-o", f"{output}:jsonl"]
    run = run_measured(cmd, cwd=ROOT, env=scrapy_env(), log=work / "crawl.log")
    exported, size = exported_records(work)
    return check(CrawlResult(run, exported, folder_size(state), size), articles)


def bare_once(root: str, articles: int, work: Path) -> CrawlResult:
    """The yardstick: benchmarks/bare_spider.py over the same column, with the same
    concurrency and no delay, run in an empty folder (no project settings)."""
    fresh(work)
    cmd = [sys.executable, "-m", "scrapy", "runspider", str(HERE / "bare_spider.py")]
    cmd += ["-a", f"root={root}", "-a", "column=3", "-o", f"{work / 'articles.jsonl'}:jsonl"]
    for key in ("CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "LOG_LEVEL"):
        cmd += ["-s", f"{key}={CRAWL_SETTINGS[key]}"]
    cmd += ["-s", "DOWNLOAD_DELAY=0"]
    run = run_measured(cmd, cwd=work, env=scrapy_env(), log=work / "bare.log")
    exported, size = exported_records(work)
    return check(CrawlResult(run, exported, 0, size), articles)


def setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-s",
        "--set",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for the newsbot crawl (to try a change; printed in the header)",
    )


PAGES = {"full": "95 KB pages", "small": "small pages"}


def line(label: str, result: CrawlResult) -> str:
    return (
        f"{label} {result.per_minute:>7.0f} articles/min, {result.cpu_ms:5.2f} CPU ms/article "
        f"({result.run.elapsed:.1f} s, peak RSS {result.run.peak_rss / 2**20:.0f} MiB)"
        + (f"  PROBLEM: {'; '.join(result.problems)}" if result.problems else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--pages", default="full,small", help="full (95 KB pages), small (3-5 KB), or both"
    )
    parser.add_argument("--no-bare", action="store_true", help="newsbot only")
    parser.add_argument("--keep", type=Path, help="keep logs and outputs in this folder")
    add_set_option(parser)
    args = parser.parse_args()
    kinds = [k.strip() for k in args.pages.split(",") if k.strip()]
    if not kinds or any(k not in PAGES for k in kinds):
        parser.error("--pages takes full, small or both")
    extra = dict(args.set)
    exit_on_sigterm()

    work = args.keep or Path(tempfile.mkdtemp(prefix="newsbot-crawl-bench-"))
    print(machine_line(("scrapy", "twisted", "lxml", "parsel")))
    print(
        f"# {args.articles} articles in one column, 50 a list page, on 127.0.0.1; {args.runs} "
        "runs each side, interleaved; median (min-max)"
    )
    print("# yardstick: benchmarks/bare_spider.py (4 parsel queries, JSON Lines feed)")
    if extra:
        print(f"# extra settings: {' '.join(f'{k}={v}' for k, v in extra.items())}")
    ours: dict[str, list[CrawlResult]] = {k: [] for k in kinds}
    bare: dict[str, list[CrawlResult]] = {k: [] for k in kinds}
    try:
        with contextlib.ExitStack() as stack:
            roots = {k: stack.enter_context(site(args.articles, small=k == "small")) for k in kinds}
            for i in range(args.runs):
                for kind in kinds:
                    # Alternate which side goes first, so neither always meets a warm cache.
                    sides = ["bare", "newsbot"] if i % 2 == 0 else ["newsbot", "bare"]
                    for side in sides:
                        if side == "bare" and args.no_bare:
                            continue
                        where = work / f"{side}-{kind}-{i}"
                        if side == "bare":
                            result = bare_once(roots[kind], args.articles, where)
                        else:
                            result = crawl_once(roots[kind], args.articles, where, extra=extra)
                        (bare if side == "bare" else ours)[kind].append(result)
                        print(line(f"run {i + 1}, {PAGES[kind]}: {side:<7}", result))
                        if result.problems:
                            print(f"  log: {where}")
                            print("\n".join(result.run.log.splitlines()[-25:]))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    for kind in kinds:
        for side, results in (("bare", bare[kind]), ("newsbot", ours[kind])):
            if not results:
                continue
            print(
                f"{PAGES[kind]}, {side:<7}: {spread([r.per_minute for r in results])} "
                f"articles/min, {spread([r.cpu_ms for r in results], '{:.2f}')} CPU ms/article, "
                f"peak RSS {spread([r.run.peak_rss / 2**20 for r in results])} MiB"
            )
        if bare[kind] and ours[kind]:
            ratio = median(r.per_minute for r in ours[kind]) / median(
                r.per_minute for r in bare[kind]
            )
            cpu = median(r.cpu_ms for r in ours[kind]) / median(r.cpu_ms for r in bare[kind])
            print(
                f"{PAGES[kind]}: newsbot/bare articles/min ratio {ratio:.2f} (target: >= 0.90), "
                f"CPU per article {cpu:.2f}x"
            )
    if any(r.problems for group in (ours, bare) for rs in group.values() for r in rs):
        sys.exit("some crawls did not deliver every article: see PROBLEM above")


if __name__ == "__main__":
    main()
