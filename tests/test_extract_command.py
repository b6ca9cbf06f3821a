"""``scrapy extract`` as an analyst runs it: a real subprocess on saved pages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ARTICLES, NOT_ARTICLES, ROOT, expected, extracted_part, need_shared

pytestmark = pytest.mark.process


def scrapy_extract(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "extract", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_folders_of_pages() -> None:
    done = scrapy_extract(str(ARTICLES), str(NOT_ARTICLES))
    records = [json.loads(line) for line in done.stdout.splitlines()]
    pages = sorted(ARTICLES.glob("*.html"))
    assert len(records) == len(pages)
    for page, record in zip(pages, records, strict=True):
        assert extracted_part(record) == expected(page), page.stem
    # Every page that is not an article is named on stderr, with its reason, and fails the run.
    for page in NOT_ARTICLES.glob("*.html"):
        reason = json.loads(page.with_suffix(".json").read_text())["reason"]
        assert f"{page}: {reason}:" in done.stderr
    assert done.returncode == 1


def test_all_good_exits_zero_and_writes_utf8() -> None:
    page = next(iter(sorted(ARTICLES.glob("*.html"))))
    done = scrapy_extract(str(page))
    assert done.returncode == 0, done.stderr
    assert "\\u" not in done.stdout
    assert json.loads(done.stdout)["article_id"] == expected(page)["article_id"]


def test_url_from_wget_mirror_path(tmp_path: Path) -> None:
    """A mirror keeps the site's layout: the path gives the URL even without a canonical link."""
    page = next(iter(sorted(ARTICLES.glob("*.html"))))
    html = page.read_text(encoding="utf-8")
    start = html.index('<link rel="canonical"')
    html = html[:start] + html[html.index(">", start) + 1 :]
    target = tmp_path / "www.nbd.com.cn" / "articles" / "2020-01-02" / "1234567.html"
    target.parent.mkdir(parents=True)
    target.write_text(html, encoding="utf-8")
    done = scrapy_extract(str(tmp_path))
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["url"] == "https://www.nbd.com.cn/articles/2020-01-02/1234567.html"
    assert record["article_id"] == "1234567"


def test_url_option_when_page_names_none(tmp_path: Path) -> None:
    page = next(iter(sorted(ARTICLES.glob("*.html"))))
    html = page.read_text(encoding="utf-8")
    start = html.index('<link rel="canonical"')
    html = html[:start] + html[html.index(">", start) + 1 :]
    saved = tmp_path / "saved.html"
    saved.write_text(html, encoding="utf-8")

    without = scrapy_extract(str(saved))
    assert without.returncode == 1
    assert "no_url" in without.stderr and without.stdout == ""

    url = "http://m.nbd.com.cn/articles/2019-05-06/1333333.html?from=app"
    done = scrapy_extract(str(saved), "--url", url)
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout)["url"] == "https://www.nbd.com.cn/articles/2019-05-06/1333333.html"
    )


def test_usage_errors(tmp_path: Path) -> None:
    assert scrapy_extract().returncode != 0
    missing = scrapy_extract(str(tmp_path / "nope.html"))
    assert missing.returncode == 1 and "unreadable" in missing.stderr
    shutil.copy(next(iter(ARTICLES.glob("*.html"))), tmp_path / "a.html")
    shutil.copy(next(iter(ARTICLES.glob("*.html"))), tmp_path / "b.html")
    bad = scrapy_extract(
        str(tmp_path), "--url", "https://www.nbd.com.cn/articles/2020-01-01/1.html"
    )
    assert bad.returncode != 0 and "single page" in bad.stderr


