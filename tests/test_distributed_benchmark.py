"""The distributed benchmark runs end to end, tiny, and prints a checked row per worker count.

No timing is asserted (the numbers belong in the benchmark's output and in README.md,
Distributed crawling).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--articles", "30", "--workers", "1,2", "--latency", "0.01"]


def test_distributed_benchmark_prints_a_row_per_worker_count(redis_server: RedisServer) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "distributed.py"), *TINY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if re.match(r"\s*\d+ \|", line)]
    assert [row.split("|")[0].strip() for row in rows] == ["1", "2"], done.stdout
    for row in rows:
        cells = [c.strip() for c in row.split("|")]
        assert cells[1] == "30"  # every article, once
        assert float(cells[4]) > 0
        assert cells[6] == "ok"
