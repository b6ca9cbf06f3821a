"""Rebuilding a lost state store from the JSON Lines files newsbot delivered.

The files are the truth of what was delivered: every record in them becomes an exported article
(its highest revision wins), with its content hash, its text fingerprint (for ``duplicate_of``)
and the file that holds it; each column's high-water mark is its newest publication time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from newsbot.state.errors import StateError
from newsbot.state.files import lock_directory
from newsbot.state.fingerprints import text_fingerprint
from newsbot.state.model import Delivery
from newsbot.state.records import delivery_of
from newsbot.state.store import DB_NAME, StateStore

if TYPE_CHECKING:
    from newsbot.state.redis_store import RedisStateStore
    from newsbot.state.service import StateBackend


@dataclass
class RebuildReport:
    files: int = 0
    records: int = 0
    articles: int = 0
    bad_lines: list[str] = field(default_factory=list)


def records_in(paths: Iterable[Path], report: RebuildReport) -> Iterator[tuple[dict, Path]]:
    """Records of JSON Lines files; unreadable lines are reported, never guessed at."""
    for path in paths:
        report.files += 1
        with path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    report.bad_lines.append(f"{path}:{n}")
                    continue
                if not isinstance(record, dict) or not record.get("article_id"):
                    report.bad_lines.append(f"{path}:{n}")
                    continue
                yield record, path


def move_aside(directory: Path) -> Path | None:
    """Move an existing store (and its WAL files) out of the way; returns its new name."""
    db = directory / DB_NAME
    if not db.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = directory / f"{DB_NAME}.replaced-{stamp}"
    for suffix in ("", "-wal", "-shm"):
        src = directory / f"{DB_NAME}{suffix}"
        if src.exists():
            os.replace(src, directory / f"{target.name}{suffix}")
    return target


def rebuild(
    directory: Path, files: list[Path], *, min_chars: int = 50, force: bool = False
) -> RebuildReport:
    """Create a state store in ``directory`` from delivered files (see module docs)."""
    if (directory / DB_NAME).exists() and not force:
        raise StateError(
            f"{directory / DB_NAME} exists; rebuilding replaces it. Pass --force to move it "
            "aside (it is kept, renamed) and rebuild."
        )
    report = RebuildReport()
    best = best_records(files, min_chars, report)
    directory.mkdir(parents=True, exist_ok=True)
    lock_fd = lock_directory(directory)
    try:
        if force:
            move_aside(directory)
        store = StateStore(directory, create=True, lock_fd=lock_fd)
    except BaseException:
        os.close(lock_fd)
        raise
    with store:
        load(store, best)
    report.articles = len(best)
    return report


Best = dict[str, tuple[Delivery, Path, "int | None"]]


def best_records(files: list[Path], min_chars: int, report: RebuildReport) -> Best:
    """The highest revision of every article in the files, with its file and text fingerprint."""
    for path in files:
        if not path.is_file():
            raise StateError(f"{path} is not a file")
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
    store.commit()


def rebuild_redis(
    store: RedisStateStore, files: list[Path], *, min_chars: int = 50, force: bool = False
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
    if force:
        store.delete_all()
    load(store, best)
    store.redis.hset(store.k("meta"), "created", int(time.time()))
    report.articles = len(best)
    return report
