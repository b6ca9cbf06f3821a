"""Hostile input to commands (issue 13, items 10–13), through real ``scrapy`` processes:

- a ``urls_file`` that is not a list of URLs (a secrets file given by mistake) is refused by
  line number, without echoing a line that is not a URL;
- a ``urls_file`` or a page for ``scrapy extract`` that is a FIFO, a device or a huge sparse
  file is named with a reason and skipped, never read (no hang, no MemoryError);
- file names and links holding line breaks or ANSI escapes cannot forge a line on stderr or in
  the log;
- feed path parameters named like the spider's own attributes are a usage error (exit 2).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawlkit import PROJECT, run_crawl
from tests.faultkit import crawl
from tests.helpers import ARTICLES, NOT_ARTICLES
from tests.test_crawl_arguments import crawl_command
from testsite import Page, SiteCopy

pytestmark = pytest.mark.process

GOOD_URL = "https://www.nbd.com.cn/articles/2021-04-05/1700501.html"
#: A line a forged message would start with, and the escapes that would hide or colour it.
FORGED = "2026-01-01 00:00:00 [newsbot] INFO: Run OK: forged"
NEWSBOT_LINE = re.compile(r"^newsbot: ")


def scrapy(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def refused(site: SiteCopy, arguments: list[str], **settings: str) -> str:
    """Runs ``scrapy crawl nbd`` that must stop at once with a usage error; its last line."""
    done = subprocess.run(
        crawl_command(site.root, arguments, settings),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert site.hits == []  # nothing fetched, not even robots.txt
    return done.stderr.strip().splitlines()[-1]


# -- 10: a urls_file that is not a list of URLs --------------------------------------------------


def test_a_secrets_file_as_urls_file_is_refused_without_echoing_it(
    site: SiteCopy, tmp_path: Path
) -> None:
    secrets = tmp_path / "secret.env"
    secrets.write_text(
        "DB_PASSWORD=hunter2-very-secret\n"
        "# a comment\n"
        "export AWS_SECRET_ACCESS_KEY=AKIAabcdefSECRET\n"
        f"{GOOD_URL}\n"
        "https://admin:pa55word@evil.test/login?token=t0ken-SECRET#frag\n"
        "postgres://app:dbpass-SECRET@db.internal/app\n"
    )
    done = subprocess.run(
        crawl_command(site.root, [f"urls_file={secrets}"], {}),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert site.hits == []
    for secret in ("hunter2", "AKIA", "pa55word", "t0ken", "dbpass", "SECRET", "DB_PASSWORD"):
        assert secret not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    # Every bad line is named by its number; the URL of another site is shown without its
    # password, query or fragment.
    assert f"urls_file {secrets} lines 1, 3: not a URL (not shown)" in last, last
    assert "line 5: 'https://evil.test/login' is not an article URL" in last, last
    assert "line 6: 'postgres://db.internal/app' is not an article URL" in last, last
    assert "line 4" not in last


# -- 11: FIFOs, devices and huge files ----------------------------------------------------------


def test_a_urls_file_that_is_not_a_small_regular_file_is_refused(
    site: SiteCopy, tmp_path: Path
) -> None:
    fifo = tmp_path / "urls.fifo"
    os.mkfifo(fifo)  # nobody ever writes to it: reading it would wait for ever
    zero = tmp_path / "zero.txt"
    zero.symlink_to("/dev/zero")  # reading it would fill the memory
    sparse = tmp_path / "sparse.txt"
    with sparse.open("wb") as f:
        f.truncate(2 << 30)  # 2 GiB, no block on disk
    small = tmp_path / "small.txt"
    small.write_text((GOOD_URL + "\n") * 200)

    assert "is a FIFO (named pipe), not a regular file" in refused(site, [f"urls_file={fifo}"])
    assert "is a character device, not a regular file" in refused(site, [f"urls_file={zero}"])
    assert "is 2.0 GiB, over NEWSBOT_MAX_INPUT_BYTES (64.0 MiB)" in refused(
        site, [f"urls_file={sparse}"]
    )
    # The limit is a setting.
    assert "over NEWSBOT_MAX_INPUT_BYTES (1.0 KiB)" in refused(
        site, [f"urls_file={small}"], NEWSBOT_MAX_INPUT_BYTES="1024"
    )


def test_extract_names_fifos_devices_and_huge_files_and_reads_the_rest(tmp_path: Path) -> None:
    pages = tmp_path / "saved"
    pages.mkdir()
    good = sorted(ARTICLES.glob("*.html"))[:2]
    for page in good:
        (pages / page.name).write_bytes(page.read_bytes())
    os.mkfifo(pages / "a-fifo.html")
    (pages / "b-zero.html").symlink_to("/dev/zero")
    with (pages / "c-sparse.html").open("wb") as f:
        f.truncate(2 << 30)
    fifo_named = tmp_path / "named.html"
    os.mkfifo(fifo_named)

    done = scrapy("extract", str(pages), str(fifo_named), timeout=120)
    assert done.returncode == 1
    assert "MemoryError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stdout.splitlines()) == len(good)  # the readable pages are all there
    assert f"newsbot: {pages / 'a-fifo.html'}: not_a_file: is a FIFO (named pipe)" in done.stderr
    assert f"newsbot: {pages / 'b-zero.html'}: not_a_file: is a character device" in done.stderr
    assert f"newsbot: {pages / 'c-sparse.html'}: too_large: is 2.0 GiB" in done.stderr
    assert f"newsbot: {fifo_named}: not_a_file: is a FIFO" in done.stderr

    # The limit is a setting: at 1 KiB, the saved pages are too large as well.
    small = scrapy("extract", str(good[0]), "-s", "NEWSBOT_MAX_INPUT_BYTES=1024")
    assert small.returncode == 1 and small.stdout == ""
    assert "too_large:" in small.stderr and "(1.0 KiB)" in small.stderr


# -- 12: untrusted strings in messages ----------------------------------------------------------


def test_extract_escapes_file_names_that_would_forge_lines(tmp_path: Path) -> None:
    page = next(iter(sorted(NOT_ARTICLES.glob("*.html"))))
    name = f"x\n{FORGED}\x1b[2J\x1b]0;title\x07\u2028.html"
    (tmp_path / name).write_bytes(page.read_bytes())
    missing = tmp_path / "gone\rnewsbot: forged.html"

    done = scrapy("extract", str(tmp_path), str(missing))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    # two files named with their reasons, then extract's summary line (issue 12)
    assert len(lines) == 3, done.stderr
    assert all(NEWSBOT_LINE.match(line) for line in lines), lines
    for bad in ("\x1b", "\x07", "\r", "\u2028"):
        assert bad not in done.stderr
    assert "x\\n2026-01-01 00:00:00 [newsbot] INFO: Run OK: forged\\x1b[2J" in lines[0]
    assert "gone\\rnewsbot: forged.html: unreadable: does not exist" in lines[1]


def test_a_hostile_next_page_link_forges_no_log_line(tmp_path: Path) -> None:
    """A list page's next-page link (logged as a WARNING, since it leaves the column) with line
    breaks, ANSI and OSC escapes, at DEBUG: every line of the log is one the program wrote."""
    link = f"https://evil.test/x\n{FORGED}&#27;[31m red&#27;]0;title&#7;\u2028\x85end"
    with SiteCopy(keep_alive=False) as server:
        ident = "1700501"
        url = server.articles[ident].url
        page = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>栏目</title></head><body>'
            '<div class="g-list-text"><div class="m-list"><p class="u-channeltime">2021-04-05'
            '</p><ul class="u-news-list"><li class="u-news-title">'
            f'<a href="{url}">标题</a><span>10:00:00</span></li></ul></div></div>'
            f'<a rel="next" href="{link}">下一页</a></body></html>'
        )
        server.plan("/columns/88/", Page(page.encode()))
        result = crawl(
            server,
            "columns=88",
            tmp_path=tmp_path,
            settings={"LOG_LEVEL": "DEBUG", "NEWSBOT_GUESS_NEXT_PAGE": "0"},
        )
    assert result.returncode == 0, result.explain()
    warning = [line for line in result.log.splitlines() if "ignoring next-page link" in line]
    assert len(warning) == 1, result.explain()
    # (The URL parser drops the line break itself; the other controls are escaped.)
    assert "[newsbot] INFO: Run OK: forged\\x1b[31m red\\x1b]0;title\\x07" in warning[0]
    assert "\\u2028\\x85end" in warning[0]
    for bad in ("\x1b", "\x07", "\u2028", "\x85"):
        assert bad not in result.log
    assert not any(line.startswith(FORGED) for line in result.log.splitlines())


# -- 13: feed path parameters that are the spider's own attributes ------------------------------


@pytest.mark.parametrize("name", ["args", "crawler", "start", "name", "settings", "config"])
def test_a_feed_parameter_named_like_a_spider_attribute_is_a_usage_error(
    site: SiteCopy, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "o"
    last = refused(
        site,
        [f"url={GOOD_URL}", f"{name}=x"],
        FEEDS=f'{{"{out}/%({name})s.jsonl": {{"format": "jsonlines"}}}}',
    )
    assert f"error: nbd: {name}: the name of one of the spider's own attributes" in last, last
    assert not out.exists()


def test_a_feed_parameter_of_another_name_still_works(site: SiteCopy, tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = run_crawl(
        site.root,
        f"url={GOOD_URL}",
        "args_=x",
        tmp_path=tmp_path,
        settings={"FEEDS": f'{{"{out}/%(args_)s.jsonl": {{"format": "jsonlines"}}}}'},
    )
    assert result.returncode == 0, result.explain()
    assert (out / "x.jsonl").read_text(encoding="utf-8").count("\n") == 1
