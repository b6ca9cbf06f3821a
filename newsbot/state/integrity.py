"""How much of the SQLite state store is checked, and when.

A run's fixed cost must not grow with the store (an hourly job on a full-site store opens it
every hour), so the check at every open is a *light* one, whose cost does not depend on the
number of articles:

- the file header: the SQLite magic, a sane page size, and a file at least as long as the page
  count the header vouches for (a truncated copy, a file cut short by a full disk);
- the schema and ``meta`` rows (not ours, another schema version), read by the caller;
- both ends of every table and index a run reads (``min``/``max`` and the first row: the root
  page and one path down each b-tree, O(log n)), and the small tables whole (``totals``,
  ``marks``, ``intents``, ``temps``).

What it cannot see is damage inside the body of a b-tree: a page among the millions of rows in
the middle of ``articles`` or ``texts``. SQLite reports such a page when a run reads it ("database
disk image is malformed"; the run fails with ``state_failed``), and the *full* check finds it:
``PRAGMA quick_check`` (every page, every row; ``integrity_check`` also compares each index with
its table). It runs on demand (``scrapy state check [--full]``), at open with
``NEWSBOT_STATE_CHECK=quick`` or ``full``, and on a schedule: when the last full check recorded
in the store is older than ``NEWSBOT_STATE_FULL_CHECK_DAYS`` days, the opening run does it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

#: ``NEWSBOT_STATE_CHECK`` values: what every open checks.
LEVELS = ("light", "quick", "full", "none")

#: Where in ``meta`` the time (epoch seconds) of the last full check is kept.
CHECKED_AT = "checked_at"

_MAGIC = b"SQLite format 3\x00"

#: One path down each b-tree a run reads, and the small tables whole.
_EDGES = (
    # One aggregate a query: min() and max() together would scan the table.
    "SELECT min(article_id) FROM articles",
    "SELECT max(article_id) FROM articles",
    "SELECT max(published_at) FROM articles WHERE state = 1",  # articles_recent
    "SELECT article_id FROM articles WHERE state IN (0, 3) LIMIT 1",  # articles_open
    "SELECT min(text_hash) FROM texts",
    "SELECT max(text_hash) FROM texts",
    "SELECT max(file_id) FROM files",
    "SELECT * FROM totals",
    "SELECT * FROM marks",
    "SELECT intent_id FROM intents",
    "SELECT * FROM temps",
)


def header_problem(path: Path) -> str | None:
    """What is wrong with the database file's header, or None.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"not a database" * 10); f.flush()
    ...     header_problem(Path(f.name))
    'not an SQLite database (no SQLite header)'
    """
    with path.open("rb") as f:
        head = f.read(100)
        size = os.fstat(f.fileno()).st_size
    if len(head) < 100 or not head.startswith(_MAGIC):
        return "not an SQLite database (no SQLite header)"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"damaged header (page size {page_size})"
    pages = int.from_bytes(head[28:32], "big")
    # The header's page count is valid when its "version valid for" equals the change counter.
    if head[92:96] == head[24:28] and pages * page_size > size:
        return f"truncated: {size} bytes, the header counts {pages} pages of {page_size}"
    return None


def edge_check(conn: sqlite3.Connection) -> None:
    """The light check's reads (after :func:`header_problem` and the ``meta`` rows): one path
    down each b-tree a run reads; raises :class:`sqlite3.DatabaseError` on a damaged page."""
    for sql in _EDGES:
        conn.execute(sql).fetchall()


def full_check(conn: sqlite3.Connection, *, thorough: bool = False) -> list[str]:
    """``PRAGMA quick_check`` (or ``integrity_check`` when ``thorough``): what is wrong, up to
    20 lines; empty when the store is sound. Reads every page: seconds on millions of ids."""
    pragma = "integrity_check(20)" if thorough else "quick_check(20)"
    try:
        rows = [row[0] for row in conn.execute(f"PRAGMA {pragma}").fetchall()]
    except sqlite3.OperationalError:
        raise  # busy, locked, an I/O error: not a verdict on the contents
    except sqlite3.DatabaseError as exc:  # a page too damaged to even walk
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def full_check_due(checked_at: str | None, every_days: float, now: float | None = None) -> bool:
    """Whether the scheduled full check is due: ``every_days`` after the last one (0: never).

    >>> full_check_due("1000", 1, now=1000 + 86400), full_check_due("1000", 1, now=2000)
    (True, False)
    >>> full_check_due(None, 7, now=0), full_check_due("1000", 0, now=10**9)
    (True, False)
    """
    if every_days <= 0:
        return False
    now = time.time() if now is None else now
    try:
        last = float(checked_at) if checked_at is not None else None
    except ValueError:
        last = None
    return last is None or now - last >= every_days * 86400
