"""The delivery record: one SQLite file that knows, for every article id, what became of it.

Nothing here knows about Scrapy. :class:`StateStore` is used by the state extension during a
crawl, by ``scrapy state`` on the command line and by the benchmark.

Durability rules (why the code is shaped the way it is):

- Ordinary bookkeeping (discovered, failed, dropped) is committed in batches: losing the last
  batch to a crash only means those articles are fetched again next run.
- Publishing a feed file is a two-step protocol. :meth:`StateStore.begin_publish` commits an
  *intent* naming the temporary file (device, inode, size) and the records in it, *before* the
  rename; :meth:`StateStore.finish_publish` marks the records exported after it. If the process
  dies in between, :meth:`StateStore.recover` (run on every open) looks at the target: if it is
  the very file of the intent, its records count as exported; otherwise the temporary file is
  removed and the records stay pending. That is what makes delivery exactly once across crashes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from newsbot.processors import BEIJING
from newsbot.state.errors import StateCorrupt, StateError, StateMissing, StateUnavailable
from newsbot.state.files import (
    LOCK_NAME,
    busy_error,
    environment_error,
    fsync_dir,
    lock_directory,
    remove_temp,
)
from newsbot.state.integrity import (
    CHECKED_AT,
    LEVELS,
    edge_check,
    full_check,
    full_check_due,
    header_problem,
)
from newsbot.state.model import (
    DROPPED,
    EXPORTED,
    STATE_NAMES,
    ArticleState,
    Delivery,
    PublishEntry,
    Recovery,
    epoch,
    key,
    url_date_key,
    url_date_str,
)

logger = logging.getLogger(__name__)

DB_NAME = "state.sqlite3"
#: What a scheduler's wrapper (the cron recipe, tools/cron-run.sh) makes in the state directory
#: before the first crawl: its lock file and log directory. They say nothing about whether a
#: store existed (this lock file, and the run reports in runs/, do).
WRAPPER_NAMES = ("cron.lock", "logs")
SCHEMA_VERSION = 3

REBUILD_HINT = (
    "newsbot never recreates a state store on its own, because a new store would deliver every "
    "article again. If the store is really gone, rebuild it from the files already delivered: "
    "`scrapy state rebuild -s NEWSBOT_STATE_DIR={dir} OUTPUT_FILES...` "
    "(README.md, The state directory)."
)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    article_id INTEGER PRIMARY KEY,
    state INTEGER NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    discovered_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    url_date INTEGER,
    published_at INTEGER,
    column_id TEXT,
    revision INTEGER NOT NULL DEFAULT 0,
    content_hash BLOB,
    file_id INTEGER
);
CREATE INDEX articles_recent ON articles(published_at) WHERE state = 1;
CREATE INDEX articles_open ON articles(state) WHERE state IN (0, 3);
CREATE TABLE files (
    file_id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    published_at INTEGER NOT NULL,
    records INTEGER NOT NULL
);
CREATE TABLE texts (text_hash INTEGER PRIMARY KEY, article_id INTEGER NOT NULL);
CREATE TABLE marks (
    column_id TEXT PRIMARY KEY, mark INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE temps (path TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
CREATE TABLE intents (
    intent_id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, body TEXT NOT NULL
);
"""

#: Version 2: articles per state, kept as they change (counting them took a scan of every row
#: at the end of every run). Triggers keep it, so no write path can forget to. And the open
#: articles indexed with their attempts, so that a run finds what it still owes (pending, or
#: failed fewer than NEWSBOT_STATE_MAX_ATTEMPTS times) without reading the dead-letter list.
_TOTALS = """
DROP INDEX articles_open;
CREATE INDEX articles_open ON articles(state, attempts) WHERE state IN (0, 3);
CREATE TABLE totals (state INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO totals SELECT value, 0 FROM (SELECT 0 AS value UNION ALL SELECT 1 UNION ALL SELECT 2
    UNION ALL SELECT 3);
UPDATE totals SET n = (SELECT count(*) FROM articles WHERE articles.state = totals.state);
CREATE TRIGGER totals_insert AFTER INSERT ON articles BEGIN
    UPDATE totals SET n = n + 1 WHERE state = new.state;
END;
CREATE TRIGGER totals_delete AFTER DELETE ON articles BEGIN
    UPDATE totals SET n = n - 1 WHERE state = old.state;
END;
CREATE TRIGGER totals_update AFTER UPDATE OF state ON articles WHEN old.state <> new.state BEGIN
    UPDATE totals SET n = n - 1 WHERE state = old.state;
    UPDATE totals SET n = n + 1 WHERE state = new.state;
END;
"""


