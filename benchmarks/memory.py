"""Peak RSS of full column crawls of 5,000 and 50,000 local articles: does it grow with them?

    python benchmarks/memory.py [--sizes 5000,50000] [--runs 3]

For each size, testsite/synthetic.py serves that many generated articles on 127.0.0.1 and
``scrapy crawl nbd`` crawls the whole column the way benchmarks/crawl.py does (project settings,
politeness off, a fresh state directory and output file each run). The peak RSS is the crawl
process's own, from ``wait4()`` (Scrapy's ``memusage/max`` only samples once a minute). Printed
per size: the median peak RSS (and range), the state store's size on disk and the output's.

Verdict: memory is flat when, from the smallest size to the largest, the peak RSS grows by no
more than the state store does plus 10 % of the smallest crawl's peak (noise: the allocator,
the shared machine); otherwise it grows, and the growth per article is printed. Growth in
proportion to the state store is allowed (the issue's rule): an in-memory index of delivered ids
is part of the store.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import machine_line, median, spread
from crawl import CrawlResult, add_set_option, crawl_once, exit_on_sigterm, site

MIB = 2**20
QUARTERS = (0.25, 0.5, 0.75, 0.98)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="5000,50000", help="comma-separated article counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep logs and outputs in this folder")
    add_set_option(parser)
    args = parser.parse_args()
    extra = dict(args.set)
    exit_on_sigterm()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if len(sizes) < 2:
        parser.error("--sizes needs two article counts or more")

    work = args.keep or Path(tempfile.mkdtemp(prefix="newsbot-memory-bench-"))
    print(machine_line(("scrapy", "twisted", "lxml")))
    print(f"# full column crawls of {', '.join(map(str, sizes))} articles; {args.runs} runs each")
    if extra:
        print(f"# extra settings: {' '.join(f'{k}={v}' for k, v in extra.items())}")
    results: dict[int, list[CrawlResult]] = {}
    try:
        for size in sizes:
            with site(size) as root:
                for i in range(args.runs):
                    result = crawl_once(root, size, work / f"crawl-{size}-{i}", extra=extra)
                    results.setdefault(size, []).append(result)
                    course = " / ".join(
                        f"{rss / MIB:.0f}" if (rss := result.run.rss_at(q)) else "?"
                        for q in QUARTERS
                    )
                    print(
                        f"{size:>7} articles, run {i + 1}: peak RSS "
                        f"{result.run.peak_rss / MIB:6.1f} MiB, {result.run.elapsed:6.1f} s, "
                        f"state {result.state_bytes / MIB:.1f} MiB; RSS at 1/4, 1/2, 3/4 and the "
                        f"end of the run: {course} MiB"
                        + (f"  PROBLEM: {'; '.join(result.problems)}" if result.problems else "")
                    )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'articles':>8} {'peak RSS MiB':>24} {'state MiB':>10} {'output MiB':>11}")
    rss: dict[int, float] = {}
    state: dict[int, float] = {}
    for size in sizes:
        runs = results[size]
        peaks = [r.run.peak_rss / MIB for r in runs]
        rss[size] = median(peaks)
        state[size] = median(r.state_bytes / MIB for r in runs)
        output = median(r.output_bytes / MIB for r in runs)
        print(f"{size:>8} {spread(peaks, '{:.1f}'):>24} {state[size]:>10.1f} {output:>11.1f}")
    small, large = sizes[0], sizes[-1]
    grew = rss[large] - rss[small]
    store_grew = state[large] - state[small]
    allowance = store_grew + 0.10 * rss[small]
    per_article = grew * MIB / (large - small)
    print(
        f"peak RSS {small} -> {large} articles: {grew:+.1f} MiB ({per_article:+.0f} bytes per "
        f"article); state store {store_grew:+.1f} MiB"
    )
    if grew <= allowance:
        print(f"flat: grows no more than the state store (+10% of {rss[small]:.0f} MiB)")
    else:
        print(f"GROWS with the article count: {grew - store_grew:+.1f} MiB beyond the state store")
    if any(r.problems for runs in results.values() for r in runs):
        sys.exit("some crawls did not deliver every article: see PROBLEM above")


if __name__ == "__main__":
    main()
