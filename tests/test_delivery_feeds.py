"""The atomic feed storage and newsbot's exporters, on real files (and a real full disk)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from newsbot.exporters import HexoExporter, JsonLinesExporter, safe_filename
from newsbot.feeds import AtomicFileFeedStorage, FeedTargetError, StagingDir
from newsbot.items import RECORD_FIELDS, ArticleItem
from tests.deliverykit import small_filesystem


def item(ident: int, **extra: Any) -> ArticleItem:
    fields: dict[str, Any] = {
        "url": f"https://www.nbd.com.cn/articles/2021-04-10/{ident}.html",
        "article_id": str(ident),
        "title": f"工业互联网平台创新合作中心正式成立{ident}",
        "published_at": "2021-04-10T23:49:51+08:00",
        "published_at_raw": "2021-04-10 23:49:51",
        "body": "第一段\n第二段",
        "images": [f"https://image.nbd.com.cn/{ident}/lead.jpg"],
        "reporters": ["张蕊"],
        "column": "3",
    }
    fields.update(extra)
    return ArticleItem(**fields)


def export(storage: AtomicFileFeedStorage, items: list[ArticleItem]) -> Any:
    """Open the storage and write the items the way a feed slot does; returns the file."""
    file = storage.open(None)  # type: ignore[arg-type]
    exporter = JsonLinesExporter(file)
    exporter.start_exporting()
    for it in items:
        exporter.export_item(it)
    exporter.finish_exporting()
    return file


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_records_appear_only_when_the_file_is_published(tmp_path: Path) -> None:
    target = tmp_path / "out" / "articles.jsonl"
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    file = export(storage, [item(1), item(2)])
    assert not target.exists()
    storage.store(file)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["article_id"] for line in lines] == ["1", "2"]
    assert hidden(tmp_path / "out") == []


def test_json_lines_are_utf8_in_record_field_order(tmp_path: Path) -> None:
    target = tmp_path / "a.jsonl"
    storage = AtomicFileFeedStorage(f"file://{target}", feed_options={"format": "jsonl"})
    storage.store(export(storage, [item(1, title="“引号”与\\反斜杠")]))
    raw = target.read_bytes()
    assert b"\\u" not in raw
    assert "“引号”与".encode() in raw
    record = json.loads(raw)
    assert tuple(record) == RECORD_FIELDS
    assert record["title"] == "“引号”与\\反斜杠"


def test_overwrite_replaces_the_whole_file_at_once(tmp_path: Path) -> None:
    target = tmp_path / "a.jsonl"
    target.write_text('{"old": 1}\n')
    storage = AtomicFileFeedStorage(
        str(target), feed_options={"format": "jsonl", "overwrite": True}
    )
    file = export(storage, [item(1)])
    assert target.read_text() == '{"old": 1}\n'  # untouched while the run writes
    storage.store(file)
    assert [json.loads(x)["article_id"] for x in target.read_text().splitlines()] == ["1"]


def test_append_publishes_old_and_new_records_as_one_file(tmp_path: Path) -> None:
    target = tmp_path / "a.jsonl"
    target.write_text('{"article_id": "0"}\n')
    os.chmod(target, 0o640)
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    storage.store(export(storage, [item(1), item(2)]))
    ids = [json.loads(x)["article_id"] for x in target.read_text().splitlines()]
    assert ids == ["0", "1", "2"]
    assert target.stat().st_mode & 0o777 == 0o640
    assert hidden(tmp_path) == []  # no temporary file, and the append lock removed


def test_append_refuses_a_torn_file_and_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a.jsonl"
    target.write_bytes(b'{"article_id": "0"}\n{"article_id": "1", "ti')
    before = target.read_bytes()
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    file = export(storage, [item(2)])
    with pytest.raises(FeedTargetError, match="torn"):
        storage.store(file)
    assert target.read_bytes() == before
    assert [n for n in hidden(tmp_path) if n.endswith(".tmp")] == []


@pytest.mark.parametrize("overwrite", [True, False])
def test_an_empty_run_keeps_the_existing_file(tmp_path: Path, overwrite: bool) -> None:
    target = tmp_path / "a.jsonl"
    target.write_text('{"article_id": "0"}\n')
    inode = target.stat().st_ino
    storage = AtomicFileFeedStorage(
        str(target), feed_options={"format": "jsonl", "overwrite": overwrite}
    )
    storage.store(export(storage, []))
    assert target.read_text() == '{"article_id": "0"}\n'
    assert target.stat().st_ino == inode
    assert [n for n in hidden(tmp_path) if n.endswith(".tmp")] == []


def test_an_interrupted_overwrite_run_keeps_the_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.jsonl"
    target.write_text('{"article_id": "0"}\n')
    storage = AtomicFileFeedStorage(
        str(target), feed_options={"format": "jsonl", "overwrite": True}
    )
    file = export(storage, [item(1)])
    storage._spider_closed(reason="shutdown")
    storage.store(file)
    assert target.read_text() == '{"article_id": "0"}\n'
    # In append mode the same records are added: nothing earlier is replaced.
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    file = export(storage, [item(1)])
    storage._spider_closed(reason="shutdown")
    storage.store(file)
    assert len(target.read_text().splitlines()) == 2


def test_a_symlink_at_the_target_is_refused_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "precious.txt"
    elsewhere.write_text("keep me\n")
    link = tmp_path / "a.jsonl"
    link.symlink_to(elsewhere)
    with pytest.raises(FeedTargetError, match="symbolic link"):
        AtomicFileFeedStorage(str(link), feed_options={"format": "jsonl", "overwrite": True})
    # ... and a link that appears while the run writes is not followed either.
    target = tmp_path / "b.jsonl"
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    file = export(storage, [item(1)])
    target.symlink_to(elsewhere)
    with pytest.raises(FeedTargetError, match="symbolic link"):
        storage.store(file)
    assert elsewhere.read_text() == "keep me\n"
    assert target.is_symlink()


def test_a_full_disk_fails_the_feed_and_keeps_the_earlier_file(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", size_kb=64) as disk:
        target = disk / "a.jsonl"
        target.write_text('{"article_id": "0"}\n')
        before = target.read_bytes()
        storage = AtomicFileFeedStorage(
            str(target), feed_options={"format": "jsonl", "overwrite": True}
        )
        file = storage.open(None)  # type: ignore[arg-type]
        exporter = JsonLinesExporter(file)
        big = "很长的正文" * 2000
        with pytest.raises(OSError, match="No space left"):
            for n in range(1, 100):
                exporter.export_item(item(n, body=big))
        with pytest.raises(OSError):
            storage.store(file)
        assert target.read_bytes() == before
        assert [p.name for p in disk.iterdir()] == ["a.jsonl"]


# -- Hexo ------------------------------------------------------------------------------------


@pytest.fixture
def hexo_crawler() -> Any:
    return get_crawler(
        settings_dict={
            "NEWSBOT_STATE_ENABLED": False,
            "FEED_EXPORTERS": {"hexo": "newsbot.exporters.HexoExporter"},
            "NEWSBOT_HEXO_COLUMN_NAMES": {"3": "要闻"},
            "EXTENSIONS": {},
        }
    )


def export_hexo(crawler: Any, blog: Path, items: list[ArticleItem]) -> None:
    storage = AtomicFileFeedStorage.from_crawler(
        crawler, str(blog), feed_options={"format": "hexo"}
    )
    staging = storage.open(None)  # type: ignore[arg-type]
    assert isinstance(staging, StagingDir)
    exporter = HexoExporter.from_crawler(crawler, staging)
    for it in items:
        exporter.export_item(it)
    storage.store(staging)


def front_matter(post: Path) -> dict[str, str]:
    head = post.read_text(encoding="utf-8").split("---\n")[1]
    return dict(
        line.split(": ", 1)
        for line in head.splitlines()
        if ": " in line and not line.startswith(" ")
    )


def test_hexo_posts_have_the_real_date_and_the_lead_image(
    tmp_path: Path, hexo_crawler: Any
) -> None:
    blog = tmp_path / "blog"
    export_hexo(hexo_crawler, blog, [item(1712345)])
    posts = list((blog / "source" / "_posts" / "3").iterdir())
    assert [p.name for p in posts] == ["工业互联网平台创新合作中心正式成立1712345.md"]
    text = posts[0].read_text(encoding="utf-8")
    meta = front_matter(posts[0])
    assert meta["date"] == "'2021-04-10T23:49:51+08:00'"  # no _config.yml: see test_hexo_blog.py
    assert "Invalid Date" not in text
    assert meta["thumbnail"] == "'https://image.nbd.com.cn/1712345/lead.jpg'"
    assert meta["author"] == "'张蕊'"
    assert meta["title"] == "'工业互联网平台创新合作中心正式成立1712345'"
    assert " - '每经网'\n - '要闻'\n" in text
    assert "<p>第一段</p>\n<p>第二段</p>" in text
    assert [p.name for p in blog.iterdir()] == ["source"]  # staging removed


def test_hexo_file_names_are_safe_and_unique(tmp_path: Path, hexo_crawler: Any) -> None:
    blog = tmp_path / "blog"
    nasty = "../../etc/passwd: A股/港股?\n*"
    export_hexo(
        hexo_crawler,
        blog,
        [item(1, title=nasty), item(2, title=nasty), item(3, title="CON"), item(4, title="。")],
    )
    column = blog / "source" / "_posts" / "3"
    names = sorted(p.name for p in column.iterdir())
    assert names == sorted(
        [
            f"{safe_filename(nasty)}.md",
            f"{safe_filename(nasty)}-2.md",
            "_CON.md",
            "。.md",
        ]
    )
    assert all("/" not in n and ".." not in n.split(".md")[0][:2] for n in names)
    assert {front_matter(p)["article_id"] for p in column.iterdir()} == {"'1'", "'2'", "'3'", "'4'"}
    # The quoted title cannot break out of its YAML line.
    assert front_matter(column / f"{safe_filename(nasty)}.md")["title"].count("\n") == 0


def test_hexo_new_revision_replaces_the_article_post(tmp_path: Path, hexo_crawler: Any) -> None:
    blog = tmp_path / "blog"
    export_hexo(hexo_crawler, blog, [item(1)])
    export_hexo(hexo_crawler, blog, [item(1, title="改过的标题", body="新正文", revision=2)])
    posts = list((blog / "source" / "_posts" / "3").iterdir())
    assert len(posts) == 1
    assert "<p>新正文</p>" in posts[0].read_text(encoding="utf-8")
    assert front_matter(posts[0])["revision"] == "2"


def test_hexo_needs_a_valid_date(tmp_path: Path, hexo_crawler: Any) -> None:
    with pytest.raises(ValueError, match="no valid published_at"):
        export_hexo(hexo_crawler, tmp_path / "blog", [item(1, published_at="Invalid Date")])


def post_owners(column: Path) -> dict[str, str]:
    """File name -> the article_id in its front matter."""
    return {p.name: front_matter(p).get("article_id", "") for p in column.iterdir()}


def test_hexo_fallback_name_never_replaces_another_articles_post(
    tmp_path: Path, hexo_crawler: Any
) -> None:
    """Run 1: article 3 titled "X-2" and article 1 titled "X"; run 2 adds article 2 titled "X",
    whose fallback name X-2.md is article 3's post (issue 13, item 5)."""
    blog = tmp_path / "blog"
    export_hexo(hexo_crawler, blog, [item(3, title="X-2"), item(1, title="X")])
    export_hexo(hexo_crawler, blog, [item(2, title="X")])
    column = blog / "source" / "_posts" / "3"
    assert post_owners(column) == {"X.md": "'1'", "X-2.md": "'3'", "X-2-2.md": "'2'"}
    # A new revision of article 3 still finds its own post.
    export_hexo(hexo_crawler, blog, [item(3, title="X-2", body="改过", revision=2)])
    assert post_owners(column) == {"X.md": "'1'", "X-2.md": "'3'", "X-2-2.md": "'2'"}
    assert "<p>改过</p>" in (column / "X-2.md").read_text(encoding="utf-8")


