"""``scrapy extract`` as an analyst runs it: a real subprocess on saved pages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ARTICLES, NOT_ARTICLES, ROOT, expected, extracted_part


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
