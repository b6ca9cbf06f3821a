"""Each class of trailing boilerplate, sourcing lines, captions, videos and kinds, on small pages
built inline with invented text in the site's structure (whole pages: fixtures/articles)."""

from __future__ import annotations

from typing import Any

import pytest
from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse

from newsbot.items import ArticleItem
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.pipelines import ValidationPipeline

URL = "https://www.nbd.com.cn/articles/2021-08-10/1869000.html"
LAST = "公司表示，下半年将继续推进新产线建设。"
BYLINE = "<p style='color:#6d6d6d'>每经记者 秦某某 每经编辑 贺某</p>"


def read(body: str, *, title: str = "某公司扩产", source: str = "每日经济新闻", top: str = "",
         wrapper: bool = True) -> ArticlePage:  # fmt: skip
    inner = f"<div class='g-articl-text'>{body}</div>"
    head = (
        f"<div class='g-article-top'><h1>{title}</h1><p class='u-time'>"
        f"<span class='source'>{source}</span><span class='time'>2021-08-10 09:00:00</span></p>"
        f"</div>{top}"
    )
    page = f"<div class='g-article'>{head}{inner}</div>" if wrapper else head + inner
    html = f"<html><head><meta charset='utf-8'></head><body>{page}</body></html>"
    return ArticlePage(HtmlResponse(url=URL, body=html.encode("utf-8")))


def item(body: str, **kw: Any) -> ArticleItem:
    return read(body, **kw).to_item()


def ends(body: str, *footer: str) -> tuple[ArticleItem, list[tuple[str, str]]]:
    page = read(BYLINE + f"<p>某公司今日发布公告。</p><p>{LAST}</p>" + body)
    record = page.to_item()
    tail = [(r.kind, r.text) for r in page.removed if r.kind not in ("byline",)]
    return record, tail


@pytest.mark.parametrize(
    ("footer", "kind"),
    [
        ("（以上内容仅供参考，不构成任何投资建议。投资者据此操作，风险自担。）", "disclaimer"),
        ("股市有风险，入市需谨慎", "disclaimer"),
        ("本文仅代表作者个人观点，不代表本网观点", "disclaimer"),
        ("（本节目内容不代表本台立场）", "disclaimer"),
        ("版权归原作者所有，未经授权禁止转载", "copyright"),
        ("转载请注明出处", "copyright"),
        ("｜某某周刊 weekly 原创文章｜", "account"),
        ("微信号：mouwang_news", "account"),
        ("长按下方二维码，关注某某财经", "promotion"),
        ("扫码关注我们，获取更多资讯", "promotion"),
        ("点击下方“阅读原文”，查看完整报告", "promotion"),
        ("想了解更多？请点击↓↓", "promotion"),
        ("下载某某财经APP，第一时间获取快讯", "app_prompt"),
        ("打开客户端，查看更多精彩内容", "app_prompt"),
        ("题图来自：摄图网", "cover_credit"),
        ("头图来源：视觉中国（图文无关）", "cover_credit"),
    ],
)
def test_each_class_at_the_end_of_a_body(footer: str, kind: str) -> None:
    record, tail = ends(f"<p>{footer}</p>")
    assert record.body is not None and record.body.split("\n")[-1] == LAST
    assert tail == [(kind, footer)]


def test_a_stack_of_footers_goes_from_the_end_back_to_the_first_real_block() -> None:
    record, tail = ends(
        "<p>来源：某某日报</p><p>（本文不构成投资建议）</p><p>｜某某 news 原创文章｜</p>"
        "<p>如需转载请联系后台</p><p>扫码下载某某App</p>"
    )
    assert record.body is not None and record.body.endswith(LAST)
    assert [k for k, _ in tail] == ["sourcing", "disclaimer", "account", "copyright", "promotion"]
    assert record.sourced_from == "某某日报"


def test_mentions_in_the_middle_of_an_article_are_never_cut() -> None:
    middle = [
        "据了解，该公众号文章被多家网站未经许可转载。",
        "顾客扫描二维码即可参与抽奖，活动仅限本周。",
        "公司称，投资者据此操作，风险自担的说法并不准确。",
    ]
    record, tail = ends("".join(f"<p>{m}</p>" for m in middle) + "<p>风险自担</p>")
    lines = (record.body or "").split("\n")
    assert lines[-3:] == middle
    assert tail == [("disclaimer", "风险自担")]


