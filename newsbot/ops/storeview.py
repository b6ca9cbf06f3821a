"""A read-only look at the SQLite state store, for ``scrapy state report``.

The report must never change the delivery record, nor wait for (or block) a crawl that is
writing it: the file is opened with ``mode=ro`` and no run lock is taken. In WAL mode a reader
sees the last committed state while a crawl goes on writing. Every question is one aggregate
query, so a store of a million articles is read in well under a second (see
``benchmarks/history_report.py``).

Only the store's table layout is shared with :mod:`newsbot.state.store` (the ``articles`` and
``marks`` tables and the state codes), on purpose: this module has nothing to do with writing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The store's file name and state codes (newsbot.state.store: DB_NAME, PENDING … FAILED).
DB_NAME = "state.sqlite3"
STATES = {0: "pending", 1: "exported", 2: "dropped", 3: "failed"}
_FAILED = 3

BEIJING = dt.timezone(dt.timedelta(hours=8))
_DAY = 86_400


class StoreUnreadable(Exception):
    """The store cannot be read (missing, not a newsbot store); the message says why."""


@dataclass
class DeadLetter:
    """One article the store holds as failed."""

    article_id: str
    url_date: str | None
    column: str | None
    reason: str | None
    attempts: int
    first_seen: int
    last_attempt: int


@dataclass
class Window:
    """What to look at: Beijing dates (inclusive) and columns (empty: all)."""

    since: dt.date | None = None
    until: dt.date | None = None
    columns: tuple[str, ...] = ()

    def epoch_range(self) -> tuple[int | None, int | None]:
        """Epoch seconds ``[start, end)`` of the window's days in Beijing time.

        >>> Window(dt.date(2021, 4, 10), dt.date(2021, 4, 10)).epoch_range()
        (1617984000, 1618070400)
        """
        start = end = None
        if self.since:
            start = int(dt.datetime.combine(self.since, dt.time(), BEIJING).timestamp())
        if self.until:
            end = int(dt.datetime.combine(self.until, dt.time(), BEIJING).timestamp()) + _DAY
        return start, end

    def date_keys(self) -> tuple[int | None, int | None]:
        """The window as the store's ``url_date`` keys (``YYYYMMDD``).

        >>> Window(dt.date(2021, 4, 1), None).date_keys()
        (20210401, None)
        """

        def keyed(day: dt.date | None) -> int | None:
            return day.year * 10000 + day.month * 100 + day.day if day else None

        return keyed(self.since), keyed(self.until)


class StoreView:
    """Aggregate questions about a state store, read-only. Use as a context manager."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / DB_NAME
        if not self.path.is_file():
            raise StoreUnreadable(f"there is no state store {self.path}")
        try:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            self._db.execute("SELECT article_id, state, column_id FROM articles LIMIT 1")
        except sqlite3.Error as exc:
            raise StoreUnreadable(
                f"{self.path} is not a readable newsbot state store: {exc}"
            ) from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StoreView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self, window: Window) -> tuple[str, list[Any]]:
        """SQL conditions (``AND …``) for the window, by the date in the article's URL (every
        article has one; only exported ones have a publication time)."""
        sql: list[str] = []
        params: list[Any] = []
        since, until = window.date_keys()
        if since is not None:
            sql.append("url_date >= ?")
            params.append(since)
        if until is not None:
            sql.append("url_date <= ?")
            params.append(until)
        if window.columns:
            sql.append(f"column_id IN ({', '.join('?' * len(window.columns))})")
            params.extend(window.columns)
        return "".join(f" AND {s}" for s in sql), params

    def per_day(self, window: Window) -> dict[tuple[dt.date | None, str, str], int]:
        """Articles per (day, column, state) in one pass over the store. The day is the date
        in the article's URL, its Beijing publication date (the site's URLs are dated so);
        no column is ``""``.

        One aggregate instead of one per question: at a million articles a pass costs about
        a second, whatever is counted in it.
        """
        where, params = self._where(window)
        out: dict[tuple[dt.date | None, str, str], int] = {}
        for date, column, state, n in self._db.execute(
            "SELECT url_date, coalesce(column_id, ''), state, count(*) FROM articles"
            f" WHERE 1{where} GROUP BY 1, 2, 3",
            params,
        ):
            day = dt.date(date // 10000, date // 100 % 100, date % 100) if date else None
            out[day, column, STATES.get(state, str(state))] = n
        return out

    def reasons(self, window: Window) -> dict[str, dict[str, int]]:
        """``{"dropped": {reason: n}, "failed": {reason: n}}`` over the window."""
        where, params = self._where(window)
        out: dict[str, dict[str, int]] = {"dropped": {}, "failed": {}}
        for state, reason, n in self._db.execute(
            "SELECT state, coalesce(reason, '?'), count(*) FROM articles"
            f" WHERE state IN (2, 3){where} GROUP BY 1, 2 ORDER BY 3 DESC",
            params,
        ):
            out[STATES[state]][reason] = n
        return out

    def dead_letter(self, window: Window, limit: int) -> tuple[int, list[DeadLetter]]:
        """How many articles are failed, and the ``limit`` most recently tried."""
        where, params = self._where(window)
        (total,) = self._db.execute(
            f"SELECT count(*) FROM articles WHERE state = {_FAILED}{where}", params
        ).fetchone()
        rows = self._db.execute(
            "SELECT article_id, url_date, column_id, reason, attempts, discovered_at, updated_at"
            f" FROM articles WHERE state = {_FAILED}{where}"
            " ORDER BY updated_at DESC, article_id DESC LIMIT ?",
            [*params, limit],
        )
        shown = [
            DeadLetter(
                str(ident),
                f"{date // 10000:04d}-{date // 100 % 100:02d}-{date % 100:02d}" if date else None,
                column,
                reason,
                attempts,
                first,
                last,
            )
            for ident, date, column, reason, attempts, first, last in rows
        ]
        return int(total), shown

    def marks(self) -> dict[str, int]:
        """Each column's high-water mark (epoch seconds of its newest exported article)."""
        return dict(self._db.execute("SELECT column_id, mark FROM marks").fetchall())
