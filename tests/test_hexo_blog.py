"""Hexo, for real: articles crawled from the local site copy into a blog with ``-o blog:hexo``,
then ``hexo generate`` (Hexo 8 from npm with the default theme, landscape, as ``hexo init``
sets a blog up; tests/hexo/package.json, installed by ``npm ci --prefix tests/hexo``, which
.ci/run does), and the generated HTML read back.

Each blog is generated on "build machines" in several zones (``TZ`` of the hexo process), with
``timezone: 'Asia/Shanghai'`` in its ``_config.yml`` and with none. Every article must reach
the blog, at its own instant, shown in the blog's zone; template syntax in the text is shown
verbatim; the lead image is on the page.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsbot.processors import BEIJING
from tests.crawlkit import PROJECT, scrapy_crawl
from tests.deliverykit import crawl_command
from testsite import DeliverySite
from testsite.delivery import COLUMN

HEXO = PROJECT / "tests" / "hexo"
HEXO_CLI = HEXO / "node_modules" / "hexo-cli" / "bin" / "hexo"
MACHINES = ["UTC", "America/New_York", "Asia/Shanghai"]
PERCENT = "沪指下跌1.36%，两市成交额萎缩"
TEMPLATE = "{% if 上涨 %}涨{% endif %}与{{ price }}：模板语法原样保留"
HASH = "话题#热点#与A股/港股？"
CASES = ("Hexo大小写", "HEXO大小写")  # one file each, even where case is not told apart


def lead_image(ident: str) -> str:
    return f"https://image.nbd.com.cn/uploads/articles/images/{ident}/lead.jpg"


def hexo_or_skip() -> list[str]:
    node = shutil.which("node")
    if node is None or not HEXO_CLI.is_file():
        message = "Hexo is not installed: npm ci --prefix tests/hexo (needs node and npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [node, str(HEXO_CLI)]


@dataclass
class Blog:
    path: Path
    timezone: str | None
    records: dict[str, dict]


def new_blog(path: Path, timezone: str | None) -> None:
    """A blog as ``hexo init`` makes one (its package.json, the default theme), with the
    settings the README asks for and ``timezone`` set or not."""
    (path / "source" / "_posts").mkdir(parents=True)
    shutil.copy2(HEXO / "package.json", path / "package.json")
    (path / "node_modules").symlink_to(HEXO / "node_modules", target_is_directory=True)
    config = [
        "title: 每经网文摘",
        "language: zh-CN",
        "url: http://127.0.0.1:4000",
        "permalink: :year/:month/:day/:title/",
        "theme: landscape",
        "date_format: YYYY-MM-DD HH:mm:ss",
        "time_format: HH:mm:ss",
    ]
    if timezone is not None:
        config.append(f"timezone: '{timezone}'")
    (path / "_config.yml").write_text("\n".join(config) + "\n", encoding="utf-8")


@pytest.fixture(scope="module", params=["Asia/Shanghai", None], ids=["timezone", "no-timezone"])
def blog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Blog:
    """A blog filled by one crawl: articles early in the morning in Beijing (the day before in
    UTC and New York) and late at night, with a % and a # in their titles, template syntax,
    titles that differ only by case, and a lead image."""
    hexo_or_skip()
    tmp = tmp_path_factory.mktemp("hexo")
    new_blog(tmp / "blog", request.param)
    today = dt.datetime.now(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    with DeliverySite() as site:
        late = site.add(2, newest=today - dt.timedelta(days=2, minutes=10, seconds=9))
        early = site.add(4, newest=today - dt.timedelta(days=1) + dt.timedelta(hours=7, minutes=35))
        for article, title in zip(late + early, [PERCENT, TEMPLATE, HASH, *CASES], strict=False):
            site.edit(article.id, title)
        pictured = early[-1].id
        site.change_page(
            pictured,
            lambda page: page.replace(
                "<!-- 正文 -->",
                f'<p style="text-align: center"><img src="{lead_image(pictured)}" alt=""></p>',
            ),
        )
        outputs = ("-o", f"{tmp}/records.jsonl", "-o", f"{tmp}/blog:hexo")
        done = scrapy_crawl(
            crawl_command(site.root, tmp / "state", *outputs, args={"columns": COLUMN})
        )
        assert done.returncode == 0, done.stderr[-3000:]
    lines = (tmp / "records.jsonl").read_text("utf-8").splitlines()
    records = {r["article_id"]: r for r in map(json.loads, lines)}
    assert len(records) == 6
    assert records[pictured]["images"] == [lead_image(pictured)]
    return Blog(tmp / "blog", request.param, records)


def generate(blog: Blog, machine: str, where: Path) -> Path:
    """``hexo generate`` of a copy of the blog on a machine whose zone is ``machine``."""
    site = where / "blog"
    shutil.copytree(blog.path, site, symlinks=True)
    done = subprocess.run(
        [*hexo_or_skip(), "generate"],
        cwd=site, env={**os.environ, "TZ": machine}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # Hexo reports a post it could not read on its output and still exits 0.
    assert "ERROR" not in output and "WARN" not in output, output
    return site / "public"


def post_pages(public: Path) -> dict[str, Path]:
    """Each generated post page, by the article id of its link to the original."""
    pages: dict[str, Path] = {}
    for page in public.glob("20[0-9][0-9]/[01][0-9]/[0-3][0-9]/**/index.html"):
        found = re.search(r'原文：<a [^>]*href="[^"]*/(\d+)\.html">', page.read_text("utf-8"))
        assert found, page
        assert found.group(1) not in pages, (page, pages)
        pages[found.group(1)] = page
    return pages


@pytest.mark.parametrize("machine", MACHINES)
def test_every_post_renders_at_its_own_time(blog: Blog, machine: str, tmp_path: Path) -> None:
    public = generate(blog, machine, tmp_path)
    pages = post_pages(public)
    assert set(pages) == set(blog.records)  # every article reached the blog
    shown_in = ZoneInfo(blog.timezone or machine)  # Hexo's zone: the blog's, else the machine's
    days_apart = 0
    for ident, record in blog.records.items():
        instant = dt.datetime.fromisoformat(record["published_at"])
        text = pages[ident].read_text("utf-8")
        (tag,) = re.findall(
            r'<time class="dt-published" datetime="([^"]+)"[^>]*>([^<]+)</time>', text
        )
        utc = instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert tag[0] == utc, (record["title"], tag)
        assert tag[1] == instant.astimezone(shown_in).strftime("%Y-%m-%d %H:%M:%S"), tag
        # The URL's date is Hexo's own: the build machine's zone, whatever `timezone` says.
        day = instant.astimezone(ZoneInfo(machine)).strftime("%Y/%m/%d")
        assert pages[ident].relative_to(public).as_posix().startswith(day + "/")
        days_apart += instant.astimezone(BEIJING).date() != instant.astimezone(shown_in).date()
    # The test means something: in UTC and New York, some articles are on another day there.
    assert days_apart == (0 if shown_in.key == "Asia/Shanghai" else 4)


def test_the_text_is_verbatim_and_the_lead_image_is_shown(blog: Blog, tmp_path: Path) -> None:
    public = generate(blog, "UTC", tmp_path)
    pages = post_pages(public)
    by_title = {record["title"]: pages[ident] for ident, record in blog.records.items()}
    assert {PERCENT, TEMPLATE, HASH, *CASES} <= set(by_title)
    template_page = html.unescape(by_title[TEMPLATE].read_text("utf-8"))
    # In the title and in the body (the lead paragraph quotes the title).
    assert template_page.count(TEMPLATE) >= 2, template_page
    # Names Hexo can serve: no % (URIError), no # (it would end the URL).
    assert "％" in by_title[PERCENT].parent.name and "＃" in by_title[HASH].parent.name
    assert by_title[CASES[0]].parent.name.casefold() != by_title[CASES[1]].parent.name.casefold()
    (pictured,) = [i for i, r in blog.records.items() if r["images"]]
    page = pages[pictured].read_text("utf-8")
    assert f'<img src="{lead_image(pictured)}"' in page
    # ... in the article itself, above its first paragraph.
    body = page[page.index('article-entry" itemprop="articleBody"') :]
    assert body.index("<img ") < body.index("<p>")
