"""The copy of 每经网's URL tree (fixtures/site and fixtures/articles), served on 127.0.0.x.

What it serves (hand-written parts under ``fixtures/site/``, see its README.md):

- ``/robots.txt``;
- column list pages ``/columns/<id>/`` (also without the slash, and as ``/columns/<id>.html/``)
  and ``/columns/<id>/page/<n>`` in every list markup, with next-page links in several forms,
  duplicate links, spam, off-site and ``javascript:`` links; column 1161 lists every page of
  ``fixtures/articles/``; the 2025–2026 forms: a channel host's list (432), the mobile web app's
  ``/web_app/column/<id>/`` (317), a mobile list paged ``/page/<n>/`` (318), and a whole-column
  page of 80 rows without a next link (``/columns/2093.html/``, generated);
- the site under its real names: a request whose ``Host`` is one of the site's names
  (``www.nbd.com.cn``, ``money.nbd.com.cn``, ``www.mrjjxw.com`` …, a test resolving them to
  127.0.0.1) gets the same tree, and the ``second-host`` article redirects from www to
  ``www.mrjjxw.com``;
- articles at ``/articles/YYYY-MM-DD/ID.html``: the pages of ``fixtures/articles/*.html`` at
  their canonical path, plus synthetic ones rendered from a template (``fixtures/site/articles.tsv``
  and, with ``volume=N``, N more listed in a generated column); any other article is a 404;
- the search API ``POST /news-search/queryByMatch`` over the titles of all those articles.

``tools/sitecopy.py`` serves it from the command line.
"""

from __future__ import annotations

import html
import json
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from testsite.server import Server
from testsite.wire import Hit, Reply

PROJECT = Path(__file__).resolve().parents[1]
SITE_DIR = PROJECT / "fixtures" / "site"
ARTICLES_DIR = PROJECT / "fixtures" / "articles"
CANONICAL_ROOT = "https://www.nbd.com.cn"
SEARCH_PATH = "/news-search/queryByMatch"
FIXTURE_COLUMN = "1161"
#: The whole-column page (``/columns/2093.html/``): this many generated rows, no next link.
WHOLE_COLUMN = "2093"
WHOLE_COLUMN_ROWS = 80
SECOND_HOST = "www.mrjjxw.com"
#: Names of the site a request may come under (a test resolving them to loopback).
SITE_NAMES = re.compile(r"^(?:[a-z0-9-]+\.)*nbd\.com\.cn$|^(?:www\.)?mrjjxw\.com$")

_ARTICLE_PATH = re.compile(r"^/articles/(\d{4}-\d{2}-\d{2})/(\d+)\.html$")
_COLUMN_PATH = re.compile(r"^/columns/(\d+)(?:\.html)?(?:/|/page/(\d+)/?)?$")
_APP_COLUMN_PATH = re.compile(r"^/web_app/column/(\d+)/?$")
_CANONICAL = re.compile(rb"<link[^>]+rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)[\"']", re.I)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S | re.I)
_TIME = re.compile(r"<span class=\"time\">\s*(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})", re.S)
_TAGS = re.compile(r"<!--.*?-->|<[^>]+>", re.S)


@dataclass
class Article:
    """One article the site copy serves."""

    id: str
    date: str
    time: str
    title: str
    special: str = ""
    """``redirect <location>``, ``challenge``, ``second-host``, ``moved-from <date>``,
    ``time <script|jsonld|meta|unreadable|disagree>`` (fixtures/site/articles.tsv), or empty."""
    file: Path | None = None
    """The fixture page served as is, or None for a synthetic page."""

    @property
    def path(self) -> str:
        return f"/articles/{self.date}/{self.id}.html"

    @property
    def url(self) -> str:
        """The canonical URL."""
        return CANONICAL_ROOT + self.path

    @property
    def listed_at(self) -> str:
        return f"{self.date}T{self.time}+08:00"


def read_articles_tsv(path: Path) -> dict[str, Article]:
    articles: dict[str, Article] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        ident, day, clock, title = cells[:4]
        articles[ident] = Article(ident, day, clock, title, cells[4] if len(cells) > 4 else "")
    return articles