def _statements(script: str) -> list[str]:
    """The statements of a schema script (a trigger's body keeps its own semicolons)."""
    out, current = [], ""
    for part in script.split(";"):
        current += part + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                out.append(current.strip())
            current = ""
    return out


# Schema 3: what each destination (feed target, newsbot.state.destinations) has been given.
_DESTINATIONS = """
CREATE TABLE IF NOT EXISTS destinations (
    destination TEXT NOT NULL,
    article_id INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (destination, article_id)
) WITHOUT ROWID
"""


class StateStore:
    """SQLite-backed state of every article newsbot has seen, in one directory.

    Opening takes an exclusive lock on the directory (released when the process ends, however it
    ends), checks the store, and recovers what a crashed run left behind.

    ``create``: ``None`` creates a store only in a new or empty directory; ``True`` always may
    (the rebuild command); ``False`` never does.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        create: bool | None = None,
        check: str = "light",
        full_check_days: float = 0,
        batch_size: int = 500,
        batch_seconds: float = 2.0,
        synchronous: str = "FULL",
        lock_fd: int | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self._in_tx = False
        self._ops = 0
        self._tx_started = 0.0
        self._file_ids: dict[str, int] = {}
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        #: Seconds a statement waits for another process's lock before the store is busy.
        self.busy_timeout = busy_timeout
        #: The first write the store refused: every later write fails at once with it (no
        #: waiting again for a lock, no half-recorded batch).
        self.write_refused: StateUnavailable | None = None
        self.full_check_days = full_check_days
        #: Called once with a :class:`StateUnavailable` when the filesystem refuses a write.
        self.on_write_error: Callable[[StateUnavailable], None] | None = None

        lock_path = self.directory / LOCK_NAME
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            lock_existed = lock_path.exists()
            if lock_fd is None:
                self._lock(lock_path)
            else:
                self._lock_fd = lock_fd
        except OSError as exc:
            self.close()
            raise environment_error(exc, self.directory) or StateError(exc) from exc
        try:
            self._open(create, lock_existed, check, synchronous)
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------------

    def _lock(self, lock_path: Path) -> None:
        self._lock_fd = lock_directory(self.directory)

    def _open(self, create: bool | None, lock_existed: bool, check: str, sync: str) -> None:
        exists = self.path.exists()
        if not exists:
            others = [
                p.name
                for p in self.directory.iterdir()
                if p.name not in (LOCK_NAME, *WRAPPER_NAMES)
            ]
            used_before = lock_existed or bool(others)
            if create is False and not used_before:
                raise StateMissing(f"there is no state store in {self.directory}")
            if create is False or (create is None and used_before):
                raise StateMissing(
                    f"state store {self.path} is missing, but {self.directory} has been used "
                    f"before ({', '.join(sorted(others)) or LOCK_NAME} present). "
                    + REBUILD_HINT.format(dir=self.directory)
                )
        elif self.path.stat().st_size == 0:
            raise StateCorrupt(
                f"state store {self.path} is empty (0 bytes). "
                + REBUILD_HINT.format(dir=self.directory)
            )
        elif check != "none" and (problem := header_problem(self.path)) is not None:
            # Before SQLite reads anything: a cut file is named for what it is.
            raise StateCorrupt(
                f"state store {self.path} is damaged: {problem}. "
                + REBUILD_HINT.format(dir=self.directory)
            )
        try:
            # Another process may hold a lock for a while (a backup, a sqlite3 shell): wait
            # that long for it, at start and for every write.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
            self._conn = conn
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute(f"PRAGMA synchronous={sync}")
            conn.execute("PRAGMA temp_store=MEMORY")
            if not exists:
                self._create_schema()
            else:
                self._check(check)
            # Readers get through a write lock held elsewhere; the run's writes would not.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            busy = busy_error(exc, self.path, self.busy_timeout)
            if busy is not None:
                raise busy from None  # SQLite's own words add nothing to these
            unavailable = environment_error(exc, self.directory)
            if unavailable is not None:
                raise unavailable from exc
            raise StateCorrupt(
                f"state store {self.path} is unreadable ({exc}). "
                + REBUILD_HINT.format(dir=self.directory)
            ) from exc

    def _create_schema(self) -> None:
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        for stmt in _statements(_SCHEMA + _TOTALS):
            conn.execute(stmt)
        conn.execute(_DESTINATIONS)
        now = str(int(time.time()))
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("schema_version", str(SCHEMA_VERSION)),
                ("created_at", now),
                ("kind", "newsbot"),
                (CHECKED_AT, now),  # an empty store is sound: the first full check is due later
                # Nothing was published before destinations were kept: nothing to adopt.
                ("destinations_since", "0"),
            ],
        )
        conn.execute("COMMIT")
        fsync_dir(self.directory)

    def _check(self, level: str) -> None:
        """Refuse a store that is damaged, foreign or of another schema version (raises
        :class:`sqlite3.DatabaseError`); see :mod:`newsbot.state.integrity` for what each
        ``level`` sees."""
        conn = self._db
        if level not in LEVELS:
            raise StateError(f"NEWSBOT_STATE_CHECK={level!r}: say one of {', '.join(LEVELS)}")
        if level in ("quick", "full"):
            problems = full_check(conn, thorough=level == "full")
            if problems:
                raise sqlite3.DatabaseError("; ".join(problems[:3]))
        try:
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:
            raise sqlite3.DatabaseError(f"not a newsbot state store: {exc}") from exc
        if rows.get("kind") != "newsbot":
            raise sqlite3.DatabaseError("not a newsbot state store")
        version = int(rows.get("schema_version", "0"))
        if version == 1:
            self._upgrade_to_totals()
            version = 2
        if version == 2:
            self._migrate_to_3()
        elif version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version}, this newsbot reads version {SCHEMA_VERSION}"
            )
        if level == "light":
            edge_check(conn)
            if full_check_due(rows.get(CHECKED_AT, rows.get("created_at")), self.full_check_days):
                logger.info("Full check of the state store %s (scheduled)", self.path)
                problems = full_check(conn)
                if problems:
                    raise sqlite3.DatabaseError("; ".join(problems[:3]))
                self._checked()
        elif level in ("quick", "full"):
            self._checked()

    def _upgrade_to_totals(self) -> None:
        """Schema 1 to 2: count the articles per state once, then keep the counts."""
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        for stmt in _statements(_TOTALS):
            conn.execute(stmt)
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        conn.execute("COMMIT")

    def _checked(self) -> None:
        self._db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (CHECKED_AT, str(int(time.time()))),
        )

    def check(self, *, thorough: bool = False) -> list[str]:
        """The full check, on demand (``scrapy state check``): what is wrong, or an empty list
        (and the time of this check is kept, which resets the schedule)."""
        self.commit()
        problems = full_check(self._db, thorough=thorough)
        if not problems:
            self._checked()
        return problems

    def _migrate_to_3(self) -> None:
        """Schema 2 → 3: add the destinations table. What was published before stays with the
        files that hold it: a destination seen for the first time adopts the articles of the
        files published before ``destinations_since`` that its template matches (:meth:`adopt`)."""
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_DESTINATIONS)
        conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [("schema_version", "3"), ("destinations_since", str(int(time.time())))],
        )
        conn.execute("COMMIT")
        logger.info("State store %s upgraded to schema 3 (destinations)", self.path)

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError("state store is closed")
        return self._conn

    def close(self) -> None:
        """Commit what is batched, close the database and release the directory lock."""
        if self._conn is not None:
            try:
                if self._in_tx:
                    self.commit()
            finally:
                self._conn.close()
                self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------

    def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self.write_refused is not None:
            raise self.write_refused
        try:
            if not self._in_tx:
                self._db.execute("BEGIN IMMEDIATE")
                self._in_tx = True
                self._tx_started = time.monotonic()
            self._ops += 1
            return self._db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            self._write_failed(exc)
            raise

    def commit(self) -> None:
        """Commit the current batch now."""
        if self._in_tx:
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._write_failed(exc)
                raise
            self._in_tx = False
            self._ops = 0

    def _write_failed(self, exc: sqlite3.OperationalError) -> None:
        """A write that the filesystem refused (a full disk): the batch is lost, as in a crash
        (the next run fetches its articles again); raise :class:`StateUnavailable`, and tell
        :attr:`on_write_error` once."""
        unavailable = environment_error(exc, self.directory) or busy_error(
            exc, self.path, self.busy_timeout
        )
        if unavailable is None:
            return
        if self._in_tx:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            self._in_tx = False
            self._ops = 0
        self.write_refused = self.write_refused or unavailable
        if self.on_write_error is not None:
            notify, self.on_write_error = self.on_write_error, None
            notify(unavailable)
        raise unavailable from exc

    def wait_for_others(self, ids: Iterable[str], timeout: float | None = None) -> int:
        """Nothing to wait for: one machine, one run (the directory lock), so no other process
        is publishing these articles. Part of :class:`~newsbot.state.service.StateBackend` for
        the distributed store's sake."""
        return 0

    def maybe_commit(self) -> None:
        """Commit when the batch is big or old enough."""
        if self._in_tx and (
            self._ops >= self.batch_size
            or time.monotonic() - self._tx_started >= self.batch_seconds
        ):
            self.commit()

    # -- reading --------------------------------------------------------------------------

    def state_of(self, article_id: str | int) -> str | None:
        """``"pending"``, ``"exported"``, ``"dropped"``, ``"failed"``, or None if unknown."""
        row = self._db.execute(
            "SELECT state FROM articles WHERE article_id = ?", (key(article_id),)
        ).fetchone()
        return STATE_NAMES[row[0]] if row else None

    def is_settled(self, article_id: str | int) -> bool:
        """True when the article was exported or dropped: nothing more to fetch for it."""
        row = self._db.execute(
            "SELECT state FROM articles WHERE article_id = ?", (key(article_id),)
        ).fetchone()
        return bool(row) and row[0] in (EXPORTED, DROPPED)

    def get(self, article_id: str | int) -> ArticleState | None:
        row = self._db.execute(
            "SELECT a.article_id, state, reason, attempts, discovered_at, updated_at, url_date,"
            " a.published_at, column_id, revision, content_hash, f.path"
            " FROM articles a LEFT JOIN files f USING (file_id) WHERE article_id = ?",
            (key(article_id),),
        ).fetchone()
        if row is None:
            return None
        return ArticleState(
            str(row[0]),
            STATE_NAMES[row[1]],
            *row[2:],
        )

    def counts(self) -> dict[str, int]:
        """Articles per state (kept as they change: no scan)."""
        out = dict.fromkeys(STATE_NAMES.values(), 0)
        for state, n in self._db.execute("SELECT state, n FROM totals"):
            out[STATE_NAMES[state]] = n
        return out

    def reasons(self, state: str) -> dict[str, int]:
        """Reason counts for dropped or failed articles."""
        code = {v: k for k, v in STATE_NAMES.items()}[state]
        return dict(
            self._db.execute(
                "SELECT coalesce(reason, '?'), count(*) FROM articles WHERE state = ?"
                " GROUP BY reason",
                (code,),
            ).fetchall()
        )

    def open_articles(self, max_attempts: int) -> Iterator[tuple[str, str | None, str | None]]:
        """``(article_id, url_date, column)`` of pending articles and of failed ones with fewer
        than ``max_attempts`` attempts: what a run still owes."""
        # Two ranges of articles_open (an OR of both would scan every row).
        cur = self._db.execute(
            "SELECT article_id, url_date, column_id FROM articles WHERE state IN (0, 3)"
            " AND state = 0 UNION ALL SELECT article_id, url_date, column_id FROM articles"
            " WHERE state IN (0, 3) AND state = 3 AND attempts < ? ORDER BY 1 DESC",
            (max_attempts,),
        )
        for ident, date, column in cur.fetchall():
            yield str(ident), url_date_str(date), column

    def failed_articles(self) -> Iterator[ArticleState]:
        """Every article left failed (the dead-letter list), most recently tried first."""
        cur = self._db.execute(
            "SELECT article_id, state, reason, attempts, discovered_at, updated_at, url_date,"
            " published_at, column_id, revision, content_hash, NULL FROM articles"
            " WHERE state = 3 ORDER BY updated_at DESC, article_id DESC"
        )
        for row in cur.fetchall():
            yield ArticleState(str(row[0]), STATE_NAMES[row[1]], *row[2:])

    def files_published_since(self, since: int) -> list[tuple[str, int]]:
        """``(path, records)`` of the files published at or after ``since`` (epoch seconds);
        ``records`` counts those the last publish of the file added."""
        return [
            (str(path), int(records))
            for path, records in self._db.execute(
                "SELECT path, records FROM files WHERE published_at >= ? ORDER BY path",
                (since,),
            )
        ]

    def exported_since(self, since: dt.datetime) -> Iterator[tuple[str, str | None, str | None]]:
        """``(article_id, url_date, column)`` of exported articles published at/after ``since``."""
        cur = self._db.execute(
            "SELECT article_id, url_date, column_id FROM articles"
            " WHERE state = 1 AND published_at >= ? ORDER BY published_at DESC",
            (epoch(since),),
        )
        for ident, date, column in cur.fetchall():
            yield str(ident), url_date_str(date), column

    def delivered(self, article_id: str | int) -> tuple[int, bytes | None] | None:
        """``(revision, content_hash)`` of the last exported version, or None."""
        row = self._db.execute(
            "SELECT revision, content_hash FROM articles WHERE article_id = ? AND state = 1",
            (key(article_id),),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def destination_revision(self, destination: str, article_id: str | int) -> int | None:
        """The revision of the article ``destination`` was given; None when it never was."""
        row = self._db.execute(
            "SELECT revision FROM destinations WHERE destination = ? AND article_id = ?",
            (destination, key(article_id)),
        ).fetchone()
        return None if row is None else int(row[0])

    def adopt(self, destination: str, pattern: str) -> int:
        """A destination the store has never seen takes the articles of the files published
        before the store kept destinations (an upgraded store) whose path matches ``pattern``
        (a glob, :func:`~newsbot.state.destinations.destination_pattern`). Returns how many."""
        db = self._db
        if db.execute(
            "SELECT 1 FROM destinations WHERE destination = ? LIMIT 1", (destination,)
        ).fetchone():
            return 0
        row = db.execute("SELECT value FROM meta WHERE key = 'destinations_since'").fetchone()
        since = int(row[0]) if row else 0
        if not since:
            return 0
        cur = self._write(
            "INSERT OR IGNORE INTO destinations (destination, article_id, revision)"
            " SELECT ?, a.article_id, a.revision FROM articles a JOIN files f USING (file_id)"
            " WHERE a.state = 1 AND f.published_at <= ? AND f.path GLOB ?",
            (destination, since, pattern),
        )
        self.commit()
        return max(cur.rowcount, 0)

    def files_adoptable(self) -> None:
        self._write(
            "INSERT OR REPLACE INTO meta VALUES ('destinations_since', ?)", (str(int(time.time())),)
        )
        self.commit()

    def note_destination(self, destination: str, deliveries: Iterable[Delivery]) -> None:
        """Record that ``destination`` was given these records (a feed newsbot cannot watch)."""
        for d in deliveries:
            self._give(destination, d)
        self.commit()

    def _give(self, destination: str, d: Delivery) -> None:
        self._write(
            "INSERT INTO destinations (destination, article_id, revision) VALUES (?, ?, ?)"
            " ON CONFLICT (destination, article_id) DO UPDATE SET"
            " revision = max(revision, excluded.revision)",
            (destination, key(d.article_id), d.revision),
        )

    def high_water_mark(self, column: str) -> dt.datetime | None:
        row = self._db.execute("SELECT mark FROM marks WHERE column_id = ?", (column,)).fetchone()
        return dt.datetime.fromtimestamp(row[0], BEIJING) if row else None

    def columns_with_marks(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT column_id FROM marks ORDER BY 1")]

    # -- writing --------------------------------------------------------------------------

    def discovered(
        self,
        article_id: str | int,
        *,
        url_date: str | None = None,
        column: str | None = None,
        now: int | None = None,
    ) -> bool:
        """Record a newly seen article as pending; True if it was new to the store."""
        now = int(time.time()) if now is None else now
        ident = key(article_id)
        row = self._db.execute(
            "SELECT column_id, url_date FROM articles WHERE article_id = ?", (ident,)
        ).fetchone()
        if row is None:
            self._write(
                "INSERT INTO articles (article_id, state, discovered_at, updated_at, url_date,"
                " column_id) VALUES (?, 0, ?, ?, ?, ?)",
                (ident, now, now, url_date_key(url_date), column),
            )
        elif (row[0] is None and column) or (row[1] is None and url_date):
            self._write(
                "UPDATE articles SET column_id = coalesce(column_id, ?),"
                " url_date = coalesce(url_date, ?) WHERE article_id = ?",
                (column, url_date_key(url_date), ident),
            )
        self.maybe_commit()
        return row is None

    def failed(self, article_id: str | int, reason: str, *, url_date: str | None = None) -> str:
        """Record a failed attempt. An already exported or dropped article keeps its state (a
        failed recheck does not undo a delivery); returns the state the article is left in."""
        now = int(time.time())
        ident = key(article_id)
        self._write(
            "INSERT INTO articles (article_id, state, reason, attempts, discovered_at,"
            " updated_at, url_date) VALUES (?, 3, ?, 1, ?, ?, ?)"
            " ON CONFLICT (article_id) DO UPDATE SET attempts = attempts + 1,"
            " updated_at = excluded.updated_at,"
            " reason = CASE WHEN state IN (0, 3) THEN excluded.reason ELSE reason END,"
            " state = CASE WHEN state IN (0, 3) THEN 3 ELSE state END",
            (ident, reason, now, now, url_date_key(url_date)),
        )
        self.maybe_commit()
        return self.state_of(ident) or "failed"

    def dropped(self, article_id: str | int, reason: str, *, url_date: str | None = None) -> str:
        """Record that validation dropped the article (unless it was already exported)."""
        now = int(time.time())
        ident = key(article_id)
        self._write(
            "INSERT INTO articles (article_id, state, reason, discovered_at, updated_at, url_date)"
            " VALUES (?, 2, ?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET"
            " updated_at = excluded.updated_at,"
            " reason = CASE WHEN state = 1 THEN reason ELSE excluded.reason END,"
            " state = CASE WHEN state = 1 THEN 1 ELSE 2 END",
            (ident, reason, now, now, url_date_key(url_date)),
        )
        self.maybe_commit()
        return self.state_of(ident) or "dropped"

    def first_with_text(self, text_hash: int, article_id: str | int) -> str | None:
        """The lowest article id recorded with this text fingerprint if it is lower than
        ``article_id`` (the original of a republished text); else None, and ``article_id`` is
        recorded as the original."""
        ident = key(article_id)
        row = self._db.execute(
            "SELECT article_id FROM texts WHERE text_hash = ?", (text_hash,)
        ).fetchone()
        if row is not None and row[0] < ident:
            return str(row[0])
        if row is None:
            self._write("INSERT INTO texts VALUES (?, ?)", (text_hash, ident))
        elif row[0] > ident:
            self._write("UPDATE texts SET article_id = ? WHERE text_hash = ?", (ident, text_hash))
        self.maybe_commit()
        return None

    def set_high_water_mark(self, column: str, mark: int) -> None:
        self._write(
            "INSERT INTO marks VALUES (?, ?, ?) ON CONFLICT (column_id) DO UPDATE SET"
            " mark = max(mark, excluded.mark), updated_at = excluded.updated_at",
            (column, mark, int(time.time())),
        )

    # -- publishing -----------------------------------------------------------------------

    def register_temp(self, path: str) -> None:
        """Remember a temporary file or directory before anything is written to it, so that a
        crashed run's leftovers can be removed by the next one (and nothing else ever is)."""
        self._write(
            "INSERT OR REPLACE INTO temps VALUES (?, ?)", (os.path.abspath(path), int(time.time()))
        )
        self.commit()

    def forget_temp(self, path: str) -> None:
        self._write("DELETE FROM temps WHERE path = ?", (os.path.abspath(path),))
        self.commit()

    def begin_publish(self, entries: Iterable[PublishEntry]) -> int:
        """Durably record what is about to be renamed into place; returns the intent id."""
        body = "[" + ", ".join(e.json_text() for e in entries) + "]"
        cur = self._write(
            "INSERT INTO intents (created_at, body) VALUES (?, ?)", (int(time.time()), body)
        )
        self.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_publish(self, intent_id: int, entries: Iterable[PublishEntry]) -> int:
        """Mark the records of the published entries exported and drop the intent."""
        n = 0
        for entry in entries:
            n += self._mark_exported(entry)
            self._write("DELETE FROM temps WHERE path = ?", (os.path.abspath(entry.temp),))
        self._write("DELETE FROM intents WHERE intent_id = ?", (intent_id,))
        self.commit()
        return n

    def abandon_publish(self, intent_id: int, temps: Iterable[str]) -> None:
        for temp in temps:
            self._write("DELETE FROM temps WHERE path = ?", (os.path.abspath(temp),))
        self._write("DELETE FROM intents WHERE intent_id = ?", (intent_id,))
        self.commit()

    def _file_id(self, path: str, records: int) -> int:
        path = os.path.abspath(path)
        now = int(time.time())
        cur = self._write(
            "INSERT INTO files (path, published_at, records) VALUES (?, ?, ?)"
            " ON CONFLICT (path) DO UPDATE SET published_at = excluded.published_at,"
            " records = excluded.records RETURNING file_id",
            (path, now, records),
        )
        return int(cur.fetchone()[0])

    def _mark_exported(self, entry: PublishEntry) -> int:
        if not entry.deliveries:
            return 0
        file_id = self._file_id(entry.target, len(entry.deliveries)) if entry.target else None
        now = int(time.time())
        for d in entry.deliveries:
            self._write(
                "INSERT INTO articles (article_id, state, discovered_at, updated_at, url_date,"
                " published_at, column_id, revision, content_hash, file_id)"
                " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET"
                " state = 1, reason = NULL, updated_at = excluded.updated_at,"
                " url_date = coalesce(excluded.url_date, url_date),"
                " published_at = coalesce(excluded.published_at, published_at),"
                " column_id = coalesce(column_id, excluded.column_id),"
                " revision = max(revision, excluded.revision),"
                " content_hash = excluded.content_hash,"
                # The first file that published this revision holds it (a second feed of the
                # same run does not move it).
                " file_id = CASE WHEN state = 1 AND excluded.revision = revision"
                " AND file_id IS NOT NULL THEN file_id ELSE excluded.file_id END"
                " WHERE excluded.revision >= revision",
                (
                    key(d.article_id),
                    now,
                    now,
                    d.url_date,
                    d.published_at,
                    d.column,
                    d.revision,
                    d.content_hash,
                    file_id,
                ),
            )
            if entry.destination:
                self._give(entry.destination, d)
        return len(entry.deliveries)

    def recover(self) -> Recovery:
        """Settle what a run that died left behind: unfinished publishes and temporary files."""
        report = Recovery()
        intents = self._db.execute(
            "SELECT intent_id, body FROM intents ORDER BY intent_id"
        ).fetchall()
        for intent_id, body in intents:
            entries = [PublishEntry.from_json(e) for e in json.loads(body)]
            for entry in entries:
                if entry.is_published():
                    report.published += self._mark_exported(entry)
                else:
                    report.discarded += len(entry.deliveries)
            self._write("DELETE FROM intents WHERE intent_id = ?", (intent_id,))
        # Settled before any leftover is removed: an intent whose temporary file is gone
        # counts as published (PublishEntry.is_published), so the two must never be undone
        # in the other order by a crash here.
        self.commit()
        temps = [row[0] for row in self._db.execute("SELECT path FROM temps").fetchall()]
        for temp in temps:
            if remove_temp(temp):
                report.temps_removed.append(temp)
            self._write("DELETE FROM temps WHERE path = ?", (temp,))
        self.commit()
        return report

    # -- bulk (rebuild) -------------------------------------------------------------------

    def bulk_exported(self, deliveries: Iterable[tuple[Delivery, str]]) -> int:
        """Insert exported articles in bulk: ``(delivery, output_file)`` pairs."""
        n = 0
        for d, path in deliveries:
            entry = PublishEntry("", path, 0, 0, 0, [d])
            n += self._mark_exported(entry)
            self.maybe_commit()
        self.commit()
        return n

    def checkpoint(self) -> None:
        """Commit, and fold the write-ahead log into the database file (which then holds
        everything: what a backup or the benchmark's size measure wants)."""
        self.commit()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
