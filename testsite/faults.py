"""Fault plans: which request for a path gets which fault.

``server.plan(pattern, *faults)`` answers the requests whose path (with query) fully matches
the regex ``pattern`` with these faults in turn, the last one for ever; later plans win::

    site.plan(A, Status(503), Status(503), Normal())    # 5xx twice, then the page
    site.plan(B, ResetAfter(0.5))                        # reset mid-body, for ever
    site.plan("/robots.txt", Late(3))                    # robots.txt three seconds late
    site.plan(r"/articles/.*", *[Normal()] * 3, Hold(gate))  # three pages, then wait for gate

A fault is given the answer the site would have sent (``reply``) and writes what it likes to
the connection: another status, a given page, a redirect, or broken bytes (a reset before or in
the middle of a body, a dribble, a hang, fewer bytes than the Content-Length, a broken chunked
encoding, a page far over the size limit, a gzip bomb). A fault that breaks the answer closes
the connection after it; the well-formed ones (:class:`Status`, :class:`Page`,
:class:`Redirect`, :class:`Challenge`, :class:`Late`, :class:`Hold`) leave it open when the
server keeps connections alive.
"""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from testsite.wire import Conn, Reply

#: The site's challenge page (fixtures/site/challenge.html): what :class:`Challenge` answers.
CHALLENGE_PAGE = Path(__file__).resolve().parents[1] / "fixtures" / "site" / "challenge.html"


@dataclass
class Fault:
    """How to answer one request. ``reply`` is what the site would have answered."""

    #: Whether the connection may serve another request after this answer.
    well_formed = True

    def describe(self) -> str:
        return type(self).__name__

    def status(self, reply: Reply) -> int:
        """The status this fault answers (what the hit log records); 0 for none."""
        return reply.status

    async def wait(self, conn: Conn) -> None:
        """What happens before the site's answer is asked for (nothing, unless told)."""

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.reply(reply)


@dataclass
class Normal(Fault):
    """The site's own answer."""


@dataclass
class Status(Fault):
    """Another status (and body, headers): ``Status(503)``,
    ``Status(429, headers={"Retry-After": "1"})``."""

    code: int
    body: bytes = b"<html><body>unavailable</body></html>"
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"Status({self.code})"

    def status(self, reply: Reply) -> int:
        return self.code

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.reply(Reply(self.code, self.body, self.headers))


@dataclass
class Page(Fault):
    """A given body (status 200 unless told), with the headers given (a charset, say)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    code: int = 200

    def status(self, reply: Reply) -> int:
        return self.code

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.reply(Reply(self.code, self.body, self.headers))


@dataclass
class Challenge(Fault):
    """The site's challenge page ("安全验证", status 200) instead of the answer."""

    def status(self, reply: Reply) -> int:
        return 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.reply(Reply(200, CHALLENGE_PAGE.read_bytes()))


@dataclass
class Redirect(Fault):
    location: str
    code: int = 301

    def describe(self) -> str:
        return f"Redirect({self.code} {self.location})"

    def status(self, reply: Reply) -> int:
        return self.code

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(conn.head(self.code, {"Location": self.location}, 0))


@dataclass
class Late(Fault):
    """``seconds`` of silence, then ``then`` (the site's answer unless told): a slow server."""

    seconds: float
    then: Fault = field(default_factory=Normal)

    def __post_init__(self) -> None:
        self.well_formed = self.then.well_formed

    def describe(self) -> str:
        return f"Late({self.seconds:g}, {self.then.describe()})"

    def status(self, reply: Reply) -> int:
        return self.then.status(reply)

    async def wait(self, conn: Conn) -> None:
        await conn.sleep(self.seconds)
        await self.then.wait(conn)

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await self.then.serve(conn, reply)


@dataclass
class Hold(Fault):
    """Wait until ``gate`` is set (from any thread), then the site's answer: a crawl can be
    stopped with requests in flight. Gives up waiting after ``timeout`` seconds, or when the
    server stops."""

    gate: threading.Event
    timeout: float = 120.0

    async def wait(self, conn: Conn) -> None:
        # Polled: a threading.Event set by the test cannot be awaited on the server's loop.
        end = time.monotonic() + self.timeout
        while not self.gate.is_set() and time.monotonic() < end and not conn.stopping.is_set():
            await conn.sleep(0.01)


@dataclass
class ResetBefore(Fault):
    """Read the request, answer nothing, reset the connection."""

    well_formed = False

    def status(self, reply: Reply) -> int:
        return 0

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.reset()