def test_a_last_paragraph_that_mentions_boilerplate_words_is_article_text() -> None:
    last = "记者致电公司，对方表示未经许可的转载将被追究，扫描二维码的活动已经下线。"
    record, tail = ends(f"<p>{last}</p>")
    assert (record.body or "").split("\n")[-1] == last and tail == []


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("来源：每日经济新闻综合某某网、公开资料", "每日经济新闻综合某某网、公开资料"),
        ("本文来源：某某发布", "某某发布"),
        ("每日经济新闻综合某报、某台", "每日经济新闻综合某报、某台"),
        ("（来源：某某新闻）", "某某新闻"),
        ("本文转自：某某客户端", "某某客户端"),
    ],
)
def test_sourcing_lines_leave_the_body_for_sourced_from(line: str, value: str) -> None:
    record, tail = ends(f"<p>{line}</p>")
    assert record.sourced_from == value
    assert (record.body or "").split("\n")[-1] == LAST
    assert tail == [("sourcing", line)]


def test_no_sourcing_line_is_null_and_a_mid_body_source_stays() -> None:
    record, _ = ends("")
    assert record.sourced_from is None
    mid = item(BYLINE + "<p>来源：某某统计局</p><p>数据显示，销量同比增长。</p>")
    assert mid.sourced_from is None and mid.body == "来源：某某统计局\n数据显示，销量同比增长。"


IMG = "<p><img src='https://image.nbd.com.cn/a/{n}.jpg'></p>"


def test_captions_under_images_become_figures_and_a_paragraph_under_an_image_stays() -> None:
    record = item(
        BYLINE
        + "<p>第一段。</p>"
        + IMG.format(n=1)
        + "<p style='text-align:center'>新产线的装配车间 图片来源：每经记者 秦某某 摄</p>"
        + "<p>第二段。</p>"
        + IMG.format(n=2)
        + "<p>记者在车间看到，工人们正在调试设备，预计下月投产。</p>"
        + IMG.format(n=3)
        + "<p style='text-align:center'>图片来源：视觉中国</p>"
        + "<p>第三段。</p>"
        + "<p><img src='https://image.nbd.com.cn/a/4.jpg'><br>装配线近景</p>"
    )
    assert record.body == (
        "第一段。\n第二段。\n记者在车间看到，工人们正在调试设备，预计下月投产。\n第三段。\n装配线近景"
    )
    assert record.figures == [
        {"url": "https://image.nbd.com.cn/a/1.jpg", "caption": "新产线的装配车间",
         "credit": "每经记者 秦某某 摄"},
        {"url": "https://image.nbd.com.cn/a/2.jpg", "caption": None, "credit": None},
        {"url": "https://image.nbd.com.cn/a/3.jpg", "caption": None, "credit": "视觉中国"},
        {"url": "https://image.nbd.com.cn/a/4.jpg", "caption": None, "credit": None},
    ]  # fmt: skip
    assert record.images == [f["url"] for f in record.figures]


def test_a_short_centred_line_inside_the_image_block_is_its_caption() -> None:
    record = item(
        BYLINE + "<p>正文。</p><p style='text-align:center'>"
        "<img src='https://image.nbd.com.cn/b.png'>某指数近一年走势</p><p>后文。</p>"
    )
    assert record.body == "正文。\n后文。"
    assert record.figures[0]["caption"] == "某指数近一年走势"


def test_video_page_gives_a_record_with_its_description_as_body() -> None:
    record = item(
        BYLINE + "<div class='TencentBox' data-txid='1' "
        "data-video-download-url='http://vod.example.myqcloud.com/v/f0.mp4'> </div><p> </p>",
        top="<div class='g-article-abstract'><p>一段视频的描述。</p></div>",
    )
    assert record.videos == [{"url": "http://vod.example.myqcloud.com/v/f0.mp4", "poster": None}]
    assert record.body == "一段视频的描述。" and record.kind == "video"