def read_fixture_articles(directory: Path) -> dict[str, Article]:
    """The article fixtures, keyed by id, from each page's canonical link, h1 and time."""
    articles: dict[str, Article] = {}
    if not directory.is_dir():
        return articles
    for file in sorted(directory.glob("*.html")):
        raw = file.read_bytes()
        found = _CANONICAL.search(raw)
        match = _ARTICLE_PATH.match(urlsplit(found[1].decode()).path) if found else None
        if not match:
            continue
        text = _decode(raw)
        h1 = _H1.search(text)
        title = " ".join(html.unescape(_TAGS.sub("", h1[1])).split()) if h1 else file.stem
        stamp = _TIME.search(text)
        clock = stamp[2] if stamp else "12:00:00"
        articles[match[2]] = Article(match[2], match[1], clock, title, file=file)
    return articles


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", "replace")


class SiteCopy(Server):
    """The server of the site copy (see the module docs; the server's own options are
    :class:`~testsite.server.Server`'s).

    ``offsite_root`` fills ``{{OFFSITE}}`` in the tree (off-site links and redirects: point it
    at a second server on 127.0.0.2 to prove nothing goes there). ``serve_site=False`` makes a
    trap that answers 404 to everything and only records hits. ``volume=N`` adds N synthetic
    articles listed by a generated column ``volume_column``, ``volume_page_size`` rows a page.
    ``search_shape`` is how the search API answers: ``ok``, ``changed`` (another JSON layout)
    or ``second-host`` (its links on the second article host).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        site_dir: Path = SITE_DIR,
        articles_dir: Path = ARTICLES_DIR,
        serve_site: bool = True,
        offsite_root: str = "http://127.0.0.2:9",
        volume: int = 0,
        volume_column: str = "9000",
        volume_page_size: int = 80,
        search_shape: str = "ok",
        keep_alive: bool = True,
        tls: ssl.SSLContext | None = None,
        latency: float = 0.0,
        capacity: int | None = None,
        hit_log: Path | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            keep_alive=keep_alive,
            tls=tls,
            latency=latency,
            capacity=capacity,
            hit_log=hit_log,
        )
        self.site_dir = site_dir
        self.serve_site = serve_site
        self.offsite_root = offsite_root
        self.volume_column = volume_column
        self.volume_page_size = volume_page_size
        self.search_shape = search_shape
        self.articles: dict[str, Article] = {}
        self.fixture_ids: list[str] = []
        self.whole_column_ids: list[str] = []
        self.volume_ids: list[str] = []
        if serve_site:
            self.articles.update(read_articles_tsv(site_dir / "articles.tsv"))
            fixtures = read_fixture_articles(articles_dir)
            self.fixture_ids = sorted(fixtures, key=lambda i: _newest_first(fixtures[i]))
            self.articles.update(fixtures)
            self.whole_column_ids = self._add_whole_column()
            self.volume_ids = self._add_volume(volume)

    @staticmethod
    def site_name(hit: Hit) -> str | None:
        """The site's name the request came under (its ``Host``), or None for an address."""
        name = urlsplit("//" + hit.headers.get("host", "")).hostname or ""
        return name if SITE_NAMES.match(name) else None

    # -- for tests ---------------------------------------------------------------------------

    def article_hits(self) -> list[str]:
        """Ids of the article pages requested, in order, repeats kept."""
        ids = []
        for path in self.paths():
            m = _ARTICLE_PATH.match(urlsplit(path).path)
            if m:
                ids.append(m[2])
        return ids

    def listed(self, column: str) -> list[Article]:
        """Articles listed by a generated column (1161: the fixture pages; the volume column),
        newest first. The hand-written columns' contents are in their files."""
        if column == FIXTURE_COLUMN:
            return [self.articles[i] for i in self.fixture_ids]
        if column == self.volume_column:
            return [self.articles[i] for i in self.volume_ids]
        if column == WHOLE_COLUMN:
            return [self.articles[i] for i in self.whole_column_ids]
        raise ValueError(f"column {column} is hand-written: read fixtures/site/columns/{column}/")

    def search(self, keyword: str) -> list[Article]:
        """Articles whose title holds ``keyword``, newest first (what the API answers)."""
        hits = [a for a in self.articles.values() if keyword and keyword in a.title]
        return sorted(hits, key=_newest_first)

    # -- answering ---------------------------------------------------------------------------

    def respond(self, hit: Hit) -> Reply:
        if not self.serve_site:
            return self._not_found()
        path = hit.route
        if path == "/robots.txt":
            body = (self.site_dir / "robots.txt").read_bytes()
            return Reply(200, body, {"Content-Type": "text/plain"})
        if path == SEARCH_PATH:
            return self._search(hit)
        m = _ARTICLE_PATH.match(path)
        if m:
            return self._article(m[1], m[2], hit)
        m = _COLUMN_PATH.match(path)
        if m and hit.method in ("GET", "HEAD"):
            return self._column(m[1], int(m[2] or 1))
        m = _APP_COLUMN_PATH.match(path)
        if m and hit.method in ("GET", "HEAD"):
            page = self.site_dir / "web_app" / "column" / f"{m[1]}.html"
            return Reply(200, page.read_bytes()) if page.is_file() else self._not_found()
        return self._not_found()

    def _fill(self, text: str) -> str:
        return (
            text.replace("{{OFFSITE}}", self.offsite_root)
            .replace("{{LOCALHOST}}", f"http://localhost:{self.port}")
            .replace("{{ROOT}}", self.root)
        )

    def _not_found(self) -> Reply:
        page = self.site_dir / "404.html"
        return Reply(404, page.read_bytes() if page.is_file() else b"not found")

    def _challenge(self) -> Reply:
        return Reply(200, (self.site_dir / "challenge.html").read_bytes())

    def _second_host(self, hit: Hit | None) -> str:
        """The second article host's root as the client can reach it: under the site's names
        (a test resolving them to loopback) on this port, else the real one (a mirror maps it
        back onto itself)."""
        if hit is not None and self.site_name(hit):
            return f"http://{SECOND_HOST}:{self.port}"
        return f"https://{SECOND_HOST}"

    def _article(self, day: str, ident: str, hit: Hit | None = None) -> Reply:
        article = self.articles.get(str(int(ident)))
        if article is not None and article.special == f"moved-from {day}":
            # The list's link has the wrong date: the site moved it to the second host.
            return Reply(301, b"", {"Location": self._second_host(hit) + article.path})
        if article is None or article.date != day:
            return self._not_found()
        if article.special == "challenge":
            return self._challenge()
        name = self.site_name(hit) if hit is not None else None
        if article.special == "second-host" and name and name != SECOND_HOST:
            return Reply(301, b"", {"Location": self._second_host(hit) + article.path})
        if article.special.startswith("redirect "):
            location = self._fill(article.special.split(" ", 1)[1])
            return Reply(302, b"", {"Location": location})
        if article.file is not None:
            raw = article.file.read_bytes()
            try:
                raw.decode("utf-8")
                kind = "text/html; charset=utf-8"
            except UnicodeDecodeError:
                kind = "text/html"  # let the page's own meta charset speak
            return Reply(200, raw, {"Content-Type": kind})
        return Reply(200, render_article(article).encode("utf-8"))

    def _column(self, column: str, page: int) -> Reply:
        if column == WHOLE_COLUMN:
            return self._whole_column() if page == 1 else self._not_found()
        if column == self.volume_column and self.volume_ids:
            if (page - 1) * self.volume_page_size >= len(self.volume_ids):
                return self._not_found()
            return Reply(200, self._volume_page(page).encode("utf-8"))
        folder = self.site_dir / "columns" / column
        file = folder / "index.html" if page == 1 else folder / "page" / f"{page}.html"
        if not file.is_file():
            return self._not_found()
        text = self._fill(file.read_text(encoding="utf-8"))
        if "{{FIXTURE_ROWS}}" in text:
            text = text.replace(
                "{{FIXTURE_ROWS}}", list_groups(self.articles[i] for i in self.fixture_ids)
            )
        return Reply(200, text.encode("utf-8"))

    def _search(self, hit: Hit) -> Reply:
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if hit.method != "POST":
            return Reply(405, b'{"code": 405, "msg": "POST only"}', json_type)
        try:
            query = json.loads(hit.body or b"null")
            keyword, start, size = query["keyword"], int(query["from"]), int(query["size"])
            if not isinstance(keyword, str) or start < 0 or not 0 < size <= 100:
                raise ValueError(query)
        except (ValueError, KeyError, TypeError):
            return Reply(400, b'{"code": 400, "msg": "bad query"}', json_type)
        found = self.search(keyword)
        results = [
            {
                "title": a.title.replace(keyword, f"<em>{keyword}</em>"),
                "url": a.url,
                "publishTime": a.date,
                "author": "",
                "editor": "",
                "digest": a.title[:20],
            }
            for a in found[start : start + size]
        ]
        if query.get("includeAd") and start == 0 and results:
            results.insert(1, {
                "title": f"推广：{keyword}主题理财",
                "url": "https://activity.nbd.com.cn/Upload/view.php/ad-1.html",
                "publishTime": "2021-04-08",
                "author": "", "editor": "", "digest": "广告",
            })  # fmt: skip
        if self.search_shape == "second-host":  # 2025-2026 links: the second host, http
            for result in results:
                result["url"] = result["url"].replace(CANONICAL_ROOT, f"http://{SECOND_HOST}")
        if self.search_shape == "changed":
            answer: dict[str, Any] = {"code": 0, "result": {"total": len(found), "list": results}}
        else:
            answer = {"code": 200, "data": {"totalHits": len(found), "searchResults": results}}
        return Reply(200, json.dumps(answer, ensure_ascii=False).encode("utf-8"), json_type)

    # -- the whole-column page -------------------------------------------------------------

    def _add_whole_column(self) -> list[str]:
        ids = []
        start = datetime(2026, 7, 15, 23, 0, 0)
        for n in range(WHOLE_COLUMN_ROWS):
            when = start - timedelta(minutes=47 * n)  # about 30 a day, three days
            ident = str(4_490_080 - n)
            title = f"医药频道稿件第{WHOLE_COLUMN_ROWS - n}号：{_TOPICS[n % len(_TOPICS)]}"
            self.articles[ident] = Article(
                ident, when.date().isoformat(), when.time().isoformat(), title
            )
            ids.append(ident)
        return ids

    def _whole_column(self) -> Reply:
        """``/columns/2093.html/``: 80 rows, every fourth linked on the second host, no next
        link (the 2026 form: a column's whole list on one page)."""
        rows = [self.articles[i] for i in self.whole_column_ids]
        groups = list_groups(rows)
        for article in rows[::4]:
            groups = groups.replace(f'"{article.url}"', f'"https://{SECOND_HOST}{article.path}"')
        return Reply(
            200,
            (
                '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
                "<title>医药 | 每经网</title></head><body>"
                '<div class="g-list-text"><div class="u-channelname"><h2>医药</h2></div>'
                f"{groups}</div></body></html>"
            ).encode(),
        )

    # -- volume ------------------------------------------------------------------------------

    def _add_volume(self, count: int) -> list[str]:
        ids = []
        start = datetime(2026, 9, 30, 23, 0, 0)
        for n in range(count):
            when = start - timedelta(minutes=17 * n)
            ident = str(5_000_000 + count - n)
            title = f"合成稿件第{count - n}号：{_TOPICS[n % len(_TOPICS)]}"
            self.articles[ident] = Article(
                ident, when.date().isoformat(), when.time().isoformat(), title
            )
            ids.append(ident)
        return ids

    def _volume_page(self, page: int) -> str:
        size = self.volume_page_size
        rows = [self.articles[i] for i in self.volume_ids[(page - 1) * size : page * size]]
        pages = -(-len(self.volume_ids) // size)
        next_page = f"/columns/{self.volume_column}/page/{page + 1}"
        nav = f'<div class="u-page"><a href="{next_page}">下一页</a></div>' if page < pages else ""
        return (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>合成栏目 第{page}页 | 每经网</title></head><body>"
            f'<div class="g-list-text"><div class="u-channelname"><h2>合成栏目</h2></div>'
            f"{list_groups(rows)}{nav}</div></body></html>"
        )


_TOPICS = (
    "新能源",
    "半导体",
    "消费复苏",
    "基建投资",
    "医药集采",
    "跨境电商",
    "银行理财",
    "港口物流",
)


def _newest_first(article: Article) -> tuple[int, int, int]:
    """Sort key putting the newest article first."""
    stamp = int(article.date.replace("-", "") + article.time.replace(":", ""))
    return (-stamp, -int(article.id), 0)


def list_groups(articles: Iterable[Article]) -> str:
    """Rows in the 2019–2026 list markup, one ``div.m-list`` per date, links absolute."""
    groups: dict[str, list[Article]] = {}
    for article in articles:
        groups.setdefault(article.date, []).append(article)
    out = []
    for day, rows in groups.items():
        items = "".join(
            f'\n      <li class="u-news-title"><a href="{a.url}" target="_blank">'
            f"{html.escape(a.title)}</a><span>{a.time}</span></li>"
            for a in rows
        )
        out.append(
            f'  <div class="m-list">\n    <p class="u-channeltime">{day}</p>\n'
            f'    <ul class="u-news-list">{items}\n    </ul>\n  </div>'
        )
    return "\n".join(out)


_REPORTERS = ("林晓舟", "周一帆", "陈默", "许清和", "杜远")
_EDITORS = ("赵言", "孙敏", "梁启")
_SENTENCES = (
    "据了解，相关部门近期密集调研，市场对后续政策的预期明显升温。",
    "多位业内人士表示，行业景气度仍处在修复通道，但分化会进一步加大。",
    "从已披露的数据看，头部企业的订单和现金流表现好于行业平均水平。",
    "记者注意到，上下游企业正在调整库存策略，以应对原材料价格波动。",
    "分析人士认为，短期扰动不改长期趋势，投资者需关注基本面变化。",
)


def render_article(article: Article) -> str:
    """A synthetic article page in the 2021 desktop template (NBD.md), invented text.

    The body names the article's own title and numbers, so no two synthetic articles share a
    text (the delivery side flags republished texts as duplicates)."""
    n = int(article.id)
    reporter, editor = _REPORTERS[n % len(_REPORTERS)], _EDITORS[n % len(_EDITORS)]
    year, month, day = (int(x) for x in article.date.split("-"))
    lead = (
        f"{year}年{month}月{day}日，围绕“{article.title}”，记者采访了{n % 7 + 3}家相关企业。"
        f"数据显示，相关指标同比变化{n % 97 / 10 + 1:.1f}%，"
        f"样本{n}中有{n % 50 + 10}家给出积极预期。"
    )
    lines = [lead] + [_SENTENCES[(n + k) % len(_SENTENCES)] for k in range(2 + n % 3)]
    paragraphs = "\n".join(f"    <p>{html.escape(line)}</p>" for line in lines)
    title = html.escape(article.title)
    stamp = f"{article.date} {article.time}"
    visible, script, head = _time_sources(article, stamp)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title} | 每经网</title>