@dataclass
class ResetAfter(Fault):
    """Headers and ``fraction`` of the body (the site's page, or ``body``), then a reset."""

    fraction: float = 0.5
    body: bytes | None = None
    well_formed = False

    def status(self, reply: Reply) -> int:
        return 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        body = reply.body if self.body is None else self.body
        await conn.send(
            conn.head(200, reply.headers, len(body)) + body[: int(len(body) * self.fraction)]
        )
        await conn.reset()


@dataclass
class SlowHeaders(Fault):
    """The status line and headers dribbled over ``seconds``, then the body at once."""

    seconds: float
    well_formed = False

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.dribble(conn.head(reply.status, reply.headers, len(reply.body)), self.seconds)
        await conn.send(reply.body)


@dataclass
class SlowBody(Fault):
    """Headers at once, then the body dribbled over ``seconds``."""

    seconds: float
    well_formed = False

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(conn.head(reply.status, reply.headers, len(reply.body)))
        await conn.dribble(reply.body, self.seconds)


@dataclass
class HangAfterHeaders(Fault):
    """Headers (announcing the whole body), then nothing until the client gives up."""

    well_formed = False

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(conn.head(reply.status, reply.headers, len(reply.body)))
        await conn.sleep(3600)


@dataclass
class ShortBody(Fault):
    """A Content-Length for the whole page, ``missing`` bytes fewer sent, then a clean close."""

    missing: int = 200
    well_formed = False

    def status(self, reply: Reply) -> int:
        return 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        body = reply.body
        await conn.send(
            conn.head(200, reply.headers, len(body)) + body[: max(0, len(body) - self.missing)]
        )
        conn.close()


@dataclass
class BrokenChunked(Fault):
    """``Transfer-Encoding: chunked`` with a valid first chunk, then a chunk size that is not
    hexadecimal, then a close."""

    well_formed = False

    def status(self, reply: Reply) -> int:
        return 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        half = reply.body[: len(reply.body) // 2]
        headers = {**reply.headers, "Transfer-Encoding": "chunked"}
        data = conn.head(200, headers, None) + _chunk(half) + b"zz-not-a-size\r\nrest\r\n"
        await conn.send(data)
        conn.close()


@dataclass
class Huge(Fault):
    """A 200 page of ``size`` bytes (the site's page padded with an HTML comment), streamed;
    with its Content-Length, or chunked (size unknown in advance) when ``chunked``."""

    size: int
    chunked: bool = False
    well_formed = False

    def status(self, reply: Reply) -> int:
        return 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        page = reply.body if reply.status == 200 else b"<html><body>x</body></html>"
        filler = max(0, self.size - len(page) - 7)
        pad = b"x" * 65536
        if not self.chunked:
            await conn.send(conn.head(200, reply.headers, len(page) + filler + 7) + page + b"<!--")
        else:
            headers = {**reply.headers, "Transfer-Encoding": "chunked"}
            await conn.send(conn.head(200, headers, None) + _chunk(page + b"<!--"))
        sent = 0
        while sent < filler:
            piece = pad[: min(len(pad), filler - sent)]
            await conn.send(_chunk(piece) if self.chunked else piece)
            sent += len(piece)
        await conn.send(_chunk(b"-->") + b"0\r\n\r\n" if self.chunked else b"-->")


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_BOMBS: dict[int, bytes] = {}


def gzip_bomb(size: int) -> bytes:
    """Gzip of ``size`` bytes of spaces (about 1/1000 of that on the wire), cached."""
    if size not in _BOMBS:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = b" " * (1 << 20)
        parts = [z.compress(block) for _ in range(size >> 20)]
        parts.append(z.flush())
        _BOMBS[size] = b"".join(parts)
    return _BOMBS[size]


@dataclass
class GzipBomb(Fault):
    """``Content-Encoding: gzip`` of ``size`` bytes that compress to a thousandth of that
    (compressed when the fault is made, not while the server's loop answers)."""

    size: int = 64 << 20
    well_formed = False

    def __post_init__(self) -> None:
        self.body = gzip_bomb(self.size)

    def status(self, reply: Reply) -> int:
        return 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        data = conn.head(200, {"Content-Encoding": "gzip"}, len(self.body)) + self.body
        await conn.send(data)


@dataclass
class Plan:
    """The faults for one path pattern, one per request, the last one repeating."""

    faults: list[Fault]
    served: int = 0
    """Requests answered by this plan so far."""

    def next(self) -> Fault:
        fault = self.faults[min(self.served, len(self.faults) - 1)]
        self.served += 1
        return fault
