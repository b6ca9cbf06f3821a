"""A fault-injecting HTTP/1.1 server for the reliability tests (asyncio, raw sockets).

:class:`FaultServer` answers like the local site copy (``tools/sitecopy.py``: robots.txt,
columns, synthetic and fixture articles) except on the paths a test gives a *plan*: a list of
:class:`Fault` s, one per request for that path, the last one repeating::

    with FaultServer() as server:
        server.plan(A, Status(503), Status(503), Normal())     # 5xx twice, then the page
        server.plan(B, ResetAfter(0.5))                        # reset mid-body, for ever
        run_crawl(server.root, f"url={A_URL},{B_URL}", ...)
        server.hits                                            # every request, in order

Unlike ``http.server`` it writes the bytes itself, so it can lie: reset a connection before or
in the middle of a body, dribble headers or a body, hang after the headers, send fewer bytes
than its Content-Length, break chunked encoding, send a page far over the size limit or a gzip
bomb. :meth:`FaultServer.refuse` closes the listening socket (connection refused) and
:meth:`FaultServer.listen` opens it again on the same port. Every answer says
``Connection: close``, so each request is a new connection and faults never leak into the
next request. Only loopback addresses can be bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import re
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from sitecopy import Hit, Reply, SiteCopy

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class Conn:
    """One accepted connection, as a fault sees it."""

    def __init__(self, writer: asyncio.StreamWriter, stopping: asyncio.Event) -> None:
        self.writer = writer
        self.stopping = stopping

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

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


def head(status: int, headers: dict[str, str], length: int | None) -> bytes:
    """Status line and headers; Content-Length when ``length`` is not None."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    merged = {"Content-Type": "text/html; charset=utf-8", **headers, "Connection": "close"}
    if length is not None:
        merged["Content-Length"] = str(length)
    lines += [f"{k}: {v}" for k, v in merged.items()]
    # Raw UTF-8, as servers send a Location with non-ASCII characters.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


@dataclass
class Fault:
    """How to answer one request. ``reply`` is what the site copy would have answered."""

    def describe(self) -> str:
        return type(self).__name__

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(head(reply.status, reply.headers, len(reply.body)) + reply.body)


@dataclass
class Normal(Fault):
    """The site copy's own answer."""


@dataclass
class Status(Fault):
    """Another status (and body, headers): ``Status(503)``, ``Status(429, headers=...)``."""

    status: int
    body: bytes = b"<html><body>unavailable</body></html>"
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"Status({self.status})"

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await Fault.serve(self, conn, Reply(self.status, self.body, self.headers))