<link rel="canonical" href="{article.url}">
<link rel="alternate" media="only screen and (max-width: 640px)" href="https://m.nbd.com.cn{article.path}">
{head}</head>
<body>
<div class="g-nav">
  <ul class="u-nav">
    <li class="u-nav-item"><a href="https://www.nbd.com.cn/">首页</a></li>
    <li class="u-nav-item"><a href="https://www.nbd.com.cn/columns/3/">要闻</a></li>
    <li class="u-nav-item"><a href="https://www.nbd.com.cn/columns/332/">重磅原创</a></li>
  </ul>
</div>
<div class="g-main">
<div class="g-main-left">
<div class="g-article">
  <div class="g-article-top">
    <h1>
      <!-- <a href="https://www.nbd.com.cn/articles/2016-01-01/1.html">乐视与Vizio</a> -->
      {title}
    </h1>
    <!--发布 时间-->
    <p class="u-time">
      <span class="source">
        每日经济新闻
      </span>
{visible}    </p>
    <div class="typeTags"></div>
  </div>
  <!--文章主体-->
  <div class="g-articl-text">
    <!-- 原创文章自动插入记者、编辑 -->
    <p style="color: #6d6d6d;">每经记者 {reporter}&nbsp;&nbsp;&nbsp;&nbsp;每经编辑 {editor}</p>
    <!-- 正文 -->
{paragraphs}
    <!-- 页数 -->
  </div>