def test_summary_counts_what_left_the_bodies_by_class() -> None:
    done = scrapy_extract(str(ARTICLES))
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    pages = len(list(ARTICLES.glob("*.html")))
    assert last.startswith(
        f"newsbot: extract: {pages} records from {pages} pages; removed from bodies: "
    )
    counted = dict(
        (part.rsplit(" ", 1)[0], int(part.rsplit(" ", 1)[1]))
        for part in last.split("removed from bodies: ", 1)[1].split(", ")
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert counted["byline"] == sum(1 for r in records if r["byline"])
    # compiled-split-sourcing-giveaway's sourcing line is split over two blocks
    assert counted["sourcing"] == sum(1 for r in records if r["sourced_from"]) + 1
    assert {
        "disclaimer", "caption", "credit", "cover_credit", "related", "copyright", "account",
        "promotion", "app_prompt",
    } <= set(counted)  # fmt: skip


def test_explain_names_each_removed_block_and_why() -> None:
    page = ARTICLES / "compiled-editor-only.html"
    done = scrapy_extract("--explain", str(page))
    assert done.returncode == 0, done.stderr
    want = expected(page)
    lines = done.stdout.splitlines()
    assert lines[0] == f"{page}: article {want['article_id']}, kind compiled"
    assert f"  removed  byline        {want['byline']}" in lines
    assert any(line.startswith("  removed  sourcing") for line in lines)
    assert f"  sourced_from  {want['sourced_from']}" in lines
    assert lines[-1] == f"  body ends     {want['body'].split(chr(10))[-1]}"
    assert not any(line.startswith("{") for line in lines)  # no records with --explain


def test_hexo_post_with_its_url_in_the_front_matter(tmp_path: Path) -> None:
    """A blog post that copied only the body, as the blogs of the corpus did; its title
    is the page's h1, its URL from our own Hexo feed's original_url."""
    post = tmp_path / "posts" / "某公司发布新品.md"
    post.parent.mkdir()
    post.write_text(
        "\n---\ntitle: '某公司发布新品'\noriginal_url: "
        "https://www.nbd.com.cn/articles/2021-07-16/1850001.html\n---\n"
        '<p style="color:#6d6d6d;">每经编辑 王某某</p><p>某公司今日发布新品，售价较上一代下调。</p>'
        "<p>来源：每日经济新闻综合公司公告</p>",
        encoding="utf-8",
    )
    (tmp_path / "posts" / "README.md").write_text("# not a post\n", encoding="utf-8")
    done = scrapy_extract(str(tmp_path))
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["url"] == "https://www.nbd.com.cn/articles/2021-07-16/1850001.html"
    assert record["title"] == "某公司发布新品" and record["editors"] == ["王某某"]
    assert record["body"] == "某公司今日发布新品，售价较上一代下调。"
    assert (record["sourced_from"], record["kind"]) == ("每日经济新闻综合公司公告", "compiled")


def test_both_corpus_folders_give_the_summary() -> None:
    shared = need_shared()
    folders = [str(shared / "corpus" / f / "posts") for f in ("nbd-2021", "nbd-2021-more")]
    done = scrapy_extract(*folders)
    last = done.stderr.strip().splitlines()[-1]
    # The posts name no URL (no record, exit 1), but every body is read and counted.
    assert last.startswith("newsbot: extract: 0 records from 197 pages; removed from bodies: ")
    for kind in ("disclaimer", "copyright", "account", "promotion", "sourcing", "cover_credit"):
        assert f" {kind} " in last + " ", kind
    assert done.returncode == 1


def scrapy_tails(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "tails", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tails_lists_the_most_frequent_last_blocks(tmp_path: Path) -> None:
    footer = "本栏目每周二更新，下期再会"
    bodies = [f"第{i}篇正文。\n{footer}" for i in range(3)] + ["另一篇正文。"]
    records = tmp_path / "records.jsonl"
    records.write_text(
        "".join(json.dumps({"body": b}, ensure_ascii=False) + "\n" for b in bodies),
        encoding="utf-8",
    )
    done = scrapy_tails(str(records), str(ARTICLES / "compiled-editor-only.html"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "5 bodies; most frequent last blocks:"
    assert lines[1].split() == ["3", "60.0%", footer]
    last = expected(ARTICLES / "compiled-editor-only.html")["body"].split("\n")[-1]
    assert any(line.endswith(last) for line in lines[2:])


def test_files_that_are_not_pages_are_counted(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    (folder / "img").mkdir(parents=True)
    page = next(iter(sorted(ARTICLES.glob("*.html"))))
    shutil.copy(page, folder / "page.html")
    shutil.copy(page.with_suffix(".json"), folder / "page.json")
    (folder / "img" / "a.png").write_bytes(b"\x89PNG")
    (folder / "img" / "b.png").write_bytes(b"\x89PNG")
    (folder / "README").write_text("notes")
    done = scrapy_extract(str(folder))
    assert done.returncode == 0, done.stderr  # nothing failed: the others are not pages
    assert len(done.stdout.splitlines()) == 1
    assert (
        "newsbot: skipped 4 files that are not HTML pages (.png 2, (none) 1, .json 1)"
        in done.stderr
    ), done.stderr
    # A file named on the command line is read whatever its suffix.
    (folder / "page.txt").write_bytes(page.read_bytes())
    named = scrapy_extract(str(folder / "page.txt"))
    assert named.returncode == 0, named.stderr
    assert "skipped" not in named.stderr