def test_video_without_any_words_has_an_empty_body_and_passes_validation() -> None:
    record = item(
        "<video src='/media/clip.mp4' poster='//image.nbd.com.cn/poster.jpg'></video>",
    )
    assert record.body == "" and record.kind == "video"
    assert record.videos == [
        {"url": "https://www.nbd.com.cn/media/clip.mp4",
         "poster": "https://image.nbd.com.cn/poster.jpg"}
    ]  # fmt: skip

    class Stats:
        def inc_value(self, key: str) -> None:
            raise AssertionError(f"dropped: {key}")

    class Crawler:  # the pipeline's own needs: settings and stats
        from scrapy.settings import Settings

        settings = Settings()
        stats = Stats()

    assert ValidationPipeline(Crawler()).process_item(record) is record  # type: ignore[arg-type]


def test_no_text_and_no_video_is_still_empty_body() -> None:
    with pytest.raises(NotArticle) as caught:
        item(BYLINE + "<p>（本文不构成投资建议）</p>")
    assert caught.value.reason == "empty_body"


def test_the_classes_hold_in_a_2017_template_and_in_pasted_third_party_markup() -> None:
    pasted = (
        "<p>每经记者 秦某某 每经编辑 贺某</p><p>第一段。</p>"
        "<div class='index-module_textWrap_x'><p><span class='bjh-p'>" + LAST + "</span></p>"
        "<div><section><p><span>本文来源：某某网</span></p></section>"
        "<p><span>（声明：本文不代表本网观点）</span></p></div></div>"
    )
    for wrapper in (True, False):  # the 2017 template has no div.g-article around the body
        page = read(pasted, wrapper=wrapper)
        record = page.to_item()
        assert (record.body or "").split("\n")[-1] == LAST
        assert record.sourced_from == "某某网"
        assert [r.kind for r in page.removed] == ["byline", "sourcing", "disclaimer"]


KIND_CASES = [
    ("original", {}, BYLINE + "<p>记者实地走访了三家门店。</p>"),
    ("ai_flash", {}, "<p>每经AI快讯，某公司公告称拟回购股份。</p>"
                     "<p class='m-original-right'>（记者 秦某某）</p>"),
    ("compiled", {}, "<p style='color:#6d6d6d'>每经编辑 贺某</p><p>据某报报道，某事。</p>"
                     "<p>每日经济新闻综合某报、某台</p>"),
    ("roundup", {"title": "每经9点丨要闻一；要闻二"},
     "<p style='color:#6d6d6d'>每经编辑 贺某</p><p>1丨要闻一</p><p>内容一。</p>"),
    ("commentary", {}, "<p style='color:#6d6d6d'>每经评论员 秦某某</p><p>观点。</p>"),
    ("advertorial", {}, "<p>某品牌新品上市，带来全新体验。</p>"
                        "<p>（本文不构成任何投资建议，信息披露内容以公司公告为准。）</p>"),
    ("repost", {"source": "某某日报"}, "<p style='color:#6d6d6d'>每经编辑 贺某</p><p>某事。</p>"),
    ("repost", {},
     "<p style='color:#6d6d6d'>每经编辑 贺某</p><p>某事。</p><p>本文来源：某某发布</p>"),
    ("video", {}, "<video src='https://v.example/a.mp4'></video><p>一句描述。</p>"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "top", "body"), KIND_CASES, ids=[k[0] for k in KIND_CASES])
def test_each_kind(kind: str, top: dict[str, str], body: str) -> None:
    assert item(body, **top).kind == kind


def test_the_same_page_always_gives_the_same_record() -> None:
    body = BYLINE + "<p>第一段。</p><p>来源：某某日报</p><p>扫码关注我们</p>"
    first, second = (ItemAdapter(item(body)).asdict() for _ in range(2))
    first.pop("fetched_at"), second.pop("fetched_at")
    assert first == second


def test_a_hexo_post_shows_the_video_and_the_sourcing_line() -> None:
    from newsbot.exporters import hexo_post

    record = ItemAdapter(
        item(
            BYLINE + "<video src='https://v.example/a.mp4' poster='https://v.example/a.jpg'>"
            "</video><p>一句描述。</p><p>来源：某某日报</p>"
        )
    ).asdict()
    post = hexo_post(record)
    assert '<video controls src="https://v.example/a.mp4" poster="https://v.example/a.jpg">' in post
    assert (
        post.index("<video") < post.index("<p>一句描述。</p>") < post.index("<p>来源：某某日报</p>")
    )