def test_hexo_titles_differing_only_by_case_get_names_that_differ_without_case(
    tmp_path: Path, hexo_crawler: Any
) -> None:
    blog = tmp_path / "blog"
    export_hexo(hexo_crawler, blog, [item(1, title="Hexo 周报")])
    export_hexo(hexo_crawler, blog, [item(2, title="HEXO 周报"), item(3, title="hexo 周报")])
    owners = post_owners(blog / "source" / "_posts" / "3")
    assert owners == {"Hexo 周报.md": "'1'", "HEXO 周报-2.md": "'2'", "hexo 周报-3.md": "'3'"}
    assert len({name.casefold() for name in owners}) == 3


def test_hexo_never_overwrites_a_post_that_is_not_ours(tmp_path: Path, hexo_crawler: Any) -> None:
    column = tmp_path / "blog" / "source" / "_posts" / "3"
    column.mkdir(parents=True)
    mine = "---\ntitle: 我的周报\n---\n我自己写的。\n"
    (column / "我的周报.md").write_text(mine, encoding="utf-8")
    export_hexo(hexo_crawler, tmp_path / "blog", [item(7, title="我的周报")])
    assert (column / "我的周报.md").read_text(encoding="utf-8") == mine
    assert post_owners(column)["我的周报-7.md"] == "'7'"


