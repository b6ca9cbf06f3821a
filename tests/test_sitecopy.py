"""The local site copy itself: what it serves, and that its synthetic pages read as articles."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
from scrapy.http import HtmlResponse

from newsbot.pages.article import ArticlePage
from newsbot.pages.listing import ListPage
from tests.crawlkit import PROJECT
from testsite import SiteCopy
from testsite.sitecopy import SEARCH_PATH


def get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_synthetic_articles_read_as_the_records_they_stand_for():
    site = SiteCopy(volume=3)
    synthetic = [a for a in site.articles.values() if a.file is None and not a.special]
    assert len(synthetic) > 20
    bodies = set()
    for article in synthetic:
        body = site.answer_path(article.path).body
        item = ArticlePage(HtmlResponse(f"http://127.0.0.1:1{article.path}", body=body)).to_item()
        assert item.url == article.url
        assert item.title == article.title
        assert item.published_at == article.listed_at
        assert item.reporters and item.editors
        bodies.add(item.body)
    assert len(bodies) == len(synthetic)  # no two share a text


def test_volume_column_pages():
    site = SiteCopy(volume=200, volume_page_size=80)
    pages = [
        ListPage(HtmlResponse(f"http://127.0.0.1:1/columns/9000/page/{n}",
                              body=site.answer_path(f"/columns/9000/page/{n}").body))
        for n in (1, 2, 3)
    ]  # fmt: skip
    assert [len(p.rows) for p in pages] == [80, 80, 40]
    assert [p.next_page_url for p in pages] == [
        "https://www.nbd.com.cn/columns/9000/page/2",
        "https://www.nbd.com.cn/columns/9000/page/3",
        None,
    ]
    assert [r.url for p in pages for r in p.rows] == [a.url for a in site.listed("9000")]
    assert site.answer_path("/columns/9000/page/4").status == 404


def test_binds_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        SiteCopy("0.0.0.0")


def test_command_line_server(tmp_path):
    log = tmp_path / "hits.jsonl"
    server = subprocess.Popen(
        [sys.executable, "tools/sitecopy.py", "--port", "0", "--hit-log", str(log)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        root = banner.split("NEWSBOT_SITE_ROOT=")[1].strip()
        assert get(root + "/robots.txt")[0] == 200
        status, body = get(root + SEARCH_PATH, json.dumps(
            {"keyword": "碳中和", "from": 0, "size": 2}).encode())  # fmt: skip
        assert status == 200
        assert len(json.loads(body)["data"]["searchResults"]) == 2
        assert get(root + "/articles/2021-04-07/1700702.html")[0] == 404
    finally:
        server.terminate()
        server.wait(5)
    hits = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(h["method"], h["path"], h["status"]) for h in hits] == [
        ("GET", "/robots.txt", 200),
        ("POST", SEARCH_PATH, 200),
        ("GET", "/articles/2021-04-07/1700702.html", 404),
    ]


def test_busy_port_is_one_clear_line() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "tools/sitecopy.py", "--port", str(port)],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"sitecopy: cannot listen on 127.0.0.1:{port}: Address already in use (another site "
        "copy or server is using it: stop it, or choose another --port; --port 0 picks a free "
        "one)"
    ]
