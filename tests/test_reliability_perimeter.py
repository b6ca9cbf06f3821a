"""Hostile links, redirects and start URLs: nothing outside the site is ever requested.

The site is the fault server on 127.0.0.1; the ``trap`` (127.0.0.2) is the "other host" most
hostile URLs point at, and its hit log must stay empty. Private, link-local and remote
addresses cannot be watched that way, so each test also checks that every request Scrapy's
downloader sent was received by the site (``downloader/request_count``): a request to any
other address would make the counts differ. (tests/test_crawl_perimeter.py covers the plain
cases: the trap's own URL, a userinfo look-alike, localhost, another port, a decimal IP, spam
hosts, the real site, file:, data:, javascript: and mailto: start requests.)
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from newsbot.perimeter import SitePerimeter
from newsbot.spiders.arguments import ArgumentError, parse_arguments
from tests.crawlkit import PROJECT, run_crawl
from tests.faultkit import assert_accounted, crawl, ledger, no_request_left_the_server
from testsite import Page, Redirect, SiteCopy

DAY = "2021-04-05"


def hostile_urls(trap: SiteCopy, day: str, first_id: int) -> dict[str, str]:
    """Article-shaped URLs (each with an id of its own) on hosts that are not the site."""
    other = f"{trap.host}:{trap.port}"
    forms = [
        f"http://www.nbd.com.cn@{other}/",  # userinfo look-alike
        f"http://www.nbd.com.cn\\@{other}/",  # …behind a backslash (WHATWG reads it as a path)
        f"http://{other}#@www.nbd.com.cn/",  # the host is before the fragment
        f"http://nbd.com.cn.{trap.host}.nip.io:{trap.port}/",  # a suffix look-alike
        "http://www.nbd.com.cn.evil.test/",
        "http://xn--nbd-ysa.com.cn/",  # punycode look-alike
        "http://www.nbd.com.\u0441n/",  # IDN: a Cyrillic es
        "http://www.nbd.com.cn\u3002evil.test/",  # IDN: an ideographic full stop
        "http://\uff57\uff57\uff57.nbd.com.cn.evil.test/",  # full-width letters
        f"http://{other}/",  # the other host itself
        f"//{other}/",  # protocol-relative
        f"http://localhost:{trap.port}/",
        f"http://2130706434:{trap.port}/",  # 127.0.0.2 as a decimal
        f"http://0x7f000002:{trap.port}/",  # …in hex
        f"http://0177.0.0.2:{trap.port}/",  # …in octal
        f"http://127.2:{trap.port}/",  # …short form
        f"http://[::ffff:127.0.0.2]:{trap.port}/",  # …IPv4-mapped IPv6
        "http://[::1]/",
        "http://169.254.169.254/",  # link-local: cloud metadata
        "http://[fe80::1]/",
        "http://10.0.0.1/",  # private
        "http://192.168.1.1:8080/",
        "http://172.16.0.1/",
        "ftp://www.nbd.com.cn/",  # non-http schemes on the site's own host
        "file:///",
        "gopher://www.nbd.com.cn/",
    ]
    out = {}
    for n, form in enumerate(forms):
        ident = str(first_id + n)
        out[ident] = f"{form}articles/{day}/{ident}.html"
    return out


def list_page(rows: dict[str, str]) -> bytes:
    """A column page in the site's 2019–2026 list markup with these (title, href) rows."""
    items = "".join(
        f'<li class="u-news-title"><a href="{html.escape(href)}">{html.escape(title)}</a>'
        f"<span>10:00:00</span></li>"
        for title, href in rows.items()
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>栏目</title></head><body>'
        f'<div class="g-list-text"><div class="m-list"><p class="u-channeltime">{DAY}</p>'
        f'<ul class="u-news-list">{items}</ul></div></div></body></html>'
    ).encode()


def test_hostile_list_links_are_never_requested(trap: SiteCopy, tmp_path: Path) -> None:
    hostile = hostile_urls(trap, DAY, 1_900_001)
    rows = {f"稿件{i}": url for i, url in hostile.items()}
    rows["真稿件"] = f"https://m.nbd.com.cn/articles/{DAY}/1700501.html?from=list#top"
    rows["脚本"] = f"javascript:location='http://{trap.host}:{trap.port}/'"
    rows["数据"] = "data:text/html,<script>location='//127.0.0.2/'</script>"
    with SiteCopy(keep_alive=False) as server:
        server.plan("/columns/77/", Page(list_page(rows)))
        result = crawl(server, "columns=77", tmp_path=tmp_path)
        paths = server.paths()
    assert result.returncode == 0, result.explain()
    assert trap.hits == []
    no_request_left_the_server(result, server)
    assert sorted(paths) == ["/articles/2021-04-05/1700501.html", "/columns/77/",
                             "/columns/77/page/2", "/robots.txt"]  # fmt: skip
    assert_accounted(result, tmp_path / "state", {"1700501": "exported"})
    refused = result.prefixed("newsbot/refused/")
    assert sum(refused.values()) == len(hostile) + 2, refused
    assert set(refused) == {"bad_url", "offsite", "scheme"}


