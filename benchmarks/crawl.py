"""Articles per minute for a full column crawl of a local site copy, next to ``scrapy bench``.

    python benchmarks/crawl.py [--articles 5000] [--runs 3] [--bench-seconds 10]

Starts benchmarks/synthsite.py on 127.0.0.1 with ``--articles`` generated articles (whole pages
of about 100 KB) in one column, then, ``--runs`` times, interleaved so that both see the same load
on the machine:

- ``scrapy bench`` in a folder outside the project (Scrapy's defaults, its own local server), for
  Scrapy's pages per minute on this machine;
- ``scrapy crawl nbd`` of the whole column, with the project's settings (every pipeline,
  extension and middleware they enable: extraction, validation, dedupe, state, export) and only
  the politeness turned off: no delay, no AutoThrottle, Scrapy's default concurrency (16, 8 per
  host: what ``scrapy bench`` runs with), JSON Lines export to a file, a fresh state directory.

Rates come from each run's own stats: ``response_received_count`` (bench) or the records in the
exported file (crawl), over ``elapsed_time_seconds`` (engine open to close). The median of the
runs is printed with the range, and the ratio of the medians (target: crawl >= 80 % of bench).
The crawl's peak RSS comes from ``wait4()`` on the crawl process itself.
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

HERE = Path(__file__).resolve().parent
STAT = re.compile(r"^\s*[{ ]?'([^']+)':\s*(.+?),?}?$")

#: Politeness off, everything else as the project configures it. Concurrency is Scrapy's
#: default, the one ``scrapy bench`` runs with.
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
    # ru_maxrss is in KiB on Linux.
    return Run(proc.returncode, seconds, usage.ru_maxrss * 1024, parse_stats(text), text, samples)


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
def site(articles: int, columns: str = "3", per_page: int = 50) -> Iterator[str]:
    """The generated site, served on 127.0.0.1 while the block runs; yields its root URL."""
    cmd = [sys.executable, str(HERE / "synthsite.py"), "--articles", str(articles)]
    cmd += ["--columns", columns, "--per-page", str(per_page), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"synthsite did not start: {line!r}")
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def crawl_once(
    root: str,
    articles: int,
    work: Path,
    *,
    columns: str = "3",
    extra: dict[str, str] | None = None,
) -> CrawlResult:
    """One full crawl of the column(s) into a fresh state directory and output file;
    ``extra`` settings override the benchmark's."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    output = work / "articles.jsonl"
    state = work / "state"
    cmd = [sys.executable, "-m", "scrapy", "crawl", "nbd", "-a", f"columns={columns}"]
    settings = {**CRAWL_SETTINGS, "NEWSBOT_SITE_ROOT": root, "NEWSBOT_STATE_DIR": str(state)}
    settings.update(extra or {})
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    cmd += ["-o", f"{output}:jsonl"]
    run = run_measured(cmd, cwd=ROOT, env=scrapy_env(), log=work / "crawl.log")
    exported = size = 0
    for published in work.glob("articles*.jsonl"):  # the feed's published file(s)
        size += published.stat().st_size
        with published.open("rb") as f:
            exported += sum(1 for line in f if line.strip())
    result = CrawlResult(run, exported, folder_size(state), size)
    if run.returncode != 0:
        result.problems.append(f"exit status {run.returncode}")
    if exported != articles:
        result.problems.append(f"exported {exported} of {articles} articles")
    reason = run.stats.get("finish_reason", "?").strip("'")
    if reason != "finished":
        result.problems.append(f"finish reason {reason}")
    return result


def bench_once(seconds: float, work: Path) -> tuple[float | None, Run]:
    """``scrapy bench`` for ``seconds``, outside any project: Scrapy's pages per minute."""
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "scrapy", "bench", "-s", f"CLOSESPIDER_TIMEOUT={seconds:g}"]
    run = run_measured(cmd, cwd=work, env=scrapy_env(), log=work / "bench.log")
    pages = stat_float(run.stats, "response_received_count")
    if run.returncode != 0 or not pages:
        return None, run
    return pages / run.elapsed * 60, run


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bench-seconds", type=float, default=10.0, help="scrapy bench length")
    parser.add_argument("--no-bench", action="store_true", help="crawl only")
    parser.add_argument("--keep", type=Path, help="keep logs and outputs in this folder")
    add_set_option(parser)
    args = parser.parse_args()
    extra = dict(args.set)
    exit_on_sigterm()

    work = args.keep or Path(tempfile.mkdtemp(prefix="newsbot-crawl-bench-"))
    print(machine_line(("scrapy", "twisted", "lxml", "parsel")))
    print(
        f"# {args.articles} articles in one column, 50 a list page, on 127.0.0.1; {args.runs} "
        "runs each, interleaved; median (min-max)"
    )
    if extra:
        print(f"# extra settings: {' '.join(f'{k}={v}' for k, v in extra.items())}")
    crawls: list[CrawlResult] = []
    benches: list[float] = []
    try:
        with site(args.articles) as root:
            for i in range(args.runs):
                if not args.no_bench:
                    rate, run = bench_once(args.bench_seconds, work / f"bench-{i}")
                    if rate is None:
                        print(f"scrapy bench run {i + 1} failed (exit {run.returncode}):")
                        print(run.log[-2000:])
                    else:
                        benches.append(rate)
                        print(f"run {i + 1}: scrapy bench {rate:>8.0f} pages/min")
                result = crawl_once(root, args.articles, work / f"crawl-{i}", extra=extra)
                crawls.append(result)
                print(
                    f"run {i + 1}: newsbot crawl {result.per_minute:>7.0f} articles/min "
                    f"({result.pages_per_minute:.0f} pages/min, {result.run.elapsed:.1f} s, "
                    f"peak RSS {result.run.peak_rss / 2**20:.0f} MiB)"
                    + (f"  PROBLEM: {'; '.join(result.problems)}" if result.problems else "")
                )
                if result.problems:
                    print(f"  log: {work / f'crawl-{i}' / 'crawl.log'}")
                    print("\n".join(result.run.log.splitlines()[-25:]))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    ours = [c.per_minute for c in crawls]
    print(f"newsbot crawl, articles/min:  {spread(ours)}")
    print(f"newsbot crawl, pages/min:     {spread([c.pages_per_minute for c in crawls])}")
    print(f"newsbot crawl, peak RSS MiB:  {spread([c.run.peak_rss / 2**20 for c in crawls])}")
    if benches:
        print(f"scrapy bench, pages/min:      {spread(benches)}")
        ratio = median(ours) / median(benches)
        print(f"ratio (articles/min over bench pages/min): {ratio:.0%} (target: >= 80%)")
    if any(c.problems for c in crawls):
        sys.exit("some crawls did not deliver every article: see PROBLEM above")


if __name__ == "__main__":
    main()