@pytest.mark.parametrize(
    ("setting", "date"),
    [
        ("timezone: 'Asia/Shanghai'", "2021-04-10 23:49:51"),
        ('timezone: "America/New_York"  # the blog is read in New York', "2021-04-10 11:49:51"),
        ("timezone: ''", "'2021-04-10T23:49:51+08:00'"),
        ("title: no timezone here", "'2021-04-10T23:49:51+08:00'"),
    ],
)
def test_hexo_dates_are_written_for_the_blogs_timezone(
    tmp_path: Path, hexo_crawler: Any, setting: str, date: str
) -> None:
    blog = tmp_path / "blog"
    blog.mkdir()
    (blog / "_config.yml").write_text(f"title: 博客\n{setting}\n", encoding="utf-8")
    export_hexo(hexo_crawler, blog, [item(1)])
    (post,) = (blog / "source" / "_posts" / "3").iterdir()
    assert front_matter(post)["date"] == date


def test_hexo_refuses_a_timezone_it_does_not_know(tmp_path: Path, hexo_crawler: Any) -> None:
    blog = tmp_path / "blog"
    blog.mkdir()
    (blog / "_config.yml").write_text("timezone: Asia/Beijing\n", encoding="utf-8")
    with pytest.raises(FeedTargetError, match=r"timezone .Asia/Beijing. is not a time zone"):
        export_hexo(hexo_crawler, blog, [item(1)])
    assert not (blog / "source").exists()
