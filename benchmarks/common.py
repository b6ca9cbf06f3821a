"""What the benchmark scripts share: the loopback guard, the machine line, medians.

Not a package module: each script runs as ``python benchmarks/NAME.py``, which puts this folder
first on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import ipaddress
import os
import platform
import socket
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# --- only loopback ----------------------------------------------------------------------------
# Generic extractors reach for the network on their own (newspaper4k's tldextract fetches the
# public suffix list on first use). Benchmarks may only talk to 127.0.0.0/8 and ::1: refuse
# anything else at once, so such a library falls back to its bundled data instead of hanging.


def _loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def loopback_only() -> None:
    """Make this process unable to open a connection or look up a name off loopback."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host.decode() if isinstance(host, bytes) else host):
            raise socket.gaierror(socket.EAI_NONAME, f"benchmarks stay on loopback: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise ConnectionRefusedError(f"benchmarks stay on loopback: {address[0]}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


# --- reporting --------------------------------------------------------------------------------


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def machine_line(dists: Iterable[str] = ("scrapy", "lxml", "parsel")) -> str:
    """One line saying where and with what a benchmark ran, for the README table."""
    versions = ", ".join(f"{d} {v}" for d in dists if (v := version(d)))
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"# {today}; {os.cpu_count()} CPUs ({cpu_model()}), {memory_total()} RAM; "
        f"Python {platform.python_version()}; {versions}"
    )


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    """``median (min–max)`` of a few runs."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"
