"""Retries with backoff, Retry-After, challenge pages, timeouts and size limits, end to end."""

from __future__ import annotations

from tests.crawlkit import run_crawl
from testsite import Challenge, Hit, Normal, Reply, SiteCopy, Status

A = "/articles/2021-04-05/1700501.html"
A_URL = "https://www.nbd.com.cn" + A
B_URL = "https://www.nbd.com.cn/articles/2021-04-05/1700502.html"


def times(site: SiteCopy, path: str) -> list[float]:
    return [h.at for h in site.hits if h.path == path]


def test_5xx_is_retried_with_backoff(site: SiteCopy, tmp_path):
    site.plan(A, Status(503, b"busy"), Status(503, b"busy"), Normal())
    result = run_crawl(
        site.root,
        f"url={A_URL}",
        tmp_path=tmp_path,
        settings={"NEWSBOT_RETRY_BACKOFF": "0.4", "NEWSBOT_RETRY_BACKOFF_MAX": "5"},
    )
    assert result.returncode == 0, result.explain()
    assert result.ids() == ["1700501"]
    at = times(site, A)
    assert len(at) == 3
    # 0.4 s then 0.8 s, each varied by up to ±50 %.
    assert at[1] - at[0] >= 0.2
    assert at[2] - at[1] >= 0.4
    assert result.stat("retry/count") == 2


def test_5xx_for_ever_fails_the_article(site: SiteCopy, tmp_path):
    site.route(A, lambda hit: Reply(500, b"broken"))
    result = run_crawl(
        site.root, f"url={A_URL},{B_URL}", tmp_path=tmp_path, settings={"RETRY_TIMES": "2"}
    )
    assert result.ids() == ["1700502"], result.explain()
    assert len(times(site, A)) == 3
    assert result.prefixed("newsbot/failed/") == {"http_500": 1}


def test_429_retry_after_is_honoured(site: SiteCopy, tmp_path):
    site.plan(A, Status(429, b"slow down", {"Retry-After": "1"}), Normal())
    result = run_crawl(site.root, f"url={A_URL}", tmp_path=tmp_path)
    assert result.ids() == ["1700501"], result.explain()
    at = times(site, A)
    assert len(at) == 2
    assert at[1] - at[0] >= 0.95
    assert result.stat("newsbot/paused/http_429") == 1


def test_429_asking_for_too_long_a_wait_fails_for_now(site: SiteCopy, tmp_path):
    site.route(A, lambda hit: Reply(429, b"come back tomorrow", {"Retry-After": "86400"}))
    result = run_crawl(
        site.root,
        f"url={A_URL}",
        tmp_path=tmp_path,
        settings={"NEWSBOT_RETRY_AFTER_MAX": "0.5"},
    )
    assert result.records == [], result.explain()
    assert len(times(site, A)) == 1
    assert result.prefixed("newsbot/failed/") == {"http_429": 1}
    assert "not retried in this run" in result.log


def test_challenge_pages_slow_down_then_stop_the_crawl(site_factory, tmp_path):
    site = site_factory()
    site.plan(r"/articles/.*", Challenge())
    result = run_crawl(
        site.root,
        "columns=3",
        tmp_path=tmp_path,
        settings={
            "NEWSBOT_BLOCKED_LIMIT": "3",
            "NEWSBOT_BLOCKED_PAUSE": "0.5",
            "NEWSBOT_BLOCKED_PAUSE_MAX": "1",
            "CONCURRENT_REQUESTS": "1",
        },
    )
    assert result.records == []
    assert result.stats["finish_reason"] == "blocked", result.explain()
    assert "Stopping: 3 challenge pages" in result.log
    assert result.stat("newsbot/blocked/pages") >= 3
    articles = [h for h in site.hits if h.route.startswith("/articles/")]
    assert len(articles) < 13  # it stopped before asking for the whole column
    # After the first challenge the site was left alone for the pause (0.5 s, doubling).
    assert articles[1].at - articles[0].at >= 0.45
    assert result.stat("newsbot/paused/blocked") == 2


# Eight requests in the downloader and one every 50 ms to the host: the others wait in the host's
# downloader slot, past the middleware that checks for pauses. (Without a delay, Scrapy 2.19 starts
# every request queued in a slot at once, whatever its concurrency: they are in flight, not held.)
HELD_QUEUE = {
    "CONCURRENT_REQUESTS": "8",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
    "DOWNLOAD_DELAY": "0.05",
}


def test_a_429_holds_the_requests_already_waiting(site: SiteCopy, tmp_path):
    site.plan(r"/articles/.*", Status(429, b"slow down", {"Retry-After": "1"}), Normal())
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path, settings=HELD_QUEUE)
    assert result.returncode == 0, result.explain()
    refused = next(h for h in site.hits if h.status == 429)
    later = [h.at - refused.at for h in site.hits if h.at > refused.at]
    assert len(later) > 5
    assert min(later) >= 0.95  # nothing at all went to the host during the second asked for


def test_a_challenge_page_holds_the_requests_already_waiting(site_factory, tmp_path):
    site = site_factory()
    site.plan(r"/articles/.*", Challenge())
    result = run_crawl(
        site.root,
        "columns=3",
        tmp_path=tmp_path,
        settings={
            **HELD_QUEUE,
            "NEWSBOT_BLOCKED_LIMIT": "2",
            "NEWSBOT_BLOCKED_PAUSE": "1",
            "NEWSBOT_BLOCKED_PAUSE_MAX": "1",
        },
    )
    assert result.stats["finish_reason"] == "blocked", result.explain()
    first = next(h for h in site.hits if h.route.startswith("/articles/"))
    later = [h.at - first.at for h in site.hits if h.at > first.at]
    assert later
    assert min(later) >= 0.95
    assert result.stat("newsbot/paused/challenge_seen") >= 1


def test_challenge_list_page_is_not_read_as_an_empty_list(site: SiteCopy, tmp_path):
    challenge = (site.site_dir / "challenge.html").read_bytes()
    site.route("/columns/3/", lambda hit: Reply(200, challenge))
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path)
    assert result.records == []
    assert result.stat("newsbot/blocked/list") == 2, result.explain()  # asked twice
    assert result.stat("newsbot/list/no_articles") == 0
    assert "Challenge page instead of a list" in result.log


def test_download_timeout(site: SiteCopy, tmp_path):
    def slow(hit: Hit) -> Reply:
        return Reply(200, b"<html></html>", delay=3)

    site.route(A, slow)
    result = run_crawl(
        site.root,
        f"url={A_URL},{B_URL}",
        tmp_path=tmp_path,
        settings={"DOWNLOAD_TIMEOUT": "1", "RETRY_TIMES": "0"},
    )
    assert result.ids() == ["1700502"], result.explain()
    assert result.prefixed("newsbot/failed/") == {"timeout": 1}


def test_size_limit(site: SiteCopy, tmp_path):
    site.route(A, lambda hit: Reply(200, b"<html><body>" + b"x" * 200_000 + b"</body></html>"))
    result = run_crawl(
        site.root,
        f"url={A_URL},{B_URL}",
        tmp_path=tmp_path,
        settings={"DOWNLOAD_MAXSIZE": "100000"},
    )
    assert result.ids() == ["1700502"], result.explain()
    assert result.prefixed("newsbot/failed/") == {"too_large": 1}