@pytest.mark.parametrize("status", [302, 308])
def test_hostile_redirects_are_never_followed(trap: SiteCopy, tmp_path: Path, status: int) -> None:
    hostile = hostile_urls(trap, DAY, 1_910_001)
    good = ["1700501", "1700502"]
    with SiteCopy(keep_alive=False) as server:
        for ident, url in hostile.items():
            server.plan(re.escape(f"/articles/{DAY}/{ident}.html"), Redirect(url, status))
        articles = [f"https://www.nbd.com.cn/articles/{DAY}/{i}.html" for i in [*good, *hostile]]
        result = crawl(server, "url=" + ",".join(articles), tmp_path=tmp_path)
    assert trap.hits == []
    no_request_left_the_server(result, server)
    got = {i: v for i, v in ledger(tmp_path / "state").items() if i in hostile}
    assert set(got.values()) <= {"failed:offsite_redirect", "failed:bad_url", "failed:scheme"}
    assert len(got) == len(hostile)
    assert sorted(result.ids()) == good
    # Refusing what the site points at is the perimeter working, not the run failing.
    assert result.returncode == 0, result.explain()


def test_hostile_start_urls_are_refused_before_anything_is_fetched(trap: SiteCopy) -> None:
    """``-a url=`` and ``urls_file`` lines that are not the site's article URLs stop the run at
    once (exit 2); the look-alikes that *are* the site (userinfo before it, the mobile host)
    map onto the configured root."""
    for url in hostile_urls(trap, DAY, 1_920_001).values():
        with pytest.raises(ArgumentError):
            parse_arguments({"url": url}, feed_params=set())
    args = parse_arguments(
        {"url": f"http://{trap.host}:{trap.port}@www.nbd.com.cn/articles/{DAY}/1700501.html"},
        feed_params=set(),
    )
    assert args.urls == (f"https://www.nbd.com.cn/articles/{DAY}/1700501.html",)


@pytest.mark.process
def test_a_hostile_start_url_stops_the_crawl_command(trap: SiteCopy, tmp_path: Path) -> None:
    look_alike = f"http://www.nbd.com.cn@{trap.host}:{trap.port}/articles/{DAY}/1700501.html"
    with SiteCopy(keep_alive=False) as server:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"https://www.nbd.com.cn/articles/{DAY}/1700502.html\n{look_alike}\n")
        # process: the crawl command's exit status 2 (a usage error)
        result = crawl(server, f"urls_file={urls}", tmp_path=tmp_path, process=True)
        assert server.hits == []
    assert trap.hits == []
    assert result.returncode == 2, result.explain()
    assert "line 2" in result.log
    assert result.records == []
    assert not (tmp_path / "state" / "state.sqlite3").exists()  # nothing discovered


def test_start_requests_to_private_and_disguised_addresses_are_refused(
    trap: SiteCopy, tmp_path: Path
) -> None:
    """A spider that asks (``dont_filter``) for the hostile URLs directly: the perimeter below
    every spider refuses each one."""
    with SiteCopy(keep_alive=False) as server:
        urls = [u for u in hostile_urls(trap, DAY, 1_930_001).values() if u.startswith("http")]
        urls.append(f"{server.root}/columns/3/")
        (tmp_path / "urls.txt").write_text("\n".join(urls))
        result = run_crawl(
            server.root,
            tmp_path=tmp_path,
            runspider=PROJECT / "tests" / "perimeter_probe.py",
            settings={
                "PROBE_URLS_FILE": str(tmp_path / "urls.txt"),
                "ITEM_PIPELINES": '{"newsbot.pipelines.ValidationPipeline": null}',
                "NEWSBOT_STATE_ENABLED": "0",
            },
        )
        paths = server.paths()
    assert result.returncode == 0, result.explain()
    assert trap.hits == []
    no_request_left_the_server(result, server)
    assert paths == ["/robots.txt", "/columns/3/"]
    assert result.records == [{"url": f"{server.root}/columns/3/", "status": 200}]
    # Every other URL was refused by the perimeter (or could not even be a request).
    refused = result.stat("probe/lost/Refused") + result.stat("probe/invalid")
    assert refused == len(urls) - 1, result.explain()


def test_the_perimeter_rule_refuses_every_hostile_form(trap: SiteCopy) -> None:
    """The pure rule behind the tests above, for the real site's root as well: a leak there
    would reach the Internet, not a trap."""
    for root in ("http://127.0.0.1:8765", "https://www.nbd.com.cn"):
        perimeter = SitePerimeter(root)
        for url in hostile_urls(trap, DAY, 1_940_001).values():
            if url.startswith("//"):
                url = "http:" + url
            assert perimeter.why_refused(url) is not None, (root, url)
            assert perimeter.to_site(url) is None, (root, url)
