"""What goes over the wire: a request as the server saw it (:class:`Hit`), an answer
(:class:`Reply`), and the connection an answer is written to (:class:`Conn`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Hit:
    """One request the server received."""

    method: str
    path: str
    """Path and query as requested: ``/columns/3/page/2``."""
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    body: bytes
    status: int = 0
    """The status answered (0 while answering, or when the connection was reset unanswered)."""
    at: float = field(default_factory=time.time)
    server: str = ""
    """``host:port`` of the server that received it."""
    fault: str = ""
    """The fault a plan answered it with (``Status(503)``), or empty for the site's answer."""

    @property
    def route(self) -> str:
        """The path without its query."""
        return urlsplit(self.path).path

    def json(self) -> Any:
        return json.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "status": self.status,
            "at": self.at,
            "server": self.server,
            "fault": self.fault,
        }


@dataclass
class Reply:
    """What to answer: status, headers, body, and how long to wait before answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


_date: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The ``Date`` header's value, made once a second (it is asked for on every answer)."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def head(status: int, headers: dict[str, str], length: int | None, *, keep_alive: bool) -> bytes:
    """Status line and headers; Content-Length when ``length`` is not None."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    merged = {
        "Content-Type": "text/html; charset=utf-8",
        **headers,
        "Date": _http_date(),
        "Server": "testsite",
        "Connection": "keep-alive" if keep_alive else "close",
    }
    if length is not None:
        merged["Content-Length"] = str(length)
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in merged.items())]
    # Raw UTF-8, as servers send a Location with non-ASCII characters.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class Conn:
    """One request's connection, as the server's answer or a fault writes to it.

    ``keep_alive`` is whether the connection serves another request after this answer (the
    ``Connection`` header says so); ``head_only`` is true for a HEAD request (no body sent).
    """

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        stopping: asyncio.Event,
        *,
        keep_alive: bool = False,
        head_only: bool = False,
    ) -> None:
        self.writer = writer
        self.stopping = stopping
        self.keep_alive = keep_alive
        self.head_only = head_only

    def head(self, status: int, headers: dict[str, str], length: int | None) -> bytes:
        return head(status, headers, length, keep_alive=self.keep_alive)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, reply: Reply) -> None:
        """The whole answer, as a well-behaved server sends it."""
        data = self.head(reply.status, reply.headers, len(reply.body))
        await self.send(data if self.head_only else data + reply.body)

    async def dribble(self, data: bytes, seconds: float, pieces: int = 20) -> None:
        """Send ``data`` in ``pieces`` parts spread over ``seconds``."""
        step = max(1, -(-len(data) // pieces))
        for start in range(0, len(data), step):
            await self.send(data[start : start + step])
            await self.sleep(seconds / pieces)

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the server stops."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def reset(self) -> None:
        """Abort the connection with a TCP RST (after what was sent has left)."""
        await asyncio.sleep(0.05)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.close()
