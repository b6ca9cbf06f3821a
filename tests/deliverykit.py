"""Helpers for the delivery tests: crawls of the delivery site (testsite.DeliverySite) in a
subprocess, what they published, and real small filesystems to fill up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.crawlkit import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[1]


# -- crawls ----------------------------------------------------------------------------------


def crawl_command(root: str, state: Path, *outputs: str, args: dict[str, str] | None = None,
                  settings: dict[str, str] | None = None) -> list[str]:  # fmt: skip
    cmd = [sys.executable, "-m", "scrapy", "crawl", "nbd", *outputs]
    base = {
        **TEST_SETTINGS,
        "NEWSBOT_SITE_ROOT": root,
        "NEWSBOT_STATE_DIR": str(state),
        "RETRY_TIMES": "0",
        "DOWNLOAD_TIMEOUT": "20",
        "NEWSBOT_MAX_LIST_PAGES": "0",
    }
    base.update(settings or {})
    for name, value in base.items():
        cmd += ["-s", f"{name}={value}"]
    for name, value in (args or {}).items():
        cmd += ["-a", f"{name}={value}"]
    return cmd


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        out.pop(proxy, None)
    return out


def run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def start(cmd: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = log.open("wb")
    return subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=fh, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL, timeout: float = 60) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout)


def published_files(directory: Path, pattern: str = "*.jsonl") -> list[Path]:
    """Feed files in ``directory`` (recursively), leaving out newsbot's hidden temp files."""
    return sorted(p for p in directory.rglob(pattern) if not p.name.startswith("."))


def read_records(directory: Path, pattern: str = "*.jsonl") -> list[dict]:
    """Every record of every published file; fails on a line that is not a JSON object."""
    records = []
    for path in published_files(directory, pattern):
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), f"{path} ends in a torn line"
        for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise AssertionError(f"{path}:{n} is not JSON: {line[:80]!r}") from exc
            assert isinstance(obj, dict), f"{path}:{n} is not an object"
            records.append(obj)
    return records


@contextlib.contextmanager
def small_filesystem(path: Path, size_kb: int) -> Iterator[Path]:
    """A real, small filesystem (tmpfs) mounted at ``path``, to fill up for real.

    Mounting needs root (CI and the developers' machines run as root). Elsewhere the test is
    skipped, except in CI, where a missing mount is a failure.
    """
    import pytest

    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a small tmpfs in CI: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path, leave_bytes: int) -> None:
    """Fill ``disk`` up to all but about ``leave_bytes``."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler.bin"
    with filler.open("ab") as fh:
        fh.write(b"\0" * max(0, free - leave_bytes))
