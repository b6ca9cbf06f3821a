"""Delivered is a property of a destination (issue 14 item 3), end to end.

``scrapy crawl nbd`` against the local site copy, as a user runs it: after the main job
(``-o articles.jsonl``), a new feed target gets every article its run selects, the main job's
target keeps its exactly-once series, and each article is fetched at most once per run. Most
crawls run in the test's process (:mod:`tests.crawlkit`).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest

from newsbot.state.store import DB_NAME, SCHEMA_VERSION
from tests.crawlkit import scrapy_crawl
from tests.deliverykit import ROOT, crawl_command, read_records, run
from tests.test_delivery_e2e import assert_exactly_once, stats
from testsite import DeliverySite
from testsite.delivery import COLUMN


def crawl(site: DeliverySite, tmp: Path, *outputs: str, **args: str) -> dict:
    cmd = crawl_command(site.root, tmp / "state", *outputs, args={"columns": COLUMN, **args})
    done = scrapy_crawl(cmd)
    assert done.returncode == 0, done.stderr[-3000:]
    return stats(done)


def csv_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return sorted(row["article_id"] for row in csv.DictReader(fh))


def test_new_targets_after_the_main_job_get_what_their_run_selects(tmp_path: Path) -> None:
    main = ("-o", f"{tmp_path}/main/articles.jsonl")
    with DeliverySite(6) as site:
        ids = sorted(site.ids)
        assert crawl(site, tmp_path, *main)["newsbot/exported"] == 6
        hits = len(site.article_hits())
        assert hits == 6

        # -o out.csv: a target the store has never seen gets every article, each fetched once.
        crawl(site, tmp_path, "-o", f"{tmp_path}/out.csv")
        assert csv_ids(tmp_path / "out.csv") == ids
        assert len(site.article_hits()) == hits + 6
        hits += 6

        # -o blog:hexo, the same.
        crawl(site, tmp_path, "-o", f"{tmp_path}/blog:hexo")
        posts = list((tmp_path / "blog" / "source" / "_posts").rglob("*.md"))
        assert len(posts) == 6
        assert len(site.article_hits()) == hits + 6
        hits += 6

        # A JSON Lines target, then the same target again: nothing new for it, nothing fetched
        # (a CSV file cannot be appended to: newsbot refuses a second -o out.csv).
        crawl(site, tmp_path, "-o", f"{tmp_path}/extra.jsonl")
        assert len(site.article_hits()) == hits + 6
        hits += 6
        again = crawl(site, tmp_path, "-o", f"{tmp_path}/extra.jsonl")
        assert len(site.article_hits()) == hits
        assert again.get("newsbot/exported", 0) == 0
        assert sorted(r["article_id"] for r in read_records(tmp_path, "extra.jsonl")) == ids

        # The main job keeps its series: a new article is fetched and delivered once.
        site.add(1)
        assert crawl(site, tmp_path, *main)["newsbot/exported"] == 1
        assert len(site.article_hits()) == hits + 1
        hits += 1
        assert_exactly_once(tmp_path / "main", site.ids)

        # Main target and a new one in one run: one fetch per article; each gets what it lacks.
        both = crawl(site, tmp_path, *main, "-o", f"{tmp_path}/both.jsonl")
        assert len(site.article_hits()) == hits + 7
        assert both["newsbot/exported"] == 7
        assert_exactly_once(tmp_path / "main", site.ids)
        assert sorted(r["article_id"] for r in read_records(tmp_path, "both.jsonl")) == sorted(
            site.ids
        )


def test_full_run_to_a_new_target_writes_everything(tmp_path: Path) -> None:
    main = ("-o", f"{tmp_path}/main/articles.jsonl")
    with DeliverySite(5) as site:
        crawl(site, tmp_path, *main)
        full = crawl(site, tmp_path, "-o", f"{tmp_path}/out.csv", full="1")
        assert csv_ids(tmp_path / "out.csv") == sorted(site.ids)
        assert len(site.article_hits()) == 10  # full=1 fetches again, once each
        assert full["newsbot/exported"] == 5
        # full=1 to the main target: fetched again, nothing it already has is written twice.
        again = crawl(site, tmp_path, *main, full="1")
        assert again["newsbot/unchanged"] == 5
        assert again.get("newsbot/exported", 0) == 0
        assert_exactly_once(tmp_path / "main", site.ids)


def test_a_search_after_the_main_job_keeps_the_matches_it_delivered(tmp_path: Path) -> None:
    with DeliverySite() as site:
        keyword = "碳中和"
        matches = site.search(keyword)
        assert len(matches) > 3
        urls = ",".join(a.url for a in matches[:3])
        main = crawl_command(
            site.root,
            tmp_path / "state",
            "-o",
            f"{tmp_path}/main/articles.jsonl",
            args={"url": urls},
        )
        assert scrapy_crawl(main).returncode == 0
        assert len(read_records(tmp_path / "main")) == 3

        search = crawl_command(
            site.root, tmp_path / "state", "-o", f"{tmp_path}/found.jsonl", args={"query": keyword}
        )
        done = scrapy_crawl(search)
        assert done.returncode == 0, done.stderr[-3000:]
        found = sorted(r["article_id"] for r in read_records(tmp_path, "found.jsonl"))
        assert found == sorted(a.id for a in matches)

        # The same search into the main target adds only the matches it lacks.
        into_main = crawl_command(
            site.root,
            tmp_path / "state",
            "-o",
            f"{tmp_path}/main/articles.jsonl",
            args={"query": keyword},
        )
        assert scrapy_crawl(into_main).returncode == 0
        assert_exactly_once(tmp_path / "main", [a.id for a in matches])


def as_schema_2(state: Path) -> None:
    """Turn a store back into what the newsbot before destinations left: schema 2, no
    destinations table (the only difference)."""
    db = sqlite3.connect(state / DB_NAME)
    with db:
        db.execute("DROP TABLE destinations")
        db.execute("DELETE FROM meta WHERE key = 'destinations_since'")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()


def test_a_store_of_the_earlier_newsbot_opens_and_its_main_job_goes_on(tmp_path: Path) -> None:
    main = ("-o", f"{tmp_path}/main/articles-%(time)s.jsonl")
    with DeliverySite(5) as site:
        crawl(site, tmp_path, *main)
        as_schema_2(tmp_path / "state")
        site.add(1)
        # The series adopts what its files hold: only the new article is fetched and delivered.
        upgraded = crawl(site, tmp_path, *main)
        assert upgraded["newsbot/exported"] == 1
        assert len(site.article_hits()) == 6
        assert_exactly_once(tmp_path / "main", site.ids)
        db = sqlite3.connect(tmp_path / "state" / DB_NAME)
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        db.close()
        assert version == (str(SCHEMA_VERSION),)
        # A target its files never named gets everything.
        crawl(site, tmp_path, "-o", f"{tmp_path}/out.csv")
        assert csv_ids(tmp_path / "out.csv") == sorted(site.ids)


def test_a_relative_target_is_one_destination_run_after_run(tmp_path: Path) -> None:
    # From the project directory, "../…" paths: the name is the normalised absolute path.
    target = os.path.relpath(tmp_path / "rel" / "articles.jsonl", ROOT)
    assert target.startswith("..")
    with DeliverySite(4) as site:
        assert crawl(site, tmp_path, "-o", target)["newsbot/exported"] == 4
        site.add(1)
        assert crawl(site, tmp_path, "-o", target)["newsbot/exported"] == 1
        assert len(site.article_hits()) == 5
        assert (
            crawl(site, tmp_path, "-o", str(tmp_path / "rel" / "articles.jsonl")).get(
                "newsbot/exported", 0
            )
            == 0
        )
        assert len(site.article_hits()) == 5
        assert_exactly_once(tmp_path / "rel", site.ids)


@pytest.mark.process
def test_stdout_is_a_destination_kept_like_a_file(tmp_path: Path) -> None:
    with DeliverySite(3) as site:
        cmd = crawl_command(
            site.root, tmp_path / "state", "-o", "-:jsonl", args={"columns": COLUMN}
        )
        first = run(cmd, ROOT)
        assert first.returncode == 0, first.stderr[-3000:]
        printed = sorted(json.loads(line)["article_id"] for line in first.stdout.splitlines())
        assert printed == sorted(site.ids)
        second = run(cmd, ROOT)
        assert second.returncode == 0, second.stderr[-3000:]
        assert second.stdout.strip() == ""
        assert len(site.article_hits()) == 3
        # A file target after it still gets everything.
        crawl(site, tmp_path, "-o", f"{tmp_path}/out.csv")
        assert csv_ids(tmp_path / "out.csv") == sorted(site.ids)
