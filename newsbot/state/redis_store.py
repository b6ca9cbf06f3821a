"""The delivery record in Redis, shared by the workers of a distributed crawl.

:class:`RedisStateStore` answers everything :class:`~newsbot.state.store.StateStore` answers (the
state extension, the delivery middleware and pipeline, and the feed storage use either one
unchanged), with the same guarantees, for many processes at once. It also keeps the books of the
shared crawl: who holds which request and article, the job the workers share, the publish
intents. Like the SQLite store it knows nothing about Scrapy; the scheduler and the components in
:mod:`newsbot.distributed` drive it.

How the guarantees are kept (every step is one Lua script, see :mod:`newsbot.state.redis_lua`):

- **One worker per article at a time.** Popping an article request from the shared queue makes
  the popping worker its *owner*; nobody else fetches it while it is owned or queued. The owner
  claims it before an exporter writes it (:meth:`claim`), and :meth:`begin_publish` checks that
  it still owns every record in the file before the file is renamed into place. An owner that
  lost its lease (it stalled, others took its work over) can neither claim nor publish.
- **Publish intents**, as in SQLite: the intent is recorded before the rename and settled after
  it; a worker that dies in between leaves the intent, which the next worker on the same host
  settles by looking at the file (:meth:`recover`).
- **Nothing is lost.** A worker is alive while its ``alive`` key (renewed by :meth:`heartbeat`)
  has not expired. Requests it popped are *leased*; articles it owns are held with the request
  that asked for them. When a worker retires, or another one reaps it after its lease expired,
  all of that goes back into the queue.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from newsbot.processors import BEIJING
from newsbot.state.errors import StateCorrupt, StateError, StateMissing, StateUnavailable
from newsbot.state.files import remove_temp
from newsbot.state.model import (
    ArticleState,
    Delivery,
    PublishEntry,
    Recovery,
    epoch,
    key,
    url_date_key,
    url_date_str,
)
from newsbot.state.redis_guard import GuardedRedis
from newsbot.state.redis_lua import SCRIPTS

STATE_CODES = {"pending": 0, "exported": 1, "dropped": 2, "failed": 3}
#: Field of the ``meta`` hash set while ``scrapy state rebuild`` fills the state: workers refuse
#: a state whose rebuild has not finished (it would look whole and deliver the rest again).
REBUILDING = "rebuilding"
STATE_NAMES = {v: k for k, v in STATE_CODES.items()}


class LeaseLost(StateError):
    """This worker's lease expired and its work was handed to others: it must stop."""


@dataclass
class Joined:
    """What :meth:`RedisStateStore.join` found: the job this worker works on."""

    how: str
    """``created`` (this worker made the job), ``joined`` or ``busy`` (seeding refused)."""
    job: str
    arguments: dict[str, str]


def default_worker_id() -> str:
    """``host-pid``: unique among live workers, and the host says where its files are."""
    return f"{safe_id(socket.gethostname())}-{os.getpid()}"


def safe_id(value: str) -> str:
    """A worker id or host name made fit for keys and file names.

    >>> safe_id("node 1.example/x")
    'node_1.example_x'
    """
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in value)
    return cleaned.strip("._-")[:64] or "worker"


def redacted(url: str) -> str:
    """A Redis URL without its password, for logs.

    >>> redacted("redis://:secret@10.0.0.5:6379/0")
    'redis://***@10.0.0.5:6379/0'
    """
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


