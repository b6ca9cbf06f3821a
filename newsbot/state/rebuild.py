"""Rebuilding a lost state store from the JSON Lines files newsbot delivered.

The files are the truth of what was delivered: every record in them becomes an exported article
(its highest revision wins), with its content hash, its text fingerprint (for ``duplicate_of``)
and the file that holds it; each column's high-water mark is its newest publication time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from newsbot.logsafe import shown
from newsbot.state.errors import StateError
from newsbot.state.files import fsync_dir, lock_directory
from newsbot.state.fingerprints import text_fingerprint
from newsbot.state.model import Delivery, epoch
from newsbot.state.records import delivery_of
from newsbot.state.redis_store import REBUILDING
from newsbot.state.store import DB_NAME, StateStore

if TYPE_CHECKING:
    from newsbot.state.redis_store import RedisStateStore
    from newsbot.state.service import StateBackend


@dataclass
class RebuildReport:
    files: int = 0
    records: int = 0
    articles: int = 0
    #: ``FILE:LINE: what is wrong`` for every line that is not a record.
    bad_lines: list[str] = field(default_factory=list)


class BadLines(StateError):
    """Lines of the delivered files are not records: nothing was written."""

    def __init__(self, report: RebuildReport) -> None:
        self.report = report
        shown_lines = "; ".join(report.bad_lines[:5])
        more = f" (and {len(report.bad_lines) - 5} more)" if len(report.bad_lines) > 5 else ""
        super().__init__(
            f"{len(report.bad_lines)} lines are not newsbot records, so nothing was written "
            f"(a store without their articles would deliver them again): {shown_lines}{more}. "
            "Mend or remove those lines, or pass --skip-bad-lines to rebuild from the others."
        )


#: Article ids are stored as SQLite integers (signed 64 bits).
MAX_ID_DIGITS = 18


def record_problem(record: object) -> str | None:
    """What makes a decoded line unusable as a delivered record, or None. Only the fields the
    state keeps are judged: the id, revision, publication time, column, URL and body.

    >>> good = {"article_id": "7", "revision": 2, "published_at": "2021-04-10T23:49:51+08:00"}
    >>> record_problem(good) is None
    True
    >>> for bad in ({"article_id": "abc"}, {"revision": "two"}, {"published_at": 5},
    ...             {"body": ["x"]}, {"column": ["3"]}, {"article_id": "1" * 23}):
    ...     print(record_problem(dict(good, **bad)))
    article_id is not an article id (up to 18 digits, as a string)
    revision is not a whole number of at least 1
    published_at is not a time (ISO 8601 with its offset)
    body is not text
    column is not text
    article_id is not an article id (up to 18 digits, as a string)
    """
    if not isinstance(record, dict):
        return "not a JSON object"
    ident = record.get("article_id")
    if not (
        isinstance(ident, str)
        and ident.isascii()
        and ident.isdigit()
        and len(ident) <= MAX_ID_DIGITS
    ):
        return f"article_id is not an article id (up to {MAX_ID_DIGITS} digits, as a string)"
    revision = record.get("revision")
    if revision is not None and (type(revision) is not int or not 1 <= revision < 2**31):
        return "revision is not a whole number of at least 1"
    published = record.get("published_at")
    if published is not None:
        try:
            if not isinstance(published, str):
                raise ValueError(published)
            epoch(published)
        except ValueError:
            return "published_at is not a time (ISO 8601 with its offset)"
    for name in ("column", "url", "body"):
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"{name} is not text"
    return None


def records_in(paths: Iterable[Path], report: RebuildReport) -> Iterator[tuple[dict, Path]]:
    """Records of JSON Lines files; a line that is not one is reported (file, line number and
    what is wrong), never guessed at."""
    for path in paths:
        report.files += 1
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise StateError(f"cannot read {shown(path)}: {exc.strerror or exc}") from None
        with fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError):
                    problem: str | None = "not JSON"
                else:
                    problem = record_problem(record)
                if problem is not None:
                    report.bad_lines.append(f"{shown(path)}:{n}: {problem}")
                    continue
                yield record, path


def move_aside(directory: Path, stamp: str | None = None) -> Path | None:
    """Move an existing store (and its WAL files, also when the store itself is gone) out of
    the way; returns the store's new name."""
    stamp = stamp or time.strftime("%Y%m%dT%H%M%S")
    target = directory / f"{DB_NAME}.replaced-{stamp}"
    moved = None
    # The store first: once it is gone, a crawl refuses to start (missing) until the new one
    # is in place, and never opens it beside another store's WAL.
    for suffix in ("", "-wal", "-shm"):
        src = directory / f"{DB_NAME}{suffix}"
        if src.exists():
            os.replace(src, directory / f"{target.name}{suffix}")
            moved = moved or (target if not suffix else None)
    return moved


