"""The server core: HTTP/1.1 on a loopback address, one asyncio loop in a thread.

A :class:`Server` reads each request into a :class:`~testsite.wire.Hit` (kept in ``hits`` and,
with ``hit_log``, appended to a JSON Lines file), asks what to answer — the newest
:meth:`Server.route` handler that matches, else the site's own :meth:`Server.respond` — and
writes that answer, or what the request's fault plan (:meth:`Server.plan`,
:mod:`testsite.faults`) makes of it. It writes the bytes itself, so a fault can lie.

Each site is a subclass that says what each path answers (``respond``): the copy of the site
(:class:`testsite.sitecopy.SiteCopy`), the delivery tests' site
(:class:`testsite.delivery.DeliverySite`), the benchmarks' volume site
(:class:`testsite.synthetic.SyntheticSite`). A bare ``Server`` answers 404 to everything, and
records what it was asked: a trap for requests that must not happen.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from testsite.faults import Fault, Normal, Plan
from testsite.wire import Conn, Hit, Reply

Handler = Callable[[Hit], "Reply | None"]
_T = TypeVar("_T")
_NORMAL = Normal()


class Server:
    """A loopback HTTP/1.1 server. Use as a context manager, or :meth:`start` / :meth:`stop`.

    It binds when made (``port`` 0: a free one; ``self.port`` says which), serves once started.
    ``keep_alive=False`` answers one request per connection: a server under fault injection
    should, since Twisted silently sends a request again when a reused connection breaks
    before the answer, which would add requests the test did not plan. ``tls`` (an
    ``ssl.SSLContext``) serves https. ``latency`` delays every answer by that many seconds;
    ``capacity`` (set before :meth:`start`) makes the server work on at most that many answers at
    once, as a slow origin does: a test that needs a crawl to take long does not then depend on
    how many requests the client keeps in flight.
    ``record=False`` keeps no hits (a volume site). Only loopback addresses can be bound.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        keep_alive: bool = True,
        tls: ssl.SSLContext | None = None,
        latency: float = 0.0,
        capacity: int | None = None,
        hit_log: Path | None = None,
        record: bool = True,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the test site binds loopback addresses only, not {host}")
        self.host = host
        self.keep_alive = keep_alive
        self.tls = tls
        self.latency = latency
        self.capacity = capacity
        self._busy: asyncio.Semaphore | None = None
        self.hit_log = hit_log
        self.record = record
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._routes: list[tuple[re.Pattern[str], Handler]] = []
        self._plans: list[tuple[re.Pattern[str], Plan]] = []
        self._outage: tuple[re.Pattern[str], int] | None = None
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = self._bind(port)
        self.port: int = self._listener.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle: set[asyncio.StreamWriter] = set()

    # -- where -----------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT``: what NEWSBOT_SITE_ROOT should be."""
        scheme, default = ("https", 443) if self.tls else ("http", 80)
        host = f"[{self.host}]" if self._family == socket.AF_INET6 else self.host
        return f"{scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    # -- running ---------------------------------------------------------------------------

    def start(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"testsite {self.root}", daemon=True
        )
        self._thread.start()
        self._call(self._setup())
        self.listen()
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            self._listener.close()
            return
        self._call(self._teardown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._listener.close()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (command-line use), starting if need be."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            self._thread.join()
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def listen(self) -> None:
        """Accept connections (again, after :meth:`refuse`) on the same port."""
        if self._listener.fileno() == -1:
            self._listener = self._bind(self.port)
        self._listener.listen(128)
        self._call(self._open())

    def refuse(self) -> None:
        """Close the listening socket and the idle connections: every new connection is
        refused (RST to the SYN) until :meth:`listen`."""
        self._call(self._close())

    def go_down_after(self, n: int, pattern: str = ".*") -> None:
        """Serve ``n`` requests whose path matches ``pattern``; at the next one, reset it and
        refuse every connection from then on (until :meth:`listen`)."""
        with self._lock:
            self._outage = (re.compile(pattern), n)

    # -- shaping the answers ----------------------------------------------------------------

    def route(self, pattern: str, handler: Handler) -> None:
        """Answer requests whose path (with query) fully matches the regex ``pattern`` with
        ``handler(hit)``; a handler returning None falls through to the site. Later routes
        win. Handlers run on the server's loop: they must not block (a ``Reply`` can carry a
        ``delay``)."""
        with self._lock:
            self._routes.insert(0, (re.compile(pattern), handler))

    def plan(self, pattern: str, *faults: Fault) -> Plan:
        """Answer requests whose path (with query) fully matches the regex ``pattern`` with
        these faults in turn, the last one for ever (:mod:`testsite.faults`). Later plans
        win."""
        made = Plan(list(faults))
        with self._lock:
            self._plans.insert(0, (re.compile(pattern), made))
        return made

    def respond(self, hit: Hit) -> Reply:
        """The site's own answer; subclasses are the sites."""
        return Reply(404, b"not found")

    def answer(self, hit: Hit) -> Reply:
        """The answer to ``hit``, faults aside: the newest matching route, else the site's."""
        with self._lock:
            routes = list(self._routes)
        for pattern, handler in routes:
            if pattern.fullmatch(hit.path):
                reply = handler(hit)
                if reply is not None:
                    return reply
        return self.respond(hit)

    def answer_path(self, path: str, method: str = "GET", body: bytes = b"") -> Reply:
        """What the server answers to ``method path`` (no socket, nothing recorded)."""
        return self.answer(Hit(method, path, {}, body))

    # -- what was asked ----------------------------------------------------------------------

    def paths(self, method: str | None = None) -> list[str]:
        """Paths requested, in order (with queries)."""
        with self._lock:
            return [h.path for h in self.hits if method is None or h.method == method]

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

    # -- the loop ----------------------------------------------------------------------------

    def _bind(self, port: int) -> socket.socket:
        listener = socket.socket(self._family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, port))
        except OSError:
            listener.close()
            raise
        return listener

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        assert self._loop is not None, "the server is not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _setup(self) -> None:
        self._stopping = asyncio.Event()
        if self.capacity is not None:
            self._busy = asyncio.Semaphore(self.capacity)

    async def _open(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, sock=self._listener, ssl=self.tls, backlog=128
        )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._listener.close()
        for writer in list(self._idle):
            writer.transport.abort()

    async def _teardown(self) -> None:
        assert self._stopping is not None
        self._stopping.set()
        await self._close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._stopping is not None
        self._tasks.add(task)
        try:
            keep = True
            while keep:
                self._idle.add(writer)
                request = await _read_request(reader, f"{self.host}:{self.port}")
                self._idle.discard(writer)
                if request is None:
                    return
                hit, client_keeps = request
                keep = await self._answer(hit, writer, self._stopping, client_keeps)
        except (ConnectionError, asyncio.CancelledError, ssl.SSLError, OSError):
            pass  # the client went away, or the server is stopping: nothing to answer
        finally:
            self._idle.discard(writer)
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _answer(
        self, hit: Hit, writer: asyncio.StreamWriter, stopping: asyncio.Event, client_keeps: bool
    ) -> bool:
        """Answer one request; whether the connection serves another."""
        with self._lock:
            if self.record:
                self.hits.append(hit)
            down = self._outage_starts(hit)
            fault = next((p.next() for rx, p in self._plans if rx.fullmatch(hit.path)), None)
        if down:
            await self._close()
            await Conn(writer, stopping).reset()
            return False
        if fault is None:
            fault = _NORMAL
        else:
            hit.fault = fault.describe()
        keep = self.keep_alive and fault.well_formed and client_keeps
        conn = Conn(writer, stopping, keep_alive=keep, head_only=hit.method == "HEAD")
        await fault.wait(conn)
        reply = self.answer(hit)
        if self._busy is not None:
            async with self._busy:
                await conn.sleep(reply.delay + self.latency)
        elif reply.delay or self.latency:
            await conn.sleep(reply.delay + self.latency)
        hit.status = fault.status(reply)
        if self.hit_log:
            with self._lock, self.hit_log.open("a", encoding="utf-8") as log:
                log.write(json.dumps(hit.to_dict(), ensure_ascii=False) + "\n")
        await fault.serve(conn, reply)
        return keep and not writer.is_closing()

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


async def _read_request(reader: asyncio.StreamReader, server: str) -> tuple[Hit, bool] | None:
    """The next request on a connection and whether the client would keep the connection,
    or None when the client closed it (or sent something that is not HTTP)."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    request_line = lines[0].split(" ")
    if len(request_line) != 3 or not request_line[2].startswith("HTTP/"):
        return None
    method, target, version = request_line
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    if not target.startswith("/"):  # absolute form (a proxy's request): keep path and query
        url = urlsplit(target)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    elif target.startswith("//"):
        target = "/" + target.lstrip("/")
    connection = headers.get("connection", "").lower()
    keeps = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
    return Hit(method, target, headers, body, server=server), keeps
