"""Instructions per page of newsbot's article extractor next to bare lxml parsing, counted by
valgrind's callgrind: the count does not depend on what else the machine is running, so two
runs on a loaded machine compare where CPU times (benchmarks/extract.py) wander.

    python benchmarks/extract_instructions.py [--passes 2] [--set real,synthetic]

The page sets are extract.py's: ``real`` (fixtures and every corpus post in the fixture page
shell) and ``synthetic`` (the crawl benchmark's 95-100 KB pages). For each set and each side
(``lxml``: ``lxml.html.document_fromstring(body)``; ``newsbot``: ``ArticlePage(...).to_item()``)
a child Python runs under callgrind: it builds the pages, makes one warm-up pass over them,
then ``--passes`` measured passes. callgrind is told to write its counts out each time the child
calls ``getppid()``, which the child does right before and right after the measured passes (and
nowhere else), so the second file holds the measured passes alone: the same as subtracting a
warm-up-only run, with start-up, imports, page building and first-call caches left out, in one
run. Over the pages measured, that is the side's instructions (Ir) per page. ``--keep DIR``
keeps the callgrind files (``callgrind_annotate DIR/callgrind.newsbot.real.2`` shows where the
instructions go). Needs ``valgrind`` (Debian: ``apt-get install valgrind``); takes a few minutes
(callgrind runs Python some 50 times slower). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIDES = ("lxml", "newsbot")


def child(side: str, page_set: str, passes: int) -> None:
    """Runs inside callgrind: build the pages, one warm-up pass, then ``passes`` passes."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import extract

    if page_set == "real":
        pages = extract.fixture_pages() + (
            extract.corpus_pages() if extract.CORPUS.is_dir() else []
        )
    else:
        pages = extract.synthetic_pages()
    work = extract.parse_only if side == "lxml" else extract.extract
    for url, body in pages:  # warm-up: imports, compiled patterns, caches
        work(url, body)
    os.getppid()  # callgrind writes the counts so far (start-up and warm-up) and starts again
    for _ in range(passes):
        # Each pass as a crawl of those pages meets them (extract.py's timed passes do the same).
        extract.forget_navigation()
        for url, body in pages:
            work(url, body)
    os.getppid()  # ... and here those of the measured passes
    print(len(pages))


def counted(side: str, page_set: str, passes: int, out_dir: Path) -> tuple[int, int]:
    """(instructions of the measured passes, pages) of one child run under callgrind."""
    out = out_dir / f"callgrind.{side}.{page_set}"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--dump-before=getppid*",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--child",
        side,
        page_set,
        str(passes),
    ]
    # A fixed hash seed: set and dict orders, and so the instructions, the same every run.
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"callgrind run failed:\n{done.stderr[-3000:]}")
    measured = Path(f"{out}.2")  # .1: start-up and warm-up; .2: the measured passes
    totals = re.search(r"^(?:summary|totals):\s*(\d+)", measured.read_text(), re.M)
    if totals is None:
        raise SystemExit(f"no totals in {measured}")
    return int(totals[1]), int(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=2, help="measured passes over the pages")
    parser.add_argument("--set", default="real,synthetic")
    parser.add_argument("--sides", default=",".join(SIDES), help="lxml, newsbot or both")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # SIDE SET PASSES
    args = parser.parse_args()
    if args.child:
        side, page_set, passes = args.child
        child(side, page_set, int(passes))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found (Debian: apt-get install valgrind)")
    print(
        f"callgrind instructions (Ir) per page over {args.passes} passes after a warm-up pass; "
        "target <= 1.5x"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for page_set in args.set.split(","):
            per_page = {}
            for side in args.sides.split(","):
                instructions, pages = counted(side, page_set, args.passes, out_dir)
                per_page[side] = instructions / (args.passes * pages)
            line = f"{page_set:<10} {pages:4d} pages"
            for side, ir in per_page.items():
                line += f"   {side} {ir / 1e6:8.3f} M Ir"
            if len(per_page) == 2:
                line += f"   ratio {per_page['newsbot'] / per_page['lxml']:.3f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
