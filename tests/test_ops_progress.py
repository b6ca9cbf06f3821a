"""The progress line, end to end: periodic, done out of known, rate and ETA once the list pages
are read, and no flood while nothing moves."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

from tests.crawlkit import PROJECT
from tests.delivery_site import COLUMN, DeliverySite, crawl_command, start

LINE = re.compile(
    r"\[newsbot\.ops\.progress\] INFO: Progress: (\d+)/(≥?)(\d+) articles done"
    r"(?: \(\d+%\))?(?:, reading list pages|, ([\d.]+)/min(, ETA .*)?)?$"
)


def progress(log: str) -> list[tuple[int, bool, int, str]]:
    """``(done, listing, known, eta)`` of each progress line; every one must parse."""
    out = []
    for line in log.splitlines():
        if "Progress:" in line:
            m = LINE.search(line)
            assert m, f"unexpected progress line: {line!r}"
            out.append((int(m[1]), m[2] == "≥", int(m[3]), m[5] or ""))
    return out


def test_progress_lines_without_flooding(tmp_path: Path):
    interval = 0.2
    with DeliverySite(24, per_page=8) as site:
        site.copy.latency = 0.05
        # A stall (nothing moves for two seconds) once the third and last list page is read:
        # the spider reads a column's next list page after the articles already listed.
        site.hold_after(17)
        cmd = crawl_command(
            site.root, tmp_path / "state", "-o", f"{tmp_path}/out.jsonl",
            args={"columns": COLUMN},
            settings={"NEWSBOT_PROGRESS_INTERVAL": str(interval),
                      "CONCURRENT_REQUESTS_PER_DOMAIN": "2"},
        )  # fmt: skip
        log = tmp_path / "run.log"
        began = time.monotonic()
        proc = start(cmd, PROJECT, log)
        try:
            site.wait_served(17)
            time.sleep(2.0)
            site.release()
            assert proc.wait(60) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
        elapsed = time.monotonic() - began
    lines = progress(log.read_text())
    assert len(lines) >= 3, lines
    # Only a change makes a line: consecutive lines differ, so the two-second stall (ten
    # intervals) added at most one.
    assert all(a[:3] != b[:3] for a, b in itertools.pairwise(lines)), lines
    assert len(lines) < elapsed / interval - 5, (len(lines), elapsed)
    done = [d for d, _, _, _ in lines]
    known = [k for _, _, k, _ in lines]
    assert done == sorted(done) and known == sorted(known)
    assert all(d <= k for d, _, k, _ in lines)
    # While list pages are still being read, "known" is a lower bound and there is no ETA.
    for _, listing, _, eta in lines:
        assert ("after the list pages are read" in eta) if listing else ("≥" not in eta)
    finished = [line for line in lines if not line[1]]
    assert finished and finished[-1][2] == 24
    assert any(re.match(r", ETA \d+[smhd]", eta) for _, _, _, eta in finished), lines
