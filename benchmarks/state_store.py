"""How the state store scales: ids per second for lookups and inserts, and its size on disk.

    python benchmarks/state_store.py [--ids 1000000,5000000] [--lookups 200000]
                                     [--inserts 100000] [--dir DIR]

For each size N it builds a store the way years of crawling leave it (N article ids, mostly
exported with a content hash, a file and a text fingerprint; some dropped, failed or pending),
then measures, on that store:

- ``open``: opening it as a crawl does (lock, the light check, recovery), in seconds;
- ``lookup hit`` / ``lookup miss``: ``is_settled(id)`` (what the spider and the incremental
  middleware ask for every listed article) for random known and unknown ids, ids per second;
- ``insert``: ``discovered(id)`` for new ids with the crawl's batched commits, ids per second;
- ``bulk``: the initial load (``executemany``), ids per second;
- ``size``: the database and its WAL after a checkpoint, MiB and bytes per id.

The files go to ``--dir`` (default: a temporary directory, removed afterwards). 5 M ids take
about 1 GiB of free space there, and a few minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine_line

from newsbot.processors import BEIJING
from newsbot.state.model import DROPPED, EXPORTED, FAILED, PENDING
from newsbot.state.store import DB_NAME, StateStore

FIRST_ID = 1_000_000
COLUMNS = ("3", "332", "1161", "1367", "2", "5")
NEWEST = 1_790_000_000  # a publication time, seconds since the epoch (2026)


# The loaders below write the store's tables directly (a crawl never needs a bulk load of
# synthetic rows): they live with the benchmark, not in newsbot.state.store.


def insert_many(
    store: StateStore,
    rows: Iterable[tuple[int, int, int | None, str | None, bytes | None, int | None]],
) -> None:
    """Bulk load for benchmarks: ``(article_id, state, published_at, column, content_hash,
    text_hash)`` rows, as a crawl would have left them (exported ones with a file)."""
    now = int(time.time())
    file_id = store._file_id("benchmark.jsonl", 0)
    texts: list[tuple[int, int]] = []

    def articles() -> Iterator[tuple[Any, ...]]:
        for ident, state, published, column, digest, text in rows:
            if text is not None:
                texts.append((text, ident))
            day = dt.datetime.fromtimestamp(published or now, BEIJING)
            yield (
                ident,
                state,
                now,
                now,
                day.year * 10000 + day.month * 100 + day.day,
                published,
                column,
                1 if state == EXPORTED else 0,
                digest,
                file_id if state == EXPORTED else None,
            )

    store._db.executemany(
        "INSERT INTO articles (article_id, state, discovered_at, updated_at, url_date,"
        " published_at, column_id, revision, content_hash, file_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        articles(),
    )
    store._db.executemany("INSERT OR IGNORE INTO texts VALUES (?, ?)", texts)
    store.commit()


def disk_size(store: StateStore) -> int:
    """Bytes the store takes on disk, WAL included, after a checkpoint."""
    store.checkpoint()
    return sum(
        p.stat().st_size
        for p in store.directory.iterdir()
        if p.name.startswith(DB_NAME) and p.is_file()
    )


def rows(start: int, count: int):  # type: ignore[no-untyped-def]
    """Synthetic rows for ids start..start+count-1: 95 % exported, 3 % dropped, the rest failed
    or pending; about seven minutes between two articles."""
    for ident in range(start, start + count):
        r = ident % 100
        state = EXPORTED if r < 95 else DROPPED if r < 98 else FAILED if r < 99 else PENDING
        published = NEWEST - (FIRST_ID + 10_000_000 - ident) * 420
        digest = hashlib.blake2b(ident.to_bytes(8, "big"), digest_size=16).digest()
        exported = state == EXPORTED
        text = int.from_bytes(digest[:8], "big", signed=True) if exported else None
        yield (
            ident,
            state,
            published,
            COLUMNS[ident % len(COLUMNS)],
            digest if exported else None,
            text,
        )


def build(directory: Path, n: int) -> float:
    """Load n ids; returns ids per second."""
    chunk = 200_000
    t0 = time.perf_counter()
    with StateStore(directory) as store:
        for start in range(FIRST_ID, FIRST_ID + n, chunk):
            insert_many(store, rows(start, min(chunk, FIRST_ID + n - start)))
    return n / (time.perf_counter() - t0)


def measure(directory: Path, n: int, lookups: int, inserts: int) -> dict[str, float]:
    out: dict[str, float] = {"ids": n, "bulk": build(directory, n)}
    t0 = time.perf_counter()
    store = StateStore(directory)
    store.recover()
    out["open"] = time.perf_counter() - t0
    try:
        rng = random.Random(n)
        known = [str(rng.randrange(FIRST_ID, FIRST_ID + n)) for _ in range(lookups)]
        unknown = [str(FIRST_ID + n + 1_000_000 + i) for i in range(lookups)]
        for name, ids in (("lookup hit", known), ("lookup miss", unknown)):
            t0 = time.perf_counter()
            settled = sum(store.is_settled(i) for i in ids)
            out[name] = len(ids) / (time.perf_counter() - t0)
            if name == "lookup miss":
                assert settled == 0
        new = [str(FIRST_ID + n + i) for i in range(inserts)]
        t0 = time.perf_counter()
        for ident in new:
            store.discovered(ident, url_date="2026-09-30", column="3")
        store.commit()
        out["insert"] = inserts / (time.perf_counter() - t0)
        size = disk_size(store)
    finally:
        store.close()
    out["size MiB"] = size / 2**20
    out["bytes/id"] = size / (n + inserts)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ids", default="1000000,5000000", help="comma separated store sizes")
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--inserts", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="where to build the stores (default: a temp dir)")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.ids.split(",") if s.strip()]

    print(machine_line(("scrapy",)))
    import sqlite3

    print(f"# SQLite {sqlite3.sqlite_version}; lookups {args.lookups}, inserts {args.inserts}")
    header = ("ids", "bulk", "open", "lookup hit", "lookup miss", "insert", "size MiB", "bytes/id")
    units = ("", "ids/s", "s", "ids/s", "ids/s", "ids/s", "", "")
    print(" | ".join(f"{h} {u}".strip().rjust(16) for h, u in zip(header, units, strict=True)))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for n in sizes:
            result = measure(Path(tmp) / f"store-{n}", n, args.lookups, args.inserts)
            cells = []
            for h in header:
                value = result[h]
                fmt = {"open": "{:.2f}", "size MiB": "{:,.1f}"}.get(h, "{:,.0f}")
                cells.append(fmt.format(value))
            print(" | ".join(c.rjust(16) for c in cells), flush=True)


if __name__ == "__main__":
    main()
