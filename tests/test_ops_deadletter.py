"""The dead-letter list is updated from what a run touched, not rewritten from the whole store
(newsbot/ops/deadletter.py), and always ends equal to the store's failed articles."""

from __future__ import annotations

import json
from pathlib import Path

from newsbot.ops import deadletter
from newsbot.state.model import Delivery
from newsbot.state.store import StateStore


def listed(path: Path) -> list[str]:
    return [json.loads(line)["article_id"] for line in path.read_text().splitlines()]


def from_store(store: StateStore) -> list[str]:
    return [row.article_id for row in store.failed_articles()]


def test_the_list_is_updated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "dead-letter.jsonl"
    with StateStore(tmp_path / "s") as store:
        assert deadletter.update(path, store, set(), 3) == {"path": str(path), "count": 0}
        assert not path.exists()  # nothing ever failed: no file

        for i in range(1, 6):
            store.failed(str(i), "http_404", url_date="2026-01-02")
        store.commit()
        assert deadletter.update(path, store, set(), 3)["count"] == 5  # no file yet: in full
        assert sorted(listed(path)) == ["1", "2", "3", "4", "5"]
        first = path.read_bytes()

        # A run that touched none of them leaves the file as it is (not even rewritten).
        inode = path.stat().st_ino
        assert deadletter.update(path, store, {"99"}, 3)["count"] == 5
        assert path.stat().st_ino == inode and path.read_bytes() == first

        # 2 is exported now, 6 failed for the first time, 4 failed again.
        store.bulk_exported([(Delivery("2", b"\0" * 16, 1), "out.jsonl")])
        store.failed("6", "timeout", url_date="2026-01-03")
        store.failed("4", "timeout")
        store.commit()
        assert deadletter.update(path, store, {"2", "4", "6"}, 3)["count"] == 5
        lines = path.read_text().splitlines()
        assert sorted(listed(path)) == sorted(from_store(store)) == ["1", "3", "4", "5", "6"]
        assert set(listed(path)[:2]) == {"4", "6"}  # the ones just tried come first
        untouched = [line for line in first.decode().splitlines() if '"2"' not in line]
        untouched = [line for line in untouched if '"4"' not in line]
        assert lines[2:] == untouched  # the others' lines kept as they were
        four = json.loads(lines[listed(path).index("4")])
        assert four["attempts"] == 2 and four["reason"] == "timeout"
        assert four["retried_automatically"] is True


def test_a_list_that_disagrees_with_the_store_is_written_from_it(tmp_path: Path) -> None:
    path = tmp_path / "dead-letter.jsonl"
    with StateStore(tmp_path / "s") as store:
        for i in range(1, 4):
            store.failed(str(i), "http_500")
        store.commit()
        deadletter.update(path, store, set(), 3)
        # A line lost (a run died before writing the list, or someone edited it) ...
        path.write_text("\n".join(path.read_text().splitlines()[1:]) + "\n")
        assert deadletter.update(path, store, set(), 3)["count"] == 3
        assert sorted(listed(path)) == ["1", "2", "3"]
        # ... or something that is not a line of ours.
        path.write_text("garbage\n" * 3)
        assert deadletter.update(path, store, {"1"}, 3)["count"] == 3
        assert listed(path) == from_store(store)
