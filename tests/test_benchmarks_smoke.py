"""Each benchmark script runs end to end on a tiny input and prints its numbers.

No timings are asserted (numbers belong in benchmarks/README.md): these only prove the scripts
still work against the current code, so the README's commands do not rot. They need no bench
extra: the generic extractors are made absent on purpose, and the script must say so and go on.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import ARTICLES, ROOT

BENCHMARKS = ROOT / "benchmarks"
NUMBER = r"\d+(?:\.\d+)?"


def run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, (
        f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def absent(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment in which importing ``modules`` fails as if they were not installed."""
    import os

    for name in modules:
        (tmp_path / f"{name}.py").write_text(
            f"raise ImportError({f'No module named {name}'!r}, name={name!r})\n"
        )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


def test_extractors_benchmark_runs_without_the_bench_extra(tmp_path: Path) -> None:
    pages = sorted(ARTICLES.glob("*.html"))[:2]
    assert len(pages) == 2, "the extractor benchmark needs fixture pages"
    env = absent(tmp_path, "trafilatura", "gne", "newspaper")
    out = run("extractors.py", "--rounds", "1", "--seconds", "0.05", *map(str, pages), env=env)

    for name in ("trafilatura", "gne", "newspaper4k"):
        assert re.search(rf"^skipped {name}: not installed .*\[bench\]", out, re.M), out
    # Speed rows for the floor and newsbot, each with a positive rate.
    for label in ("lxml parse (floor)", "newsbot"):
        row = re.search(rf"^{re.escape(label)}\s+\S+\s+({NUMBER})", out, re.M)
        assert row and float(row[1]) > 0, out
    # The accuracy table scores newsbot on both pages; the skipped ones have no row.
    assert re.search(r"^newsbot\s+\d/2\s+\d/2", out, re.M), out
    assert re.search(r"every extracted field exact on \d/2 pages", out), out
    assert not re.search(r"^(trafilatura|GNE|newspaper4k)\s", out, re.M), out


def test_crawl_benchmark_runs_and_compares_with_a_bare_spider() -> None:
    out = run("crawl.py", "--articles", "40", "--runs", "1")
    # The script exits non-zero unless every one of the 40 articles was exported, both sides.
    for pages in ("95 KB pages", "small pages"):
        for side in ("bare", "newsbot"):
            assert re.search(
                rf"^{pages}, {side}\s*: {NUMBER} articles/min, {NUMBER} CPU ms/article", out, re.M
            ), out
        assert re.search(
            rf"^{pages}: newsbot/bare articles/min ratio {NUMBER} \(target: >= 0.90\), "
            rf"CPU per article {NUMBER}x",
            out,
            re.M,
        ), out
    assert "PROBLEM" not in out


def test_fixed_cost_benchmark_runs_on_two_store_sizes() -> None:
    out = run("fixed_cost.py", "--ids", "100,3000", "--runs", "1")
    for size in ("100", "3,000"):
        assert re.search(rf"^\s+{size} ids: {NUMBER} s, peak RSS {NUMBER} MiB$", out, re.M), out
    assert re.search(rf"^3,000 ids over 100: time {NUMBER}x, memory {NUMBER}x", out, re.M), out
    assert "PROBLEM" not in out


def test_memory_benchmark_runs_and_gives_a_verdict() -> None:
    out = run("memory.py", "--sizes", "20,40", "--runs", "1")
    for size in ("20", "40"):
        assert re.search(rf"^\s+{size}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", out, re.M), out
    assert re.search(r"^(flat|GROWS)", out, re.M), out
    assert "PROBLEM" not in out


def test_extract_benchmark_prints_a_ratio_for_each_page_set() -> None:
    out = run("extract.py", "--rounds", "1", "--seconds", "0.01")
    for label in ("fixtures", "synthetic 95 KB pages"):
        line = next((x for x in out.splitlines() if x.startswith(label)), "")
        assert re.search(rf"ratio {NUMBER}x \(min {NUMBER}, max {NUMBER}\)", line), out
    if (ROOT.parent / "shared" / "corpus").is_dir():
        assert re.search(r"corpus in the page shell\s+198 pages", out), out
