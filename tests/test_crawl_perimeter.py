"""The perimeter, end to end: nothing outside the configured site is ever requested, and
robots.txt holds also under concurrency and when it cannot be read."""

from __future__ import annotations

import json

from tests.crawlkit import PROJECT, run_crawl
from testsite import Late, SiteCopy, Status

ALLOWED = [f"https://www.nbd.com.cn/articles/2021-04-0{d}/{i}.html" for d, i in (
    (5, 1700501), (5, 1700502), (5, 1700503), (4, 1700401), (4, 1700402), (4, 1700403),
    (3, 1700301), (3, 1700302),
)]  # fmt: skip
#: robots.txt of the site copy disallows /articles/2021-03-15/.
DISALLOWED = [f"https://www.nbd.com.cn/articles/2021-03-15/169000{n}.html" for n in range(1, 5)]


def test_start_requests_cannot_leave_the_perimeter(site: SiteCopy, trap: SiteCopy, tmp_path):
    """A spider asking with dont_filter (which Scrapy's offsite check lets through) for off-site,
    look-alike, spam and non-http URLs gets none of them; the one on-site URL is fetched."""
    urls = [
        f"{site.root}/columns/3/",
        f"{trap.root}/articles/2021-04-05/1700501.html",
        f"http://www.nbd.com.cn@{trap.host}:{trap.port}/",
        f"http://localhost:{site.port}/columns/3/",
        f"http://{site.host}:{trap.port}/columns/3/",
        f"http://2130706433:{site.port}/columns/3/",
        "https://lianghua.nbd.com.cn/Uploads/view.php/1.html",
        "https://www.nbd.com.cn/columns/3/",  # the real site, while the root is the copy
        "file:///etc/hostname",
        "data:text/html,<p>hello</p>",
        "javascript:alert(1)",
        "mailto:tips@nbd.com.cn",
    ]
    (tmp_path / "urls.txt").write_text("\n".join(urls))
    result = run_crawl(
        site.root,
        tmp_path=tmp_path,
        runspider=PROJECT / "tests" / "perimeter_probe.py",
        # Its items are not articles: no validation, no delivery record.
        settings={
            "PROBE_URLS_FILE": str(tmp_path / "urls.txt"),
            "ITEM_PIPELINES": '{"newsbot.pipelines.ValidationPipeline": null}',
            "NEWSBOT_STATE_ENABLED": "0",
        },
    )
    assert result.returncode == 0, result.explain()
    assert result.records == [{"url": f"{site.root}/columns/3/", "status": 200}]
    assert trap.hits == []
    assert [h.path for h in site.hits] == ["/robots.txt", "/columns/3/"]
    assert all(h.headers["host"] == f"127.0.0.1:{site.port}" for h in site.hits)
    assert result.prefixed("newsbot/refused/") == {
        "offsite": 5,
        "bad_url": 1,
        "spam_host": 1,
        "scheme": 2,  # file:, data: (javascript: and mailto: cannot even be a Request)
    }
    assert result.stat("probe/invalid") == 2
    assert result.stat("probe/lost/Refused") == 9
    assert not result.prefixed("downloader/exception_type_count/scrapy.exceptions.Cannot")