</div>
</div>
<div class="g-main-right">
  <h3>相关文章</h3>
  <ul><li><a href="https://www.nbd.com.cn/articles/2021-04-05/1799901.html">新能源汽车下乡活动启动</a></li></ul>
</div>
</div>
{script}
<div class="g-footer"><p>每日经济新闻 版权所有 · newsbot 测试用的本地副本，文字为虚构</p></div>
</body>
</html>
"""


def _time_sources(article: Article, stamp: str) -> tuple[str, str, str]:
    """The visible ``span.time``, the script with ``pubDate`` and what goes into ``<head>``
    (JSON-LD, a meta tag) for the article's ``time <form>`` special (articles.tsv)."""
    form = article.special.removeprefix("time ") if article.special.startswith("time ") else ""
    visible = f'      <span class="time">\n        {stamp}\n      </span>\n'
    script = f'<script>var pageInfo = {{"pubDate": "{stamp}"}};</script>'
    when = datetime.fromisoformat(f"{article.date}T{article.time}")
    if form == "script":
        visible = ""
    elif form == "jsonld":
        utc = (when - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ld = {"@context": "https://schema.org", "@type": "NewsArticle", "datePublished": utc}
        return "", "", f'<script type="application/ld+json">{json.dumps(ld)}</script>\n'
    elif form == "meta":
        head = f'<meta property="article:published_time" content="{when.isoformat()}+08:00">\n'
        return "", "", head
    elif form == "unreadable":
        visible = '      <span class="time">\n        Invalid Date\n      </span>\n'
    elif form == "disagree":
        later = (when + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
        script = f'<script>var pageInfo = {{"pubDate": "{later}"}};</script>'
    return visible, script, ""
