"""The validation pipeline: cleaning, required fields, date check, in-run dedupe."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from newsbot.items import ArticleItem
from newsbot.pipelines import RecordDropped, ValidationPipeline


def item(**extra: Any) -> ArticleItem:
    fields: dict[str, Any] = {
        "url": "https://www.nbd.com.cn/articles/2021-04-10/1712345.html",
        "article_id": "1712345",
        "title": "工业互联网平台创新合作中心正式成立",
        "published_at": "2021-04-10T23:49:51+08:00",
        "body": "第一段\n第二段",
    }
    fields.update(extra)
    return ArticleItem(**fields)


@pytest.fixture
def pipeline() -> ValidationPipeline:
    crawler = get_crawler(settings_dict={"NEWSBOT_STATE_ENABLED": False, "EXTENSIONS": {}})
    assert crawler.stats is not None
    crawler.stats.open_spider()
    return ValidationPipeline.from_crawler(crawler)


def stats(pipeline: ValidationPipeline) -> dict[str, Any]:
    assert pipeline.crawler.stats is not None
    return {k: v for k, v in pipeline.crawler.stats.get_stats().items() if k.startswith("newsbot/")}


def test_a_valid_record_passes_unchanged(pipeline: ValidationPipeline) -> None:
    before = item(tags=[{"name": "中泰化学", "type": "stock", "code": "002092"}])
    out = pipeline.process_item(
        item(tags=[{"name": "中泰化学", "type": "stock", "code": "002092"}])
    )
    assert out == before
    assert stats(pipeline) == {}


@pytest.mark.parametrize("name", ["url", "article_id", "title", "published_at", "body"])
@pytest.mark.parametrize("empty", [None, "", "  \n "])
def test_a_record_without_a_required_field_is_dropped(
    pipeline: ValidationPipeline, name: str, empty: str | None
) -> None:
    with pytest.raises(RecordDropped) as info:
        pipeline.process_item(item(**{name: empty}))
    assert info.value.reason == f"no_{name}"
    assert info.value.settles
    assert stats(pipeline) == {f"newsbot/dropped/no_{name}": 1}


@pytest.mark.parametrize(
    ("published_at", "dropped"),
    [
        ("2021-04-11T23:59:59+08:00", False),  # one day after the URL date: allowed
        ("2021-04-09T00:00:00+08:00", False),
        ("2021-04-09T15:00:00+00:00", False),  # 23:00 Beijing on the 9th
        ("2021-04-12T00:00:00+08:00", True),
        ("2021-04-08T15:59:59+00:00", True),  # 23:59 Beijing on the 8th
        ("2020-04-10T23:49:51+08:00", True),
    ],
)
def test_published_at_must_agree_with_the_url_date(
    pipeline: ValidationPipeline, published_at: str, dropped: bool
) -> None:
    if dropped:
        with pytest.raises(RecordDropped, match="date_mismatch"):
            pipeline.process_item(item(published_at=published_at))
        assert stats(pipeline) == {"newsbot/dropped/date_mismatch": 1}
    else:
        pipeline.process_item(item(published_at=published_at))


@pytest.mark.parametrize("bad", ["yesterday", "2021-04-10T23:49:51"])
def test_an_unreadable_or_naive_time_is_dropped(pipeline: ValidationPipeline, bad: str) -> None:
    with pytest.raises(RecordDropped, match="bad_published_at"):
        pipeline.process_item(item(published_at=bad))


def test_control_characters_are_stripped_and_a_title_cannot_forge_a_log_line(
    pipeline: ValidationPipeline,
) -> None:
    forged = "标题\r\n2026-11-24 00:00:00 [newsbot] ERROR: fake\x1b[2K\x1b]0;pwn\x07\u202egnp"
    out = pipeline.process_item(
        item(
            title=forged,
            body="第一段\r\n第二段\x00\u2028第三段\x1b[31m红\x1b[0m",
            abstract="要点一\x85要点二",
            reporters=["张\n三", "李四\x07"],
            tags=[{"name": "中泰\r化学", "type": "stock", "code": "002092"}],
        )
    )
    assert out.title == "标题 2026-11-24 00:00:00 [newsbot] ERROR: fakegnp"
    assert "\n" not in out.title and "\r" not in out.title and "\x1b" not in out.title
    assert out.body == "第一段\n第二段\n第三段红"
    assert out.abstract == "要点一\n要点二"
    assert out.reporters == ["张 三", "李四"]
    assert out.tags == [{"name": "中泰 化学", "type": "stock", "code": "002092"}]


def test_a_second_record_of_an_article_in_one_run_is_dropped(pipeline: ValidationPipeline) -> None:
    pipeline.process_item(item())
    with pytest.raises(RecordDropped) as info:
        pipeline.process_item(item(title="again"))
    assert info.value.reason == "duplicate"
    assert not info.value.settles  # the first copy decides the article's state
    assert stats(pipeline) == {"newsbot/dropped/duplicate": 1}