class RedisStateStore:
    """The state store of a distributed crawl (see module docs).

    ``url``: the Redis server (``redis://host:port/db``, ``unix:///path``); ``prefix``: the key
    prefix of this crawl's data; ``worker_id``: this process among the workers (default
    ``host-pid``); ``lease``: seconds a worker stays alive without a heartbeat.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "newsbot",
        worker_id: str | None = None,
        host: str | None = None,
        lease: float = 30.0,
        marker_dir: str | os.PathLike[str] | None = None,
        create: bool | None = None,
    ) -> None:
        import redis  # the [distributed] extra; not needed on one machine

        self.url = url
        self.prefix = prefix
        self.worker = safe_id(worker_id) if worker_id else default_worker_id()
        self.host = safe_id(host or socket.gethostname())
        self.lease = lease
        self.token = secrets.token_hex(8)
        self.directory = f"{redacted(url)} ({prefix})"  # where the record is, for messages
        self.joined: Joined | None = None
        self.registered = False
        self.closed = False
        # decode_responses: every reply is text (redis-py's types cannot say so).
        self.redis: Any
        try:
            client = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=30, socket_connect_timeout=10
            )
            client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise StateError(
                f"cannot use Redis at {redacted(url)} (NEWSBOT_REDIS_URL): {exc}"
            ) from exc
        # Once the server is gone, every call fails at once with one RedisUnavailable.
        self.redis = GuardedRedis(client, redacted(url))
        self._scripts = {name: client.register_script(body) for name, body in SCRIPTS.items()}
        if create is not True:
            started = self.redis.hget(self.k("meta"), REBUILDING)
            if started is not None:
                raise StateCorrupt(
                    f"the delivery state under {self.directory} is being rebuilt, or a rebuild "
                    f"started {_iso(started)} was stopped before it ended: it may hold only part "
                    "of what was delivered, so this run stops. Run `scrapy state rebuild "
                    "--force -s NEWSBOT_REDIS_URL=... OUTPUT_FILES...` to the end."
                )
        if marker_dir is not None:
            self._check_created(Path(marker_dir), create)
        if self.redis.hget(self.k("meta"), "destinations_since") is None:
            # Data from before destinations were kept: their files may be adopted (see adopt).
            since = int(time.time()) if self.redis.hlen(self.k("a")) else 0
            self.redis.hsetnx(self.k("meta"), "destinations_since", since)

    def _check_created(self, directory: Path, create: bool | None) -> None:
        """Never start over silently: a machine that worked with this state remembers it (a
        marker in its NEWSBOT_STATE_DIR), and refuses to go on when the state is gone (a
        flushed or replaced Redis would deliver every article again). ``create``: as in
        :class:`StateStore` (``True``: the rebuild command)."""
        digest = hashlib.sha1(f"{redacted(self.url)}|{self.prefix}".encode()).hexdigest()[:12]
        marker = directory / f"redis-{digest}.json"
        created = self.redis.hget(self.k("meta"), "created")
        if created is None:
            known = json.loads(marker.read_text("utf-8")) if marker.exists() else None
            if known is not None and not create:
                raise StateMissing(
                    f"the delivery state under {self.directory} is gone, but this machine "
                    f"worked with it (created {_iso(known.get('created'))}; {marker}). A new "
                    "one would deliver every article again, so this run stops. If the Redis "
                    "data is really lost, rebuild it from the files delivered: `scrapy state "
                    "rebuild -s NEWSBOT_REDIS_URL=... OUTPUT_FILES...` "
                    "(README.md, Distributed crawling)"
                )
            if create is False:
                raise StateMissing(f"there is no newsbot state under {self.directory}")
            if create is True:
                # The rebuild: workers refuse the state until it has been filled.
                self.redis.hset(self.k("meta"), REBUILDING, int(time.time()))
            self.redis.hsetnx(self.k("meta"), "created", int(time.time()))
            created = self.redis.hget(self.k("meta"), "created")
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"redis": redacted(self.url), "prefix": self.prefix, "created": created})
        temp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
        temp.write_text(text + "\n", "utf-8")
        os.replace(temp, marker)

    def delete_all(self) -> int:
        """Remove every key of this prefix (``scrapy state rebuild --force``); refused while a
        worker is alive."""
        alive = [w for w in self.redis.smembers(self.k("workers")) if self._alive(w)]
        if alive:
            raise StateError(f"workers are alive ({', '.join(sorted(alive))}): stop them first")
        n = 0
        for name in self.redis.scan_iter(match=f"{self.prefix}:*", count=1000):
            n += self.redis.delete(name)
        return n

    def k(self, name: str) -> str:
        """The full key of ``name`` under this crawl's prefix."""
        return f"{self.prefix}:{name}"

    def _run(self, script: str, *args: Any) -> Any:
        return self.redis.guard(lambda: self._scripts[script](args=[self.prefix, *args]))

    @property
    def on_write_error(self) -> Callable[[StateUnavailable], None] | None:
        """Called once when the server cannot be reached (as the SQLite store's hook is when
        its filesystem refuses a write)."""
        return self.redis.on_lost

    @on_write_error.setter
    def on_write_error(self, callback: Callable[[StateUnavailable], None] | None) -> None:
        self.redis.on_lost = callback

    # -- the worker -------------------------------------------------------------------------

    def register(self, pid: int | None = None) -> tuple[int, int, int]:
        """Become a live worker; raise :class:`StateError` if a live worker has this id.
        Returns what an earlier process with this id left (requests, articles handed back,
        articles held in its publish intents)."""
        got = self._run(
            "register",
            self.worker,
            self.token,
            int(self.lease * 1000),
            self.host,
            pid or os.getpid(),
            int(time.time()),
        )
        if not got[0]:
            raise StateError(
                f"worker id {self.worker!r} is in use by a live worker on {self.directory} (or "
                f"a process with that id died less than {self.lease:g} s ago): give this worker "
                "another NEWSBOT_WORKER_ID, or wait"
            )
        self.registered = True
        return int(got[1]), int(got[2]), int(got[3])

    def heartbeat(self) -> bool:
        """Renew this worker's lease; False when it had already expired (the worker must stop:
        others may have taken its work over)."""
        return bool(self._run("heartbeat", self.worker, self.token, int(self.lease * 1000)))

    def join(self, arguments: dict[str, str], *, create_only: bool = False) -> Joined:
        """Join the job the workers share, or create it with these spider arguments."""
        how, job, args = self._run(
            "join",
            self.worker,
            json.dumps(arguments, ensure_ascii=False, sort_keys=True),
            int(time.time()),
            "1" if create_only else "0",
        )
        joined = Joined(how, job, json.loads(args) if args else {})
        if how != "busy":
            self.joined = joined
        return joined

    def end_seeding(self) -> None:
        self._run("end_seeding", self.worker)

    def verdict(self) -> str:
        """What an idle worker should do (see ``VERDICT`` in :mod:`newsbot.state.redis_lua`)."""
        if self.joined is None:
            return "gone"
        return str(self._run("verdict", self.worker, self.joined.job, int(self.lease * 1000)))

    def dead_workers(self) -> list[str]:
        """Workers whose lease expired and that nobody has reaped yet."""
        workers = sorted(self.redis.smembers(self.k("workers")))
        if not workers:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for w in workers:
            pipe.exists(self.k(f"w:{w}:alive"))
        return [w for w, alive in zip(workers, pipe.execute(), strict=True) if not alive]

    def reap(self, worker: str) -> tuple[int, int, int] | None:
        """Hand back what a dead worker held; None if it was alive or reaped by someone else.
        Returns (requests requeued, articles handed back, articles held in its intents)."""
        got = self._run("reap", worker)
        if not got[0]:
            return None
        return int(got[1]), int(got[2]), int(got[3])

    def retire(self) -> tuple[int, int, bool]:
        """Leave the crawl: what this worker still holds goes back to the queue; the last
        worker of a drained job ends it. Returns (requests, articles handed back, ended)."""
        got = self._run("retire", self.worker, self.token, "1" if self.joined is not None else "0")
        self.registered = False
        return int(got[0]), int(got[1]), bool(got[2])

    # -- the queue ---------------------------------------------------------------------------

    def push(self, score: float, member: str, article_id: str, force: bool, lease: str) -> bool:
        """Queue a request (``member``: ``ARTICLE_ID|FORCE|REQUEST``); False when it is not
        needed: its article is queued, being fetched, or delivered (unless ``force``)."""
        got = self._run(
            "push", self.worker, score, member, article_id, "1" if force else "0", lease
        )
        return bool(got)

    def pop(self, max_skip: int = 50) -> tuple[str, str] | None:
        """The next request (member, lease: ``own`` for an article now owned), or None."""
        while True:
            got = self._run("pop", self.worker, max_skip)
            if got[0] == 1:
                return str(got[1]), str(got[2])
            if got[0] == 0:
                return None

    def queue_size(self) -> int:
        return int(self.redis.zcard(self.k("requests")))

    def release_lease(self, lease: str) -> None:
        """A popped request (not an article) is done: its outcome is in the queue."""
        self._run("release_lease", self.worker, lease)

    def release(self, article_id: str) -> None:
        """This worker stops fetching the article without exporting it (unchanged, repeated,
        no record): it is not owned any more."""
        self._run("release", self.worker, str(key(article_id)))

    def claim(self, article_id: str, revision: int) -> str:
        """Before a record is written: ``ok`` (this worker exports it), ``elsewhere`` (another
        worker owns it), ``exported`` (already delivered at this revision). Raises
        :class:`LeaseLost` when this worker's lease expired."""
        got = str(self._run("claim", self.worker, self.token, str(key(article_id)), revision))
        if got == "lost":
            raise LeaseLost(self._lost_message())
        return got

    def orphans(self, limit: int = 200) -> list[tuple[str, str | None, str | None]]:
        """``(article_id, url_date, column)`` of articles handed back without a request."""
        ids = self.redis.srandmember(self.k("orphans"), limit) or []
        out = []
        for ident in ids:
            state = self.get(ident)
            if state is None or state.state in ("exported", "dropped") or not state.url_date:
                self.redis.srem(self.k("orphans"), ident)
                continue
            out.append((ident, url_date_str(state.url_date), state.column))
        return out

    def _lost_message(self) -> str:
        return (
            f"worker {self.worker} lost its lease on {self.directory} (no heartbeat for "
            f"{self.lease:g} s): its work was handed to the other workers, so it stops"
        )

    # -- reading -----------------------------------------------------------------------------

    def _record(self, article_id: str | int) -> dict[str, Any] | None:
        raw = self.redis.hget(self.k("a"), str(key(article_id)))
        return json.loads(raw) if raw else None

    def state_of(self, article_id: str | int) -> str | None:
        r = self._record(article_id)
        return STATE_NAMES[r["s"]] if r else None

    def is_settled(self, article_id: str | int) -> bool:
        r = self._record(article_id)
        return bool(r) and r["s"] in (1, 2)  # type: ignore[index]

    def get(self, article_id: str | int) -> ArticleState | None:
        r = self._record(article_id)
        if r is None:
            return None
        digest = r.get("h")
        return ArticleState(
            str(key(article_id)),
            STATE_NAMES[r["s"]],
            r.get("r"),
            int(r.get("n", 0)),
            int(r.get("t", 0)),
            int(r.get("u", 0)),
            r.get("d"),
            r.get("p"),
            r.get("c"),
            int(r.get("v", 0)),
            bytes.fromhex(digest) if digest else None,
            r.get("f"),
        )

    def counts(self) -> dict[str, int]:
        got = self.redis.hgetall(self.k("counts"))
        return {name: int(got.get(name, 0)) for name in STATE_CODES}

    def reasons(self, state: str) -> dict[str, int]:
        prefix = f"{state}:"
        return {
            name[len(prefix) :]: int(n)
            for name, n in self.redis.hgetall(self.k("reasons")).items()
            if name.startswith(prefix) and int(n) > 0
        }

    def open_articles(self, max_attempts: int) -> Iterator[tuple[str, str | None, str | None]]:
        """Pending articles and failed ones with fewer than ``max_attempts`` attempts that are
        neither queued nor in a worker's hands: what the crawl still owes."""
        ids = sorted(self.redis.sscan_iter(self.k("open"), count=1000), key=int, reverse=True)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            pipe = self.redis.pipeline(transaction=False)
            pipe.hmget(self.k("a"), chunk)
            pipe.hmget(self.k("own"), chunk)
            for ident in chunk:
                pipe.sismember(self.k("queued"), ident)
            records, owners, *queued = pipe.execute()
            for ident, raw, owned, in_queue in zip(chunk, records, owners, queued, strict=True):
                if raw is None or owned is not None or in_queue:
                    continue
                r = json.loads(raw)
                if r["s"] == 0 or (r["s"] == 3 and int(r.get("n", 0)) < max_attempts):
                    yield ident, url_date_str(r.get("d")), r.get("c")

    def failed_articles(self) -> Iterator[ArticleState]:
        """Every article left failed (the dead-letter list), most recently tried first."""
        rows = []
        for ident in self.redis.sscan_iter(self.k("open"), count=1000):
            row = self.get(ident)
            if row is not None and row.state == "failed":
                rows.append(row)
        rows.sort(key=lambda r: (r.updated_at, int(r.article_id)), reverse=True)
        yield from rows

    def files_published_since(self, since: int) -> list[tuple[str, int]]:
        """``(path, records)`` of the files this worker published at or after ``since``."""
        out = []
        for path, raw in self.redis.hscan_iter(self.k("files"), count=1000):
            info = json.loads(raw)
            if info["w"] == self.worker and info["t"] >= since:
                out.append((path, int(info["n"])))
        return sorted(out)

    def exported_since(self, since: dt.datetime) -> Iterator[tuple[str, str | None, str | None]]:
        ids = self.redis.zrevrangebyscore(self.k("recent"), "+inf", epoch(since) or 0)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for ident, raw in zip(chunk, self.redis.hmget(self.k("a"), chunk), strict=True):
                r = json.loads(raw) if raw else None
                if r and r["s"] == 1:
                    yield ident, url_date_str(r.get("d")), r.get("c")

    def delivered(self, article_id: str | int) -> tuple[int, bytes | None] | None:
        r = self._record(article_id)
        if not r or r["s"] != 1:
            return None
        digest = r.get("h")
        return int(r.get("v", 0)), bytes.fromhex(digest) if digest else None

    def destination_revision(self, destination: str, article_id: str | int) -> int | None:
        raw = self.redis.hget(self.k(f"dest:{destination}"), str(article_id))
        return None if raw is None else int(raw)

    def adopt(self, destination: str, pattern: str) -> int:
        """As :meth:`StateStore.adopt`: a destination never seen takes the articles of the
        files published before destinations were kept that ``pattern`` matches."""
        dest_key = self.k(f"dest:{destination}")
        if self.redis.exists(dest_key):
            return 0
        since = int(self.redis.hget(self.k("meta"), "destinations_since") or 0)
        if not since:
            return 0
        files: dict[str, bool] = {}
        given: dict[str, int] = {}
        for ident, raw in self.redis.hscan_iter(self.k("a"), count=1000):
            r = json.loads(raw)
            path = r.get("f")
            if r.get("s") != 1 or not path:
                continue
            if path not in files:
                info = self.redis.hget(self.k("files"), path)
                old = info is not None and int(json.loads(info).get("t", 0)) <= since
                files[path] = old and fnmatch.fnmatchcase(path, pattern)
            if files[path]:
                given[str(ident)] = int(r.get("v", 0))
        if given:
            self.redis.hset(dest_key, mapping=given)
        return len(given)

    def files_adoptable(self) -> None:
        self.redis.hset(self.k("meta"), "destinations_since", int(time.time()))

    def note_destination(self, destination: str, deliveries: Iterable[Delivery]) -> None:
        deliveries = list(deliveries)
        if deliveries:
            self._run(
                "give", destination, json.dumps([[d.article_id, d.revision] for d in deliveries])
            )

    def high_water_mark(self, column: str) -> dt.datetime | None:
        raw = self.redis.hget(self.k("marks"), column)
        return dt.datetime.fromtimestamp(int(raw), BEIJING) if raw else None

    def columns_with_marks(self) -> list[str]:
        return sorted(self.redis.hkeys(self.k("marks")))

    # -- writing -----------------------------------------------------------------------------

    def discovered(
        self,
        article_id: str | int,
        *,
        url_date: str | None = None,
        column: str | None = None,
        now: int | None = None,
    ) -> bool:
        got = self._run(
            "discovered",
            str(key(article_id)),
            url_date_key(url_date) or "",
            column or "",
            int(time.time()) if now is None else now,
        )
        return bool(got)

    def failed(self, article_id: str | int, reason: str, *, url_date: str | None = None) -> str:
        return str(
            self._run(
                "failed",
                self.worker,
                str(key(article_id)),
                reason,
                url_date_key(url_date) or "",
                int(time.time()),
            )
        )

    def dropped(self, article_id: str | int, reason: str, *, url_date: str | None = None) -> str:
        return str(
            self._run(
                "dropped",
                self.worker,
                str(key(article_id)),
                reason,
                url_date_key(url_date) or "",
                int(time.time()),
            )
        )

    def first_with_text(self, text_hash: int, article_id: str | int) -> str | None:
        got = self._run("first_with_text", str(text_hash), str(key(article_id)))
        return str(got) if got else None

    def set_high_water_mark(self, column: str, mark: int) -> None:
        self._run("set_mark", column, int(mark))

    def commit(self) -> None:
        """Every write is committed at once (nothing is batched)."""

    def maybe_commit(self) -> None:
        """Every write is committed at once (nothing is batched)."""

    # -- publishing --------------------------------------------------------------------------

    def register_temp(self, path: str) -> None:
        self.redis.hset(
            self.k("temps"),
            os.path.abspath(path),
            json.dumps({"w": self.worker, "host": self.host}),
        )

    def forget_temp(self, path: str) -> None:
        self.redis.hdel(self.k("temps"), os.path.abspath(path))

    def begin_publish(self, entries: Iterable[PublishEntry]) -> int:
        entries = list(entries)
        body = json.dumps(
            {"w": self.worker, "host": self.host, "entries": [e.to_json() for e in entries]},
            ensure_ascii=False,
        )
        deliveries = [d for e in entries for d in e.deliveries]
        got = self._run(
            "begin_publish",
            self.worker,
            self.token,
            body,
            len(deliveries),
            *[str(key(d.article_id)) for d in deliveries],
            *[d.revision for d in deliveries],
        )
        if got[0] == "lost":
            raise LeaseLost(self._lost_message())
        if got[0] == "conflict":
            raise LeaseLost(
                f"worker {self.worker} no longer holds article {got[1]} (another worker took it "
                "over): the file is not published, the other worker delivers it"
            )
        return int(got[1])

    def finish_publish(self, intent_id: str | int, entries: Iterable[PublishEntry]) -> int:
        entries = list(entries)
        self._forget_temps(entries)
        got = self._run(
            "finish_publish", self.worker, intent_id, int(time.time()), _entries_json(entries)
        )
        return int(got)

    def abandon_publish(self, intent_id: str | int, temps: Iterable[str]) -> None:
        ids = self._intent_ids(str(intent_id))
        for temp in temps:
            self.forget_temp(temp)
        self._run("abandon_publish", self.worker, intent_id, *ids)

    def _intent_ids(self, intent_id: str) -> list[str]:
        raw = self.redis.hget(self.k("intents"), intent_id)
        if not raw:
            return []
        body = json.loads(raw)
        return [str(r[0]) for e in body["entries"] for r in e["records"]]

    def _forget_temps(self, entries: list[PublishEntry]) -> None:
        temps = [os.path.abspath(e.temp) for e in entries if e.temp]
        if temps:
            self.redis.hdel(self.k("temps"), *temps)

    def bulk_exported(self, deliveries: Iterable[tuple[Delivery, str]]) -> int:
        """Records of feeds newsbot cannot watch (stdout, remote): exported now."""
        entries = [PublishEntry("", path, 0, 0, 0, [d]) for d, path in deliveries]
        if not entries:
            return 0
        got = self._run("finish_publish", self.worker, "", int(time.time()), _entries_json(entries))
        return int(got)

    def recover(self) -> Recovery:
        """Settle what dead workers of this host left: publish intents (the file decides, as in
        :meth:`StateStore.recover`) and temporary files."""
        report = Recovery()
        for iid, raw in self.redis.hgetall(self.k("intents")).items():
            body = json.loads(raw)
            if body.get("host") != self.host or self._alive(body["w"]):
                continue
            entries = [PublishEntry.from_json(e) for e in body["entries"]]
            done = [e for e in entries if e.is_published()]
            undone = [str(d.article_id) for e in entries if e not in done for d in e.deliveries]
            published, _ = self._run(
                "settle", body["w"], iid, int(time.time()), _entries_json(done), json.dumps(undone)
            )
            report.published += int(published)
            report.discarded += len(undone)
        for path, raw in self.redis.hgetall(self.k("temps")).items():
            owner = json.loads(raw)
            if owner.get("host") != self.host or self._alive(owner["w"]):
                continue
            if remove_temp(path):
                report.temps_removed.append(path)
            self.redis.hdel(self.k("temps"), path)
        return report

    def _alive(self, worker: str) -> bool:
        return bool(self.redis.exists(self.k(f"w:{worker}:alive")))

    # -- closing -----------------------------------------------------------------------------

    def wait_for_others(self, ids: Iterable[str], timeout: float | None = None) -> int:
        """Before a worker's books close: wait (at most ``timeout``, default half the lease) while
        other live workers hold articles of ``ids`` that they have written, so that the articles
        they are publishing right now are not counted as left pending. Returns how many are
        still held elsewhere."""
        ids = [str(i) for i in ids]
        deadline = time.monotonic() + (self.lease / 2 if timeout is None else timeout)
        while True:
            held = 0
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                for raw in self.redis.hmget(self.k("own"), chunk):
                    if raw:
                        o = json.loads(raw)
                        held += o["w"] != self.worker and o["ph"] != "f" and self._alive(o["w"])
            if not held or time.monotonic() >= deadline:
                return held
            time.sleep(0.05)

    def close(self) -> None:
        """Leave the crawl (see :meth:`retire`) and drop the connection."""
        if self.closed:
            return
        self.closed = True
        try:
            # Redis gone: nothing to hand back; the leases expire and others take over.
            if self.registered and self.redis.lost is None:
                for dead in self.dead_workers():
                    self.reap(dead)
                self.retire()
        finally:
            self.redis.close()

    def __enter__(self) -> RedisStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- looking at it -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The crawl at a glance (``scrapy queue-status``)."""
        r = self.redis
        workers = []
        for w in sorted(r.smembers(self.k("workers"))):
            info = r.hgetall(self.k(f"w:{w}:info"))
            ttl = r.pttl(self.k(f"w:{w}:alive"))
            workers.append(
                {
                    "worker": w,
                    "host": info.get("host"),
                    "pid": int(info["pid"]) if info.get("pid") else None,
                    "alive": ttl > 0,
                    "lease_left_s": round(ttl / 1000, 1) if ttl > 0 else 0,
                    "requests_leased": r.hlen(self.k(f"w:{w}:leases")),
                    "articles_fetching": r.scard(self.k(f"w:{w}:f")),
                    "articles_held": r.scard(self.k(f"w:{w}:own")),
                }
            )
        job = r.hgetall(self.k("job"))
        intents = [json.loads(v) for v in r.hvals(self.k("intents"))]
        return {
            "redis": self.directory,
            "job": {
                "id": job.get("id"),
                "arguments": json.loads(job["args"]) if job.get("args") else None,
                "created_at": _iso(job.get("created")),
                "creator": job.get("creator"),
                "seeding": job.get("seeding") or None,
            }
            if job
            else None,
            "queue": {
                "key": self.k("requests"),
                "requests": r.zcard(self.k("requests")),
                "articles_queued": r.scard(self.k("queued")),
                "orphans": r.scard(self.k("orphans")),
                "dupefilter": r.scard(self.k(f"dupefilter:{job['id']}")) if job else 0,
            },
            "workers": workers,
            "unsettled_publishes": [
                {"worker": i["w"], "host": i["host"], "files": [e["target"] for e in i["entries"]]}
                for i in intents
            ],
            "articles": self.counts(),
        }

    def drop_job(self) -> int:
        """Forget an unfinished job (its queue, leases, dupefilter); the articles it owed stay
        pending and the next job resumes them. Refused while a worker is alive."""
        alive = [w for w in self.redis.smembers(self.k("workers")) if self._alive(w)]
        if alive:
            raise StateError(f"workers are alive ({', '.join(sorted(alive))}): stop them first")
        for dead in self.dead_workers():
            self.reap(dead)
        job = self.redis.hget(self.k("job"), "id")
        dropped = int(self.redis.zcard(self.k("requests")))
        keys = [self.k(n) for n in ("job", "requests", "queued", "orphans")]
        if job:
            keys.append(self.k(f"dupefilter:{job}"))
        self.redis.delete(*keys)
        return dropped


def _entries_json(entries: Iterable[PublishEntry]) -> str:
    return json.dumps(
        [
            [e.target or None, [d.to_json() for d in e.deliveries], e.destination or None]
            for e in entries
        ],
        ensure_ascii=False,
    )


def _iso(stamp: str | None) -> str | None:
    if not stamp:
        return None
    return dt.datetime.fromtimestamp(int(stamp), dt.timezone.utc).isoformat(timespec="seconds")
