"""Saved pages of the 2025–2026 site with ``scrapy extract``, as an analyst runs it: pages
saved from the second host read like any other; a page of the host's former owner (2019) is
not an article; the time comes from whichever source the page has."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from tests.helpers import FIXTURES
from tests.test_extract_command import scrapy_extract
from testsite import SiteCopy
from testsite.sitecopy import SECOND_HOST

FORMER = FIXTURES / "site" / "mrjjxw-2019.html"


def test_a_page_of_the_former_second_host_is_not_an_article(tmp_path: Path):
    # Saved the way wget mirrors it, under an article-shaped path and with a pubDate script:
    # still another site's template, never read as a 每经网 article.
    saved = tmp_path / SECOND_HOST / "articles" / "2019-05-10" / "1234.html"
    saved.parent.mkdir(parents=True)
    shutil.copy(FORMER, saved)
    done = scrapy_extract(str(saved))
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"{saved}: not_article:" in done.stderr
    with pytest.raises(NotArticle) as caught:
        ArticlePage(HtmlResponse(f"http://{SECOND_HOST}/x", body=FORMER.read_bytes())).to_item()
    assert caught.value.reason == "not_article"


def test_pages_saved_from_the_second_host_extract_like_any_other(site: SiteCopy, tmp_path: Path):
    pages = {i: site.answer_path(site.articles[i].path).body for i in ("4490136", "4490138")}
    mirrored = tmp_path / SECOND_HOST / "articles" / "2026-07-21" / "4490136.html"
    mirrored.parent.mkdir(parents=True)
    mirrored.write_bytes(pages["4490136"])
    named = tmp_path / "跨境支付.html"  # a browser's name: the URL comes from --url
    named.write_bytes(pages["4490138"].replace(b'rel="canonical"', b'rel="x-canonical"'))

    done = scrapy_extract(str(mirrored))
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["url"] == "https://www.nbd.com.cn/articles/2026-07-21/4490136.html"
    assert record["published_at_source"] == "span.time"

    url = f"https://{SECOND_HOST}/articles/2026-07-21/4490138.html"
    done = scrapy_extract(str(named), "--url", url)
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["url"] == "https://www.nbd.com.cn/articles/2026-07-21/4490138.html"
    assert record["article_id"] == "4490138"
    assert record["published_at"] == "2026-07-21T09:10:00+08:00"
    assert record["published_at_raw"] == "2026-07-21T01:10:00Z"
    assert record["published_at_source"] == "json-ld"
