"""The dead-letter list, ``<state dir>/dead-letter.jsonl``: every article the state store holds as
failed, one JSON object a line, the most recently tried first.

It is *updated*, not rewritten from the store: a run can only change the articles it touched,
so the lines of the others are kept as they are and the touched ones are looked up one by one
(a store of 5 M ids with 50 k failed ones took 1.5 s a run to list and rewrite them all). A run
that touched none of them leaves the file alone. The store's count of failed articles (kept as
it changes) is the check: when the file does not hold exactly that many lines (it was deleted or
edited, a run died before writing it, an older newsbot wrote it), it is written in full from
the store once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsbot.state.files import atomic_file
from newsbot.state.model import url_date_str
from newsbot.urls import article_url

if TYPE_CHECKING:
    from newsbot.state.model import ArticleState
    from newsbot.state.service import StateBackend

_ID = re.compile(rb'^\{"article_id": "([^"]+)"')


def entry(row: ArticleState, max_attempts: int) -> str:
    """One line of the list (without its newline).

    >>> from newsbot.state.model import ArticleState
    >>> row = ArticleState("7", "failed", "http_404", 2, 0, 60, 20210410, None, "3", 0, None, None)
    >>> entry(row, 3)[:90]
    '{"article_id": "7", "url": "https://www.nbd.com.cn/articles/2021-04-10/7.html", "column": '
    """
    date = url_date_str(row.url_date)
    return json.dumps(
        {
            "article_id": row.article_id,
            "url": article_url(date, row.article_id) if date else None,
            "column": row.column,
            "reason": row.reason,
            "attempts": row.attempts,
            "retried_automatically": row.attempts < max_attempts,
            "first_seen": _iso(row.discovered_at),
            "last_attempt": _iso(row.updated_at),
        },
        ensure_ascii=False,
    )


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


def update(
    path: Path, store: StateBackend, touched: Collection[str], max_attempts: int
) -> dict[str, Any]:
    """Bring the list at ``path`` up to date with ``store`` after a run that touched the
    articles ``touched``; ``{"path", "count"}`` for the run report. The file is read a line at
    a time, never whole (50 k failed articles make a 12 MiB list). Raises ``OSError`` when the
    file cannot be written."""
    failed = store.counts()["failed"]
    done = {"path": str(path), "count": failed}
    if not path.exists():
        if failed == 0:
            return done  # nothing ever failed: no file
        return _write(path, (entry(r, max_attempts) for r in store.failed_articles()))
    if not touched and _lines(path)[0] == failed:
        return done  # nothing changed: the file stays as it is
    fresh = []
    for ident in touched:
        row = store.get(ident)
        if row is not None and row.state == "failed":
            fresh.append(row)
    fresh.sort(key=lambda r: (r.updated_at, int(r.article_id)), reverse=True)
    if not fresh and _lines(path, touched) == (failed, 0):
        return done  # none of the touched articles is, or was, on the list
    try:
        written = _write(path, _merged(path, fresh, touched, max_attempts), expect=failed)
    except _Disagrees:
        return _write(path, (entry(r, max_attempts) for r in store.failed_articles()))
    return written


class _Disagrees(Exception):
    """The list on disk is not what the store says: write it from the store."""


def _lines(path: Path, touched: Collection[str] = ()) -> tuple[int, int]:
    """Lines of the list, and how many of them name a touched article."""
    n = hits = 0
    with path.open("rb") as f:
        if not touched:
            while chunk := f.read(1 << 20):
                n += chunk.count(b"\n")
            return n, 0
        for line in f:
            n += 1
            m = _ID.match(line)
            hits += m is None or m[1].decode() in touched
    return n, hits


def _merged(
    path: Path, fresh: list[ArticleState], touched: Collection[str], max_attempts: int
) -> Iterator[str]:
    """The touched articles still failed, newest first, then the old lines of the others."""
    for row in fresh:
        yield entry(row, max_attempts)
    with path.open("rb") as f:
        for line in f:
            m = _ID.match(line)
            if m is None:  # not a line of ours
                raise _Disagrees
            if m[1].decode() not in touched:
                yield line.rstrip(b"\n").decode("utf-8")


def _write(path: Path, lines: Iterable[str], expect: int | None = None) -> dict[str, Any]:
    """Replace ``path`` with ``lines`` (:func:`~newsbot.state.files.atomic_file`); with
    ``expect``, raise :class:`_Disagrees` (leaving ``path`` alone) unless that many came."""
    n = 0
    with atomic_file(path) as fh:
        for line in lines:
            fh.write(line.encode("utf-8") + b"\n")
            n += 1
        if expect is not None and n != expect:
            raise _Disagrees
    return {"path": str(path), "count": n}