def test_redirect_off_site_from_a_start_url_is_refused(site: SiteCopy, trap: SiteCopy, tmp_path):
    result = run_crawl(
        site.root,
        "url=https://www.nbd.com.cn/articles/2021-04-07/1700703.html,"
        "https://www.nbd.com.cn/articles/2021-04-07/1700704.html,"
        "https://www.nbd.com.cn/articles/2021-04-07/1700708.html",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.explain()
    assert result.records == []
    assert trap.hits == []
    assert len(site.article_hits()) == 3  # the redirects themselves, and nothing after them
    assert all(h.headers["host"] == f"127.0.0.1:{site.port}" for h in site.hits)
    assert result.prefixed("newsbot/failed/") == {"offsite_redirect": 2, "spam_host": 1}


def test_robots_txt_holds_for_many_concurrent_first_requests(site_factory, tmp_path):
    """All start requests arrive while robots.txt is still loading (it takes 0.5 s): every
    one of them is checked against it."""
    site = site_factory()
    site.plan("/robots.txt", Late(0.5))
    result = run_crawl(site.root, "url=" + ",".join(ALLOWED + DISALLOWED), tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert not any(p.startswith("/articles/2021-03-15/") for p in site.paths())
    assert sorted(site.article_hits()) == sorted(u.rsplit("/", 1)[1][:-5] for u in ALLOWED)
    assert len(result.records) == len(ALLOWED)
    assert result.stat("newsbot/refused/robots_forbidden") == len(DISALLOWED)
    assert result.prefixed("newsbot/failed/") == {"robots_forbidden": len(DISALLOWED)}


def test_stock_robots_middleware_leaks_under_the_same_load(site_factory, tmp_path):
    """Canary for the test above: with Scrapy's own RobotsTxtMiddleware (2.14-2.19) the same
    crawl fetches disallowed pages, which is why newsbot replaces it. If this starts failing,
    Scrapy has fixed the race and newsbot.perimeter.RobotsTxtMiddleware.robot_parser can go."""
    site = site_factory()
    site.plan("/robots.txt", Late(0.5))
    stock = {  # Scrapy's robots.txt middleware in place of newsbot's
        "newsbot.perimeter.RobotsTxtMiddleware": None,
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
    }
    result = run_crawl(
        site.root,
        "url=" + ",".join(ALLOWED + DISALLOWED),
        tmp_path=tmp_path,
        # The leaked pages answer 404: failures, but not this test's point.
        settings={"DOWNLOADER_MIDDLEWARES": json.dumps(stock), "NEWSBOT_MAX_FAILED_SHARE": "1"},
    )
    assert result.returncode == 0, result.explain()
    leaked = [p for p in site.paths() if p.startswith("/articles/2021-03-15/")]
    assert leaked, "Scrapy's RobotsTxtMiddleware no longer lets waiting requests through"


def test_robots_txt_5xx_means_disallow_all(site_factory, tmp_path):
    site = site_factory()
    site.plan("/robots.txt", Status(503, b"unavailable"))
    result = run_crawl(site.root, "url=" + ",".join(ALLOWED[:3]), tmp_path=tmp_path)
    # Nothing may be fetched: the site counts as unreachable, and the run fails.
    assert result.returncode == 1, result.explain()
    assert "Run failed: site_unreachable" in result.log.strip().splitlines()[-1]
    assert set(site.paths()) == {"/robots.txt"}  # asked again by the retries, nothing else
    assert result.records == []
    assert result.prefixed("newsbot/failed/") == {"robots_unreachable": 3}
    assert result.stat("newsbot/refused/robots_unreachable") == 3
    assert "robots.txt of 127.0.0.1" in result.log and "RFC 9309" in result.log


def test_robots_txt_timeout_means_disallow_all(site_factory, tmp_path):
    site = site_factory()
    site.plan("/robots.txt", Late(3))
    result = run_crawl(
        site.root,
        "columns=3",
        tmp_path=tmp_path,
        settings={"DOWNLOAD_TIMEOUT": "1", "RETRY_TIMES": "0"},
    )
    assert set(site.paths()) == {"/robots.txt"}, result.explain()
    assert result.records == []
    assert result.stat("newsbot/list/failed/robots_unreachable") == 1
    assert "could not be read" in result.log


def test_robots_txt_404_allows_all(site_factory, tmp_path):
    site = site_factory()
    site.plan("/robots.txt", Status(404, b"unavailable"))
    result = run_crawl(site.root, "url=" + ",".join(DISALLOWED[:1]), tmp_path=tmp_path)
    assert result.returncode == 0, result.explain()
    assert result.ids() == ["1690001"]