@dataclass
class Page(Fault):
    """A given body (status 200 unless told), with the headers given (a charset, say)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await Fault.serve(self, conn, Reply(self.status, self.body, self.headers))


@dataclass
class Redirect(Fault):
    location: str
    status: int = 301

    def describe(self) -> str:
        return f"Redirect({self.status} {self.location})"

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(head(self.status, {"Location": self.location}, 0))


@dataclass
class ResetBefore(Fault):
    """Read the request, answer nothing, reset the connection."""

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.reset()


@dataclass
class ResetAfter(Fault):
    """Headers and ``fraction`` of the body (the site's page, or ``body``), then a reset."""

    fraction: float = 0.5
    body: bytes | None = None

    async def serve(self, conn: Conn, reply: Reply) -> None:
        body = reply.body if self.body is None else self.body
        await conn.send(
            head(200, reply.headers, len(body)) + body[: int(len(body) * self.fraction)]
        )
        await conn.reset()


@dataclass
class SlowHeaders(Fault):
    """The status line and headers dribbled over ``seconds``, then the body at once."""

    seconds: float

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.dribble(head(reply.status, reply.headers, len(reply.body)), self.seconds)
        await conn.send(reply.body)


@dataclass
class SlowBody(Fault):
    """Headers at once, then the body dribbled over ``seconds``."""

    seconds: float

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(head(reply.status, reply.headers, len(reply.body)))
        await conn.dribble(reply.body, self.seconds)


@dataclass
class HangAfterHeaders(Fault):
    """Headers (announcing the whole body), then nothing until the client gives up."""

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(head(reply.status, reply.headers, len(reply.body)))
        await conn.sleep(3600)


@dataclass
class ShortBody(Fault):
    """A Content-Length for the whole page, ``missing`` bytes fewer sent, then a clean close."""

    missing: int = 200

    async def serve(self, conn: Conn, reply: Reply) -> None:
        body = reply.body
        await conn.send(
            head(200, reply.headers, len(body)) + body[: max(0, len(body) - self.missing)]
        )
        conn.writer.close()


@dataclass
class BrokenChunked(Fault):
    """``Transfer-Encoding: chunked`` with a valid first chunk, then a chunk size that is not
    hexadecimal, then a close."""

    async def serve(self, conn: Conn, reply: Reply) -> None:
        half = reply.body[: len(reply.body) // 2]
        headers = {**reply.headers, "Transfer-Encoding": "chunked"}
        chunk = f"{len(half):x}\r\n".encode() + half + b"\r\n"
        await conn.send(head(200, headers, None) + chunk + b"zz-not-a-size\r\nrest\r\n")
        conn.writer.close()


@dataclass
class Huge(Fault):
    """A 200 page of ``size`` bytes (the site's page padded with an HTML comment), streamed;
    with its Content-Length, or chunked (size unknown in advance) when ``chunked``."""

    size: int
    chunked: bool = False

    async def serve(self, conn: Conn, reply: Reply) -> None:
        page = reply.body if reply.status == 200 else b"<html><body>x</body></html>"
        filler = max(0, self.size - len(page) - 7)
        pad = b"x" * 65536
        if not self.chunked:
            await conn.send(head(200, reply.headers, len(page) + filler + 7) + page + b"<!--")
        else:
            headers = {**reply.headers, "Transfer-Encoding": "chunked"}
            await conn.send(head(200, headers, None) + _chunk(page + b"<!--"))
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

    def __post_init__(self) -> None:
        self.body = gzip_bomb(self.size)

    async def serve(self, conn: Conn, reply: Reply) -> None:
        await conn.send(head(200, {"Content-Encoding": "gzip"}, len(self.body)) + self.body)


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)


@dataclass
class Plan:
    faults: list[Fault]
    served: int = 0

    def next(self) -> Fault:
        fault = self.faults[min(self.served, len(self.faults) - 1)]
        self.served += 1
        return fault


class _Tree(SiteCopy):
    """The site copy's answers without its own server: links and redirects name the fault
    server's root."""

    def __init__(self, host: str, port: int, **options: Any) -> None:
        super().__init__(host, 0, **options)
        self._server.server_close()
        self._host, self._port = host, port

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port


class FaultServer:
    """The server (see the module docs). Use as a context manager.

    ``site_options`` go to the site copy that makes the normal answers (``offsite_root``,
    ``volume``…). ``tls`` is an ``ssl.SSLContext`` to serve https instead of http.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        answer: Callable[[Hit], Reply] | None = None,
        **site_options: Any,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the fault server binds loopback addresses only, not {host}")
        self.host = host
        self.tls = tls
        self.hits: list[Hit] = []
        #: ``(path, fault)`` for every request answered by a plan, in order.
        self.faults: list[tuple[str, str]] = []
        self._plans: list[tuple[re.Pattern[str], Plan]] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self.port = self._listener.getsockname()[1]
        self.site = _Tree(host, self.port, **site_options)
        #: What a request without a plan is answered: the site copy's answer by default.
        self.answer: Callable[[Hit], Reply] = answer or self.site.answer
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._outage: tuple[re.Pattern[str], int] | None = None

    @property
    def root(self) -> str:
        scheme = "https" if self.tls else "http"
        default = 443 if self.tls else 80
        return f"{scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")

    # -- running ---------------------------------------------------------------------------

    def start(self) -> FaultServer:
        self._thread.start()
        self._call(self._setup())
        self.listen()
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._teardown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._listener.close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def listen(self) -> None:
        """Accept connections (again, after :meth:`refuse`) on the same port."""
        if self._listener.fileno() == -1:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((self.host, self.port))
        self._listener.listen(64)
        self._call(self._serve())

    def go_down_after(self, n: int, pattern: str = ".*") -> None:
        """Serve ``n`` requests whose path matches ``pattern``; at the next one, reset it and
        refuse every connection from then on (until :meth:`listen`)."""
        with self._lock:
            self._outage = (re.compile(pattern), n)

    def refuse(self) -> None:
        """Close the listening socket: new connections are refused (RST to the SYN)."""
        self._call(self._close_server())
        self._listener.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _setup(self) -> None:
        self._stopping = asyncio.Event()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, sock=self._listener, ssl=self.tls
        )

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _teardown(self) -> None:
        assert self._stopping is not None
        self._stopping.set()
        await self._close_server()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- for tests -------------------------------------------------------------------------

    def plan(self, pattern: str, *faults: Fault) -> None:
        """Answer requests whose path (with query) fully matches the regex ``pattern`` with
        these faults in turn, the last one for ever. Later plans win."""
        with self._lock:
            self._plans.insert(0, (re.compile(pattern), Plan(list(faults))))

    def paths(self) -> list[str]:
        with self._lock:
            return [h.path for h in self.hits]

    def count(self, path: str) -> int:
        """Requests for exactly this path (with query)."""
        return self.paths().count(path)

    def wait_hits(self, n: int, timeout: float = 60) -> bool:
        """Wait until ``n`` requests have arrived; False on timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.hits) >= n:
                return True
            time.sleep(0.01)
        return False

    # -- answering -------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._stopping is not None
        self._tasks.add(task)
        try:
            hit = await _read_request(reader, f"{self.host}:{self.port}")
            if hit is None:
                return
            with self._lock:
                self.hits.append(hit)
                down = self._outage_starts(hit)
            if down:
                await self._close_server()
                self._listener.close()
                await Conn(writer, self._stopping).reset()
                return
            with self._lock:
                fault = next((p.next() for rx, p in self._plans if rx.fullmatch(hit.path)), None)
                if fault is not None:
                    self.faults.append((hit.path, fault.describe()))
            reply = self.answer(hit)
            fault = fault or Normal()
            hit.status = getattr(fault, "status", reply.status)
            await fault.serve(Conn(writer, self._stopping), reply)
        except (ConnectionError, asyncio.CancelledError, ssl.SSLError, OSError):
            pass  # the client went away, or the server is stopping: nothing to answer
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    def _outage_starts(self, hit: Hit) -> bool:
        if self._outage is None:
            return False
        pattern, left = self._outage
        if not pattern.fullmatch(hit.path):
            return False
        if left:
            self._outage = (pattern, left - 1)
            return False
        self._outage = None
        return True


async def _read_request(reader: asyncio.StreamReader, server: str) -> Hit | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    path = target if target.startswith("/") else (urlsplit(target).path or "/")
    return Hit(method, path, headers, body, server=server)


def self_signed(directory: Path, names: Sequence[str]) -> ssl.SSLContext:
    """A server TLS context with a throwaway self-signed certificate for ``names`` (Scrapy,
    like browsers' ``curl -k``, does not verify certificates by default)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
