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
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsbot.ops.run import write_atomically
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
    articles ``touched``; ``{"path", "count"}`` for the run report. Raises ``OSError`` when the
    file cannot be written."""
    failed = store.counts()["failed"]
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = None
    if old is None:
        if failed == 0:
            return {"path": str(path), "count": 0}  # nothing ever failed: no file
        return _rewrite(path, store.failed_articles(), max_attempts)
    if not touched and old.count(b"\n") == failed:
        return {"path": str(path), "count": failed}  # nothing changed: the file stays
    kept: list[bytes] = []
    if old:
        for line in old.splitlines():
            m = _ID.match(line)
            if m is None:  # not a line of ours: start again from the store
                return _rewrite(path, store.failed_articles(), max_attempts)
            if m[1].decode() not in touched:
                kept.append(line)
    fresh: list[ArticleState] = []
    for ident in touched:
        row = store.get(ident)
        if row is not None and row.state == "failed":
            fresh.append(row)
    if len(kept) + len(fresh) != failed:
        return _rewrite(path, store.failed_articles(), max_attempts)
    fresh.sort(key=lambda r: (r.updated_at, int(r.article_id)), reverse=True)
    lines = [entry(row, max_attempts).encode("utf-8") for row in fresh] + kept
    if old == b"".join(line + b"\n" for line in lines):
        return {"path": str(path), "count": failed}
    write_atomically(path, b"".join(line + b"\n" for line in lines))
    return {"path": str(path), "count": failed}


def _rewrite(path: Path, rows: Iterable[ArticleState], max_attempts: int) -> dict[str, Any]:
    lines = [entry(row, max_attempts) for row in rows]
    write_atomically(path, "".join(line + "\n" for line in lines).encode("utf-8"))
    return {"path": str(path), "count": len(lines)}
