"""Scrapy's own commands on the project, run as a user runs them: ``scrapy parse``, ``scrapy
check`` and ``scrapy shell`` in a subprocess, against the local copy of the site on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.crawlkit import PROJECT

if TYPE_CHECKING:
    from testsite import Hit, Reply, SiteCopy

pytestmark = pytest.mark.process

ARTICLE = "/articles/2021-10-12/1967420.html"  # fixtures/articles/ai-flash-no-byline.html
FIXTURE = PROJECT / "fixtures" / "articles" / "ai-flash-no-byline.html"


def scrapy(
    *args: str, cwd: Path = PROJECT, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """``python -m scrapy ARGS`` in the project, with loopback-only DNS and no state left
    behind in the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    env.pop("http_proxy", None)
    env.pop("https_proxy", None)
    env["SCRAPY_PYTHON_SHELL"] = "python"
    command = [sys.executable, "-m", "scrapy", *args]
    command += ["-s", "DNS_RESOLVER=tests.crawlkit.LoopbackResolver"]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def explain(done: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(done.args)
    return f"$ {command}\nexit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"


# -- scrapy parse ---------------------------------------------------------------------------


def test_parse_article_url_of_the_local_copy(site: SiteCopy, tmp_path: Path) -> None:
    # No NEWSBOT_SITE_ROOT given: the URL's own site is read, and nothing is kept.
    state = tmp_path / "state"
    done = scrapy(
        "parse", "--spider", "nbd", "--nocolour", site.root + ARTICLE,
        "-s", f"NEWSBOT_STATE_DIR={state}",
    )  # fmt: skip
    assert done.returncode == 0, explain(done)
    assert "'article_id': '1967420'" in done.stdout, explain(done)
    assert "'url': 'https://www.nbd.com.cn/articles/2021-10-12/1967420.html'" in done.stdout
    assert ARTICLE in site.paths("GET")
    assert not state.exists(), "parse must not open the delivery record"


def test_parse_with_the_article_callback(site: SiteCopy) -> None:
    done = scrapy(
        "parse", "--spider", "nbd", "--nocolour", "-c", "parse_article", site.root + ARTICLE
    )
    assert done.returncode == 0, explain(done)
    assert "'article_id': '1967420'" in done.stdout, explain(done)
    assert "KeyError" not in done.stderr


def test_parse_list_page_shows_the_article_requests_and_the_next_page(site: SiteCopy) -> None:
    done = scrapy("parse", "--spider", "nbd", "--nocolour", site.root + "/columns/1161/")
    assert done.returncode == 0, explain(done)
    assert f"<GET {site.root}{ARTICLE}>" in done.stdout, explain(done)
    assert f"<GET {site.root}/columns/1161/page/2>" in done.stdout, explain(done)


def test_parse_a_further_list_page_knows_its_column_and_number(site: SiteCopy) -> None:
    done = scrapy("parse", "--spider", "nbd", "--nocolour", site.root + "/columns/3/page/2")
    assert done.returncode == 0, explain(done)
    assert f"<GET {site.root}/columns/3/page/3>" in done.stdout, explain(done)


def test_parse_search_url_asks_the_api_for_the_keyword(site: SiteCopy) -> None:
    url = site.root + "/news-search/queryByMatch?keyword=碳中和"
    done = scrapy("parse", "--spider", "nbd", "--nocolour", url)
    assert done.returncode == 0, explain(done)
    posts = [h for h in site.hits if h.method == "POST"]
    assert [h.json()["keyword"] for h in posts] == ["碳中和"]
    found = [line for line in done.stdout.splitlines() if "/articles/" in line]
    assert len(found) == 8, explain(done)  # the eight 碳中和 articles of fixtures/site


def test_parse_search_with_the_query_argument(site: SiteCopy) -> None:
    done = scrapy(
        "parse", "--spider", "nbd", "--nocolour", "-a", "query=碳中和",
        site.root + "/news-search/queryByMatch",
    )  # fmt: skip
    assert done.returncode == 0, explain(done)
    assert [h.json()["keyword"] for h in site.hits if h.method == "POST"] == ["碳中和"]


def test_parse_failures_exit_1_with_the_reason(site: SiteCopy) -> None:
    missing = scrapy("parse", "--spider", "nbd", site.root + "/articles/2021-10-12/9999999.html")
    assert missing.returncode == 1, explain(missing)
    assert "No response downloaded" in missing.stderr

    # A list page read as an article: no record, the reason named, exit 1.
    wrong = scrapy("parse", "--spider", "nbd", "-c", "parse_article", site.root + "/columns/3/")
    assert wrong.returncode == 1, explain(wrong)
    assert "not_article" in wrong.stderr, explain(wrong)

    other = scrapy("parse", "--spider", "nbd", site.root + "/robots.txt")
    assert other.returncode == 1, explain(other)
    assert "is not a page the nbd spider reads" in other.stderr, explain(other)


def test_parse_unknown_callback_is_one_line(site: SiteCopy) -> None:
    done = scrapy("parse", "--spider", "nbd", "-c", "parse_nothing", site.root + ARTICLE)
    assert done.returncode == 2, explain(done)
    assert "nbd has no callback 'parse_nothing'" in done.stderr
    assert "Traceback" not in done.stderr
    assert site.paths() == []


# -- scrapy check ---------------------------------------------------------------------------


def test_check_lists_the_contracts() -> None:
    done = scrapy("check", "-l")
    assert done.returncode == 0, explain(done)
    assert done.stdout.split() == [
        "nbd",
        "*",
        "parse_article",
        "*",
        "parse_list",
        "*",
        "parse_search",
    ]


def test_check_runs_the_contracts_against_the_local_copy(site: SiteCopy, tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = scrapy(
        "check", "-v", "nbd", "-s", f"NEWSBOT_SITE_ROOT={site.root}",
        "-s", f"NEWSBOT_STATE_DIR={state}",
    )  # fmt: skip
    assert done.returncode == 0, explain(done)
    report = done.stderr + done.stdout
    assert "Ran 7 contracts" in report, explain(done)
    assert "OK" in report
    assert {ARTICLE, "/columns/1161/"} <= set(site.paths("GET"))
    assert [h.json()["keyword"] for h in site.hits if h.method == "POST"] == ["碳中和"]
    assert not state.exists()


def test_check_fails_when_the_layout_changes(site: SiteCopy) -> None:
    # The article answers a page without the article markup, the list no article links.
    def bare(hit: Hit) -> Reply:
        from testsite import Reply

        return Reply(
            200, b"<html><body><p>nothing here</p></body></html>", {"Content-Type": "text/html"}
        )

    site.route(r"/articles/.*", bare)
    site.route(r"/columns/.*", bare)
    done = scrapy("check", "nbd", "-s", f"NEWSBOT_SITE_ROOT={site.root}")
    assert done.returncode == 1, explain(done)
    report = done.stderr + done.stdout
    assert "FAILED" in report, explain(done)
    assert "Returned 0 items, expected 1" in report, explain(done)
    assert "parse_list" in report


# -- scrapy shell ---------------------------------------------------------------------------


def test_shell_opens_a_local_copy_url(site: SiteCopy) -> None:
    done = scrapy("shell", "--nolog", site.root + ARTICLE, "-c", "response.status")
    assert done.returncode == 0, explain(done)
    assert done.stdout.strip() == "200", explain(done)
    assert ARTICLE in site.paths("GET")


def test_shell_reads_a_saved_file_and_extracts_it(tmp_path: Path) -> None:
    page = tmp_path / "saved.html"
    page.write_bytes(FIXTURE.read_bytes())
    done = scrapy("shell", "--nolog", str(page), "-c", "extract()", cwd=PROJECT)
    assert done.returncode == 0, explain(done)
    record = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    expected = json.loads(FIXTURE.with_suffix(".json").read_text("utf-8"))
    assert record["article_id"] == "1967420"
    assert record["title"] == expected["title"]


def test_shell_with_the_spider_says_why_a_page_is_refused(site: SiteCopy, tmp_path: Path) -> None:
    page = tmp_path / "saved.html"
    page.write_bytes(FIXTURE.read_bytes())
    done = scrapy("shell", "--nolog", "--spider", "nbd", str(page), "-c", "response.status")
    assert done.returncode == 1, explain(done)
    assert "newsbot: no response for file://" in done.stderr
    assert "refused (scheme)" in done.stderr
    assert "Traceback" not in done.stderr

    # The spider's own site root, taken from a local copy's URL: it works.
    state = tmp_path / "state"
    ok = scrapy(
        "shell", "--nolog", "--spider", "nbd", site.root + ARTICLE, "-c", "response.status",
        "-s", f"NEWSBOT_STATE_DIR={state}",
    )  # fmt: skip
    assert ok.returncode == 0, explain(ok)
    assert ok.stdout.strip().endswith("200")
    assert not state.exists(), "the console never opens the delivery record"
