"""The state store benchmark runs end to end on a tiny store and prints its numbers.

No timing is asserted (numbers belong in the benchmark's output and the README).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.deliverykit import ROOT


def test_state_store_benchmark_prints_a_row_per_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "state_store.py"),
            "--ids",
            "2000,5000",
            "--lookups",
            "500",
            "--inserts",
            "200",
            "--dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if re.match(r"\s*[\d,]+ \|", line)]
    assert [row.split("|")[0].strip() for row in rows] == ["2,000", "5,000"]
    for row in rows:
        cells = [c.strip().replace(",", "") for c in row.split("|")]
        assert len(cells) == 8
        assert all(re.fullmatch(r"\d+(\.\d+)?", c) for c in cells), row
        assert float(cells[3]) > 0 and float(cells[5]) > 0  # lookups and inserts happened
    assert list(tmp_path.iterdir()) == []  # the stores were removed
