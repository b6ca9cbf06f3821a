"""What operations asks of the state store: the failed articles (the dead-letter list), the
files a run published, and a first run under the cron recipe's lock and logs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsbot.state.errors import StateMissing
from newsbot.state.model import Delivery
from newsbot.state.store import StateStore


def test_failed_articles_are_the_dead_letter_list(tmp_path: Path):
    with StateStore(tmp_path / "state") as store:
        store.discovered("11", url_date="2021-04-05", column="3")
        store.discovered("12", url_date="2021-04-05", column="3")
        store.discovered("13", url_date="2021-04-04")
        store.failed("11", "http_500", url_date="2021-04-05")
        store.failed("11", "timeout", url_date="2021-04-05")
        store.failed("13", "http_404", url_date="2021-04-04")
        delivered = Delivery("12", bytes(16), 1, 1_617_600_000, 20210405, "3")
        store.bulk_exported([(delivered, str(tmp_path / "out.jsonl"))])
        store.failed("12", "timeout")  # a failed recheck leaves it exported
        store.commit()
        failed = {row.article_id: row for row in store.failed_articles()}
    assert sorted(failed) == ["11", "13"]
    assert (failed["11"].reason, failed["11"].attempts, failed["11"].column) == ("timeout", 2, "3")
    assert (failed["13"].reason, failed["13"].attempts, failed["13"].url_date) == (
        "http_404", 1, 20210404,
    )  # fmt: skip


def test_files_published_since(tmp_path: Path):
    with StateStore(tmp_path / "state") as store:
        before = int(time.time())
        deliveries = [Delivery(str(i), bytes(16), 1, None, 20210405, "3") for i in (1, 2, 3)]
        store.bulk_exported((d, str(tmp_path / "a.jsonl")) for d in deliveries)
        assert store.files_published_since(before) == [(str(tmp_path / "a.jsonl"), 1)]
        assert store.files_published_since(before + 3600) == []


def test_a_first_run_under_the_cron_recipe_gets_a_new_store(tmp_path: Path):
    """The recipe makes its lock and log directory before the first crawl opens the store."""
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "cron.lock").touch()
    (state / "logs" / "20261124T080000Z.log").write_text("starting\n")
    StateStore(state).close()
    assert (state / "state.sqlite3").exists()


def test_a_lost_store_beside_run_reports_is_not_recreated(tmp_path: Path):
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)
    (state / "cron.lock").touch()
    with pytest.raises(StateMissing, match="runs"):
        StateStore(state)
