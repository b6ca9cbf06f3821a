"""Messages that point at the cause (issue 13, item 9), through real crawls against the fault
server: a robots.txt or a list page over ``DOWNLOAD_MAXSIZE`` is not "the site is down", a
robots.txt redirecting off the site names where it goes, and feeds split into batches without
a batch parameter in their path are refused at start rather than silently dropped by Scrapy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faultkit import crawl
from tests.test_hostile_input import refused
from testsite import Huge, Redirect, SiteCopy

MIB = 1 << 20


def last_line(log: str) -> str:
    return log.strip().splitlines()[-1]


def test_a_robots_txt_over_the_size_limit_says_so(tmp_path: Path) -> None:
    with SiteCopy(keep_alive=False) as server:
        server.plan("/robots.txt", Huge(3 * MIB))  # DOWNLOAD_MAXSIZE is 1 MiB here
        result = crawl(server, "columns=3", tmp_path=tmp_path)
        assert server.paths() == ["/robots.txt"]
    assert result.returncode == 1
    last = last_line(result.log)
    assert "Run failed: site_unreachable: robots.txt of" in last, last
    assert "is larger than DOWNLOAD_MAXSIZE" in last, last
    assert "is the site down" not in last and "DownloadCancelledError" not in last


def test_a_robots_txt_redirecting_off_the_site_names_where_it_goes(tmp_path: Path) -> None:
    with SiteCopy(keep_alive=False) as server:
        server.plan("/robots.txt", Redirect("http://127.0.0.2:9/robots.txt"))
        result = crawl(server, "columns=3", tmp_path=tmp_path)
        assert server.paths() == ["/robots.txt"]
    assert result.returncode == 1
    last = last_line(result.log)
    assert "robots.txt of" in last and "redirects to 127.0.0.2:9, where newsbot does" in last
    assert "NEWSBOT_ALLOWED_HOSTS" in last and "is the site down" not in last, last


def test_a_list_page_over_the_size_limit_is_not_an_unreachable_site(tmp_path: Path) -> None:
    with SiteCopy(keep_alive=False) as server:
        server.plan("/columns/3/", Huge(3 * MIB))
        result = crawl(server, "columns=3", tmp_path=tmp_path)
    assert result.returncode == 1
    last = last_line(result.log)
    assert "Run failed: list_failed: column 3" in last and "(too_large)" in last, last
    assert "site_unreachable" not in result.log.split("Run failed:")[-1]


@pytest.mark.process
def test_batches_without_a_batch_parameter_are_refused_at_start(
    site: SiteCopy, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    last = refused(
        site,
        ["columns=3"],
        FEEDS=f'{{"{out}/a.jsonl": {{"format": "jsonlines"}}}}',
        FEED_EXPORT_BATCH_ITEM_COUNT="3",
    )
    assert "FEED_EXPORT_BATCH_ITEM_COUNT is 3, but the feed" in last, last
    assert "has no %(batch_id)d or %(batch_time)s in its path" in last
    last = refused(
        site,
        ["columns=3"],
        FEEDS=f'{{"{out}/b.jsonl": {{"format": "jsonlines", "batch_item_count": 5}}}}',
    )
    assert "its batch_item_count is 5, but the feed" in last, last
    assert not out.exists()
