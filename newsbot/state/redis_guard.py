"""A Redis client that, once the server is gone, says so once and then fails at once.

A distributed worker talks to Redis from everywhere: the scheduler on every turn of the engine,
the heartbeat, the pipelines, the feeds. When the server goes down, each of those calls used to
raise a connection error of its own (a traceback per engine turn, for ever: the engine never
ran out of work it could not ask for). :class:`GuardedRedis` wraps the client: the first
connection error or timeout becomes :class:`RedisUnavailable` and is reported once to
``on_lost`` (the run fails with ``redis_failed`` and stops); every later call raises the same
error without waiting for the network again, so the worker stops within a bounded time. It
leaves its leases to expire: the other workers (or the next one) take its work over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from newsbot.state.errors import StateUnavailable

T = TypeVar("T")


class RedisUnavailable(StateUnavailable):
    """The Redis server of a distributed crawl cannot be reached (down, refusing, timing out)."""


class GuardedRedis:
    """Proxy of a ``redis.Redis`` client (see module docs)."""

    def __init__(self, client: Any, where: str) -> None:
        import redis

        self.client = client
        self.where = where
        self.lost: RedisUnavailable | None = None
        #: Told once, with the first :class:`RedisUnavailable`.
        self.on_lost: Callable[[RedisUnavailable], None] | None = None
        self._network_errors = (redis.ConnectionError, redis.TimeoutError, OSError)

    def guard(self, call: Callable[[], T]) -> T:
        """``call()``, unless the server is known to be gone; a network error marks it gone."""
        if self.lost is not None:
            # A new exception each time: one raised again would carry every earlier traceback.
            raise RedisUnavailable(str(self.lost))
        try:
            return call()
        except self._network_errors as exc:
            self.lost = RedisUnavailable(
                f"Redis at {self.where} cannot be reached ({exc}); this worker stops, and what "
                "it held goes back to the queue when its lease expires (NEWSBOT_REDIS_LEASE)"
            )
            notify, self.on_lost = self.on_lost, None
            if notify is not None:
                notify(self.lost)
            raise RedisUnavailable(str(self.lost)) from None

    def pipeline(self, *args: Any, **kwargs: Any) -> GuardedPipeline:
        """A pipeline whose ``execute()`` is guarded: queued commands touch no network, and
        the reply of a server that died since the last call must fail like any other call."""
        return GuardedPipeline(self, self.client.pipeline(*args, **kwargs))

    def iterate(self, items: Iterator[T]) -> Iterator[T]:
        """``items`` (a ``*scan_iter`` generator) with each step guarded: its network calls
        happen while it is iterated, not when it is made."""
        while True:
            try:
                yield self.guard(lambda: next(items))
            except StopIteration:
                return

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr) or name == "register_script":
            # Scripts are run through guard() by their caller (RedisStateStore._run).
            return attr
        if name.endswith("scan_iter"):
            return lambda *args, **kwargs: self.iterate(attr(*args, **kwargs))
        return lambda *args, **kwargs: self.guard(lambda: attr(*args, **kwargs))


class GuardedPipeline:
    """Proxy of a ``redis`` pipeline whose ``execute()`` goes through :meth:`GuardedRedis.guard`."""

    def __init__(self, guard: GuardedRedis, pipe: Any) -> None:
        self._guard = guard
        self._pipe = pipe

    def execute(self) -> list[Any]:
        return self._guard.guard(self._pipe.execute)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._pipe, name)
        if not callable(attr):
            return attr

        def queue(*args: Any, **kwargs: Any) -> Any:
            # A queued command gives back the pipeline for chaining: this proxy, so that a
            # chained ``.execute()`` is guarded too.
            result = attr(*args, **kwargs)
            return self if result is self._pipe else result

        return queue