STAGING_PREFIX = ".rebuild-"


def rebuild(
    directory: Path,
    files: list[Path],
    *,
    min_chars: int = 50,
    force: bool = False,
    skip_bad_lines: bool = False,
) -> RebuildReport:
    """Create a state store in ``directory`` from delivered files (see module docs).

    All or nothing: the new store is built in a staging directory beside it and renamed into
    place once complete, so a rebuild killed at any point leaves the old store (or none, which
    a crawl refuses), never a partial one that looks normal. A line that is not a record stops
    it before anything is written (:class:`BadLines`) unless ``skip_bad_lines``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    # The directory's run lock first: no crawl can start while the store is replaced.
    lock_fd = lock_directory(directory)
    try:
        if (directory / DB_NAME).exists() and not force:
            raise StateError(
                f"{directory / DB_NAME} exists; rebuilding replaces it. Pass --force to move "
                "it aside (it is kept, renamed) and rebuild."
            )
        report = RebuildReport()
        best = best_records(files, min_chars, report)
        if report.bad_lines and not skip_bad_lines:
            raise BadLines(report)
        for stale in directory.glob(STAGING_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a rebuild that was killed
        staging = directory / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        with StateStore(staging, create=True) as store:
            load(store, best)
        # Closed: SQLite checkpointed its WAL into the file; make the file itself durable.
        fd = os.open(staging / DB_NAME, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        move_aside(directory)
        os.replace(staging / DB_NAME, directory / DB_NAME)
        fsync_dir(directory)
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        os.close(lock_fd)
    report.articles = len(best)
    return report


Best = dict[str, tuple[Delivery, Path, "int | None"]]


def best_records(files: list[Path], min_chars: int, report: RebuildReport) -> Best:
    """The highest revision of every article in the files, with its file and text fingerprint."""
    for path in files:
        if not path.is_file():
            raise StateError(f"{shown(path)} is not a regular file")
    best: Best = {}
    for record, path in records_in(files, report):
        report.records += 1
        delivery = delivery_of(record)
        assert delivery is not None
        current = best.get(delivery.article_id)
        if current is None or delivery.revision >= current[0].revision:
            best[delivery.article_id] = (
                delivery,
                path,
                text_fingerprint(record.get("body"), min_chars),
            )
    return best


def load(store: StateBackend, best: Best) -> None:
    """Record the articles as exported, their texts, and each column's mark (either store)."""
    store.bulk_exported((d, str(path.absolute())) for d, path, _ in best.values())
    marks: dict[str, int] = {}
    for ident in sorted(best, key=int):
        d, _, fingerprint = best[ident]
        if fingerprint is not None:
            store.first_with_text(fingerprint, ident)
        if d.column and d.published_at:
            marks[d.column] = max(marks.get(d.column, 0), d.published_at)
    for column, mark in marks.items():
        store.set_high_water_mark(column, mark)
    # The destinations are not in the files: each adopts what its files hold on its next run.
    store.files_adoptable()
    store.commit()


def rebuild_redis(
    store: RedisStateStore,
    files: list[Path],
    *,
    min_chars: int = 50,
    force: bool = False,
    skip_bad_lines: bool = False,
) -> RebuildReport:
    """Fill a distributed crawl's state in Redis from delivered files (see module docs)."""
    held = int(store.redis.hlen(store.k("a")))
    if held and not force:
        raise StateError(
            f"the state under {store.directory} holds {held} articles; rebuilding replaces it. "
            "Pass --force to delete it first."
        )
    report = RebuildReport()
    best = best_records(files, min_chars, report)
    if report.bad_lines and not skip_bad_lines:
        raise BadLines(report)
    # Until the last write, the state says it is being rebuilt, and workers refuse it: a
    # rebuild killed half way is never taken for a whole state.
    if force:
        store.delete_all()
    store.redis.hset(store.k("meta"), REBUILDING, int(time.time()))
    load(store, best)
    store.redis.hset(store.k("meta"), "created", int(time.time()))
    store.redis.hdel(store.k("meta"), REBUILDING)
    report.articles = len(best)
    return report
