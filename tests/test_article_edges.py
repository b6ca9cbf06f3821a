"""Edge cases of the article page that no whole-page fixture needs: small pages built inline."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scrapy.http import HtmlResponse

from newsbot.items import ArticleItem
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage

URL = "http://127.0.0.1:8765/articles/2022-03-04/2100001.html?from=mirror"


def page(body: str, top: str = "", head: str = "", url: str = URL) -> ArticleItem:
    html = (
        f"<html><head><meta charset='utf-8'>{head}</head><body><div class='g-article'>"
        "<div class='g-article-top'><h1><!-- <a href='#'>旧链接</a> -->  标题\u3000一  </h1>"
        "<p class='u-time'><span class='source'> 每日经济新闻 </span>"
        f"<span class='time'> 2022-03-04 08:09:10 </span></p>{top}</div>"
        f"<div class='g-articl-text'>{body}</div></div></body></html>"
    )
    return ArticlePage(HtmlResponse(url=url, body=html.encode())).to_item()


def test_mirror_url_becomes_canonical_and_relative_images_resolve_on_the_site() -> None:
    item = page("<p>正文。</p><p><img src='/uploads/a.jpg'></p>")
    assert item.url == "https://www.nbd.com.cn/articles/2022-03-04/2100001.html"
    assert item.images == ["https://www.nbd.com.cn/uploads/a.jpg"]
    assert item.title == "标题 一"


def test_lazy_placeholder_gives_way_to_the_real_image() -> None:
    item = page(
        "<p>正文。</p><img src='/img/loading.gif' data-original='//image.nbd.com.cn/b.jpg'>"
    )
    assert item.images == ["https://image.nbd.com.cn/b.jpg"]


def test_lead_caption_before_the_byline() -> None:
    item = page(
        "<img class='thumbnail-pic-with-copyright' src='https://image.nbd.com.cn/c.jpg'>"
        "<p>图片来源：视觉中国</p><p>每经记者 周某某 每经编辑 吴某</p><p>正文第一段。</p>"
    )
    assert item.byline == "每经记者 周某某 每经编辑 吴某"
    assert (item.reporters, item.editors) == (["周某某"], ["吴某"])
    assert item.image_credit == "视觉中国"
    assert item.body == "正文第一段。"


def test_grey_byline_with_an_unusual_marker() -> None:
    item = page("<p style='color:#6d6d6d'>本报记者 郑某</p><p>正文。</p>")
    assert item.byline == "本报记者 郑某" and item.reporters == ["郑某"]
    assert item.body == "正文。"


def test_interview_questions_stay_in_the_body() -> None:
    item = page("<p>每经记者 王某</p><p>记者：请问今年的目标是什么？</p><p>张某：稳中求进。</p>")
    assert item.body == "记者：请问今年的目标是什么？\n张某：稳中求进。"
    assert item.reporters == ["王某"]


def test_relative_time_uses_the_fetch_time() -> None:
    html = (
        "<html><body><div class='g-article'><h1>标题</h1><p class='u-time'>"
        "<span class='time'>3小时前</span></p>"
        "<div class='g-articl-text'><p>正文。</p></div></div></body></html>"
    )
    fetched = datetime(2022, 3, 4, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing
    item = ArticlePage(HtmlResponse(url=URL, body=html.encode()), fetched_at=fetched).to_item()
    assert item.published_at == "2022-03-04T07:00:00+08:00"
    assert item.published_at_raw == "3小时前"
    assert item.fetched_at == "2022-03-04T02:00:00+00:00"


def test_missing_time_is_null_never_invented() -> None:
    html = (
        "<html><body><div class='g-article'><h1>标题</h1>"
        "<div class='g-articl-text'><p>正文。</p></div></div></body></html>"
    )
    item = ArticlePage(HtmlResponse(url=URL, body=html.encode())).to_item()
    assert item.published_at is None and item.published_at_raw is None


def test_script_pub_date_is_the_fallback_time() -> None:
    html = (
        '<html><head><script>var d = {"pubDate": "2022-03-04 07:00:00"};</script></head>'
        "<body><div class='g-article'><h1>标题</h1>"
        "<div class='g-articl-text'><p>正文。</p></div></div></body></html>"
    )
    item = ArticlePage(HtmlResponse(url=URL, body=html.encode())).to_item()
    assert item.published_at == "2022-03-04T07:00:00+08:00"


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<html><body><h1>页面不存在</h1></body></html>", "not_article"),
        ("<html><body><div>访问过于频繁，请输入验证码</div></body></html>", "blocked"),
        ("<html><body><div class='g-articl-text'><!-- 正文 --> </div></body></html>", "empty_body"),
    ],
)
def test_pages_without_a_record(html: str, reason: str) -> None:
    with pytest.raises(NotArticle) as caught:
        ArticlePage(HtmlResponse(url=URL, body=html.encode())).to_item()
    assert caught.value.reason == reason


def test_gbk_bytes_under_a_utf8_label_are_decoded_right() -> None:
    html = (
        "<html><head><meta charset='utf-8'></head><body><div class='g-article'><h1>标题</h1>"
        "<div class='g-articl-text'><p>人民币汇率保持稳定。</p></div></div></body></html>"
    )
    response = HtmlResponse(
        url=URL, body=html.encode("gbk"), headers={"Content-Type": "text/html; charset=utf-8"}
    )
    item = ArticlePage(response).to_item()
    assert item.body == "人民币汇率保持稳定。" and item.title == "标题"


def test_no_url_anywhere() -> None:
    html = "<html><body><div class='g-articl-text'><p>正文。</p></div></body></html>"
    with pytest.raises(NotArticle) as caught:
        ArticlePage(HtmlResponse(url="file:///tmp/x.html", body=html.encode())).to_item()
    assert caught.value.reason == "no_url"


def test_lines_the_quick_test_lets_pass_are_article_text_for_every_test() -> None:
    """``may_be_removed`` spares most lines the text tests of the block reading; a line it
    passes must be one that every one of those tests leaves in the body (fixture lines and the
    tests' own examples, each also with a bracket or a space in front)."""
    from pathlib import Path

    from newsbot.pages.article import _find_body, _walk_body, may_be_removed
    from newsbot.pages.boilerplate import cover_credit
    from newsbot.processors import credit_line, is_boilerplate, is_caption, is_related_heading

    texts = {
        "相关阅读：", "【延伸阅读】", "免责声明：仅供参考", "每经头条（nbdtoutiao）",
        "封面图片来源：X", "题图来自：X", "头图：X", "首图来源：X", "图片来源：X", "图/X",
        "每经资料图", "记者 张某 摄", "（记者 蔡某）", "文/张某", "编辑|孙某", "校对|卢某",
        "记者：黄某", "责任编辑 王某", "视觉|X", "排版|X", "整理|X", "美编|X", "审核|X",
        "监制|X", "制图|X", "设计|X", "执行|X", "统筹|X", "策划|X", "正文。",
    }  # fmt: skip
    for path in sorted(Path("fixtures/articles").glob("*.html")):
        response = HtmlResponse(url=URL, body=path.read_bytes())
        body = _find_body(ArticlePage(response)._root())
        if body is not None:
            texts.update(b.text for b in _walk_body(body, URL).blocks if b.text)
    taken = 0
    for text in texts | {f"（{t}" for t in texts} | {f"【 {t}" for t in texts}:
        tests = (
            is_related_heading(text, normal=True),
            is_boilerplate(text, normal=True),
            cover_credit(text) is not None,
            is_caption(text, normal=True),
            credit_line(text) is not None,
        )
        taken += any(tests)
        assert may_be_removed(text) or not any(tests), text
    assert taken > 50  # the examples above are taken, so the test can fail
