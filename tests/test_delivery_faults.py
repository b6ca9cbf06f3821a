"""Delivery paths that lost or repeated articles (issue 13, items 1, 2, 4 and 6), through real
``scrapy crawl`` processes:

1. two runs appending (``-o``) to a file that does not exist yet, one of them slowed down in
   its rename by strace (``-e inject=rename:delay_enter=…``): both runs' records end in the file;
2. a run killed between its rename and its mark (strace ``delay_exit`` holds it there), its
   file then moved away by a consumer: the next run does not deliver those articles again;
4. ``-o -`` into a pipe whose reader exits early: the run fails, nothing it wrote counts as
   delivered, and the next run delivers everything;
6. ``-o`` onto an existing JSON, XML or CSV file: refused at start, the file kept valid.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.deliverykit import ROOT, crawl_command, env, read_records, run, start
from tests.faultkit import ledger
from testsite import DeliverySite

pytestmark = pytest.mark.process


def strace_delaying_renames(seconds: float) -> list[str]:
    """A command prefix that runs a process with every rename delayed by ``seconds`` (Debian's
    strace; CI installs it, see .ci/run)."""
    strace = shutil.which("strace")
    if strace is None:
        if os.environ.get("CI"):
            pytest.fail("strace is missing in CI (.ci/run installs it)")
        pytest.skip("strace is not installed (apt-get install strace)")
    calls = "rename,renameat,renameat2"
    return [strace, "-f", "-qq", "-o", os.devnull, "-e", f"trace={calls}",
            "-e", f"inject={calls}:delay_enter={int(seconds * 1_000_000)}us"]  # fmt: skip


def test_two_runs_appending_to_a_new_file_keep_each_others_records(tmp_path: Path) -> None:
    """Run A is slowed down between deciding how to publish and its rename; run B, on another
    state directory (another job writing the same file), publishes meanwhile. The target's
    existence is judged under the append lock, so B appends to A's file (or A to B's), and
    every record of both is in it, once."""
    out = tmp_path / "out" / "articles.jsonl"
    with DeliverySite(6) as site:
        urls = [site.article(i).url for i in site.ids]
        a = crawl_command(site.root, tmp_path / "state-a", "-o", str(out),
                          args={"url": ",".join(urls[:3])})  # fmt: skip
        b = crawl_command(site.root, tmp_path / "state-b", "-o", str(out),
                          args={"url": ",".join(urls[3:])})  # fmt: skip
        slow = start([*strace_delaying_renames(6), *a], ROOT, tmp_path / "a.log")
        # B starts once A writes its file (its first record is in); B publishes while A's
        # rename waits.
        deadline = time.monotonic() + 60
        while not list(out.parent.glob(".articles.jsonl.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.01)
        fast = run(b, ROOT)
        assert slow.wait(120) == 0, (tmp_path / "a.log").read_text()[-3000:]
    assert fast.returncode == 0, fast.stderr[-3000:]
    ids = sorted(r["article_id"] for r in read_records(out.parent))
    assert ids == sorted(site.ids), f"{ids} (A: {site.ids[:3]}, B: {site.ids[3:]})"
    assert ledger(tmp_path / "state-a") == dict.fromkeys(site.ids[:3], "exported")
    assert ledger(tmp_path / "state-b") == dict.fromkeys(site.ids[3:], "exported")


def tracee(strace: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """The pid of the ``scrapy`` process strace started (strace forks short-lived probes of
    its own first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in Path(f"/proc/{strace.pid}/task/{strace.pid}/children").read_text().split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"scrapy" in argv and b"strace" not in argv[0]:  # exec'ed, not a fork of strace
                return int(child)
        time.sleep(0.01)
    raise TimeoutError("strace started no scrapy process")


def test_a_file_consumed_after_a_kill_between_rename_and_mark_is_not_delivered_again(
    tmp_path: Path,
) -> None:
    """The run's renames are held after they happened (strace ``delay_exit``): it is killed
    with SIGKILL right after its file is in place and before its articles are marked exported.
    A consumer then moves the file away (``mv out/*.jsonl consumed/``). The next run settles
    the publish (the temporary file is gone: the rename happened) and delivers nothing twice."""
    state, out, consumed = tmp_path / "state", tmp_path / "out", tmp_path / "consumed"
    with DeliverySite(5) as site:
        cmd = crawl_command(site.root, state, "-o", f"{out}/%(time)s.jsonl",
                            args={"columns": "9000"})  # fmt: skip
        held = strace_delaying_renames(60)
        held[-1] = held[-1].replace("delay_enter", "delay_exit")
        proc = start([*held, *cmd], ROOT, tmp_path / "killed.log")
        pid = tracee(proc)
        deadline = time.monotonic() + 60
        while not list(out.glob("*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)  # between the rename and the mark
        proc.kill()  # strace itself, still sleeping out the delay
        proc.wait(30)
        published = list(out.glob("*.jsonl"))
        assert len(published) == 1, (tmp_path / "killed.log").read_text()[-3000:]
        assert set(ledger(state).values()) == {"pending"}  # not marked: killed in between
        consumed.mkdir()
        for path in published:
            path.rename(consumed / path.name)  # the consumer takes the file

        again = run(cmd, ROOT)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "records it had published are now recorded as exported" in again.stderr
    assert list(out.glob("*.jsonl")) == []  # nothing delivered again
    assert sorted(r["article_id"] for r in read_records(consumed)) == sorted(site.ids)
    assert ledger(state) == dict.fromkeys(site.ids, "exported")


def test_a_pipe_whose_reader_exits_early_delivers_nothing_twice_and_loses_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with DeliverySite(40) as site:
        cmd = crawl_command(site.root, state, "-o", "-:jsonlines", args={"columns": "9000"})
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stderr is not None
        read = [json.loads(proc.stdout.readline()) for _ in range(3)]
        proc.stdout.close()  # the reader goes away (head -n 3)
        log = proc.stderr.read().decode()
        assert proc.wait(120) == 1, log[-3000:]
        assert len(read) == 3
        last = log.strip().splitlines()[-1]
        assert "Run failed: storage_failed: writing to standard output failed" in last, last
        assert "BrokenPipeError" not in log and log.count("Traceback") <= 1, log[-3000:]
        # None counts as delivered: which ones the reader took cannot be known.
        assert "exported" not in ledger(state).values()
        out = tmp_path / "out"
        again = run(crawl_command(site.root, state, "-o", f"{out}/a.jsonl",
                                  args={"columns": "9000"}), ROOT)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(r["article_id"] for r in read_records(out)) == sorted(site.ids)


def read_json(path: Path) -> list[dict]:
    return json.loads(path.read_text("utf-8"))


def read_xml(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot())


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("fmt", "reader"), [("json", read_json), ("xml", read_xml), ("csv", read_csv)]
)
def test_appending_a_format_that_cannot_be_appended_is_refused_at_start(
    tmp_path: Path, fmt: str, reader
) -> None:  # type: ignore[no-untyped-def]
    state, out = tmp_path / "state", tmp_path / "out" / f"articles.{fmt}"
    with DeliverySite(4) as site:
        first = run(crawl_command(site.root, state, "-o", str(out),
                                  args={"columns": "9000", "max_articles": "2"}), ROOT)  # fmt: skip
        assert first.returncode == 0, first.stderr[-3000:]
        assert len(reader(out)) == 2
        before = out.read_bytes()
        hits = len(site.hits)
        second = run(crawl_command(site.root, state, "-o", str(out), args={"columns": "9000"}),
                     ROOT)  # fmt: skip
        assert second.returncode == 1, second.stderr[-3000:]
        assert len(site.hits) == hits  # refused before anything was fetched
        last = second.stderr.strip().splitlines()[-1]
        assert "feed_refused" in last and f"cannot be appended to in the {fmt} format" in last
        assert out.read_bytes() == before  # still one valid file
        # -O replaces it, whole and valid.
        again = run(crawl_command(site.root, state, "-O", str(out), args={"columns": "9000"}),
                    ROOT)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(reader(out)) == 2  # the two not delivered before
