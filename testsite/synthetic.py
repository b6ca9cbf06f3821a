"""A generated copy of 每经网, large and fast enough to benchmark a crawl against.

    python -m testsite.synthetic --articles 5000 [--columns 3] [--per-page 50] [--port 0]

Serves, following the real markup (NBD.md):

- ``/robots.txt`` allowing everything;
- ``/columns/<id>/`` and ``/columns/<id>/page/<n>``: the 2019–2026 list markup (date groups of
  ``li.u-news-title`` rows with a time of day), ``per_page`` rows a page, newest first, with a
  下一页 link on every page but the last;
- ``/articles/YYYY-MM-DD/<id>.html``: whole pages of about 100 KB (head with styles and scripts,
  navigation, the 2021 article template in three kinds — original reporting with a byline and
  an abstract, AI flash, compiled with trailing credits —, a sidebar and a footer); with
  ``small``, the same article template without the chrome (3–5 KB).

The articles are split evenly over the columns. Everything is generated from the article id
when asked for, so 50,000 articles cost no memory (with ``record=False``, no hits are kept
either); the text is invented. It answers in tens of microseconds, far below the crawler's cost
per page, so the crawl measures the crawler.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import sys
from datetime import datetime, timedelta
from html import escape

from testsite.server import Server
from testsite.wire import Hit, Reply

FIRST_ID = 4_000_000
LATEST = datetime(2026, 9, 30, 22, 0, 0)  # Beijing time of the newest article
SPACING = timedelta(minutes=7)  # between two consecutive articles of the whole site

# --- invented text ---------------------------------------------------------------------------
SUBJECTS = [
    "央行",
    "券商",
    "基金公司",
    "新能源车企",
    "光伏企业",
    "白酒龙头",
    "半导体厂商",
    "地方政府",
    "保险机构",
    "外贸企业",
    "电池厂商",
    "物业公司",
    "医药企业",
    "航空公司",
    "快递企业",
    "银行理财",
]
VERBS = [
    "发布",
    "披露",
    "调整",
    "推进",
    "加码",
    "放缓",
    "回应",
    "收紧",
    "扩大",
    "优化",
    "公布",
    "启动",
]
OBJECTS = [
    "季度业绩",
    "产能规划",
    "价格策略",
    "分红方案",
    "回购计划",
    "海外布局",
    "研发投入",
    "融资安排",
    "渠道改革",
    "库存水平",
    "成本结构",
    "用户增长",
]
CLAUSES = [
    "业内人士认为这一变化将在未来几个季度持续显现",
    "多位分析师表示市场对此已有一定预期",
    "记者注意到相关数据较上年同期明显改善",
    "公司方面在接受采访时未透露更多细节",
    "从产业链调研情况看下游需求仍待观察",
    "这也是今年以来同类事项中规模较大的一次",
    "有投资者在互动平台上就此提问",
    "监管部门此前已多次释放相关信号",
]
SURNAMES = list("王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高")
GIVEN = [
    "砚丹",
    "志成",
    "俊杰",
    "嘉夏",
    "雅",
    "帅",
    "成祥",
    "鑫磊",
    "万平",
    "彪",
    "星",
    "子莫",
    "听",
    "鼎",
    "小同",
    "晓",
    "明",
    "宇",
    "婷",
    "涛",
]
CREDITS = ["摄图网", "视觉中国", "每经资料图"]
HEADLINES = [f"{s}{v}{o}" for s in SUBJECTS for v in VERBS[:4] for o in OBJECTS[:4]]
NAV = list(
    [
        "首页",
        "要闻",
        "公司",
        "金融",
        "证券",
        "汽车",
        "地产",
        "科技",
        "健康",
        "快讯",
        "视频",
        "专题",
        "数据",
        "理财",
        "读书",
        "城市",
        "双碳",
    ]
)

STYLE = "\n".join(
    f".m-{name}-{i} {{ margin: {i}px {i + 2}px; padding: 0 {i}px; color: #{i * 97 % 4096:03x}; "
    f"font-size: {12 + i % 6}px; line-height: 1.{i % 9}; }}"
    for i in range(90)
    for name in ("nav", "side")
)
SCRIPT = "\n".join(
    f"  function nbd_w{i}(el) {{ if (!el) return; var s = el.getAttribute('data-s{i}') || '';"
    f" el.className = s.split(' ').slice(0, {i % 7 + 1}).join(' '); return s.length + {i}; }}"
    for i in range(160)
)


def name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def sentence(rng: random.Random, article_id: int, n: int) -> str:
    return (
        f"{rng.choice(SUBJECTS)}{rng.choice(VERBS)}{rng.choice(OBJECTS)}，"
        f"涉及金额约{article_id % 997 + n}.{rng.randrange(10)}亿元，{rng.choice(CLAUSES)}。"
        f"{rng.choice(CLAUSES)}，第{n}项数据为{rng.randrange(1000, 99999)}。"
    )


# --- pages -----------------------------------------------------------------------------------


class SyntheticPages:
    """The generated pages (no server): ``articles`` articles split evenly over ``columns``,
    ``per_page`` rows a list page, whole pages or (``small``) the article template alone."""

    def __init__(
        self, articles: int, columns: list[str], per_page: int, small: bool = False
    ) -> None:
        self.articles = articles
        self.columns = columns
        self.per_page = per_page
        self.small = small
        self.head_chrome = self._head_chrome()
        self.foot_chrome = self._foot_chrome()

    # The site's articles, newest first: index 0 .. articles-1. Column c holds every
    # len(columns)-th article starting at c.
    def article_id(self, index: int) -> int:
        return FIRST_ID + self.articles - index

    def index_of(self, article_id: int) -> int:
        return FIRST_ID + self.articles - article_id

    def published(self, index: int) -> datetime:
        return LATEST - index * SPACING

    def path(self, index: int) -> str:
        return f"/articles/{self.published(index):%Y-%m-%d}/{self.article_id(index)}.html"

    def column_indexes(self, column: str) -> range:
        c = self.columns.index(column)
        return range(c, self.articles, len(self.columns))

    # -- list pages -------------------------------------------------------------------------

    def list_page(self, column: str, page: int) -> bytes | None:
        if column not in self.columns:
            return None
        indexes = self.column_indexes(column)
        pages = max(1, -(-len(indexes) // self.per_page))
        if not 1 <= page <= pages:
            return None
        rows = indexes[(page - 1) * self.per_page : page * self.per_page]
        groups: list[str] = []
        day = None
        for index in rows:
            when = self.published(index)
            if when.date() != day:
                if day is not None:
                    groups.append("</ul></div>")
                day = when.date()
                groups.append(
                    f'<div class="m-list"><p class="u-channeltime">{day:%Y-%m-%d}</p>'
                    '<ul class="u-news-list">'
                )
            title = escape(HEADLINES[self.article_id(index) % len(HEADLINES)])
            groups.append(
                f'<li class="u-news-title"><a href="https://www.nbd.com.cn{self.path(index)}" '
                f'target="_blank">{title}</a><span>{when:%H:%M:%S}</span></li>'
            )
        if rows:
            groups.append("</ul></div>")
        more = (
            f'<div class="u-page"><a href="/columns/{column}/page/{page + 1}">下一页</a></div>'
            if page < pages
            else ""
        )
        body = (
            f'<div class="g-list-text"><p class="u-channelname">栏目{column}</p>'
            f"{''.join(groups)}</div>{more}"
        )
        head = self.head_chrome.replace("@@TITLE@@", f"栏目{column} | 每经网", 1)
        return (head.replace("@@META@@", "", 1) + body + self.foot_chrome).encode()

    # -- article pages ----------------------------------------------------------------------

    def article_page(self, date_text: str, article_id: int) -> bytes | None:
        index = self.index_of(article_id)
        if not 0 <= index < self.articles or f"{self.published(index):%Y-%m-%d}" != date_text:
            return None
        rng = random.Random(article_id)
        when = self.published(index)
        title = f"{HEADLINES[article_id % len(HEADLINES)]}（第{article_id}号）"
        kind = article_id % 3  # 0 original, 1 AI flash, 2 compiled
        paragraphs = [sentence(rng, article_id, n) for n in range(rng.randrange(8, 22))]
        reporter, editor = name(rng), name(rng)
        parts = [
            '<div class="g-article"><div class="g-article-top">',
            '<h1><!--<a href="http://www.nbd.com.cn/articles/2016-07-26/1025386.html">乐视收购'
            f"Vizio</a>-->\n    {escape(title)}\n  </h1>\n  <!--发布 时间-->\n",
            '<p class="u-time"><span class="source">\n      每日经济新闻\n    </span>'
            f'<span class="time">\n      {when:%Y-%m-%d %H:%M:%S}\n    </span></p>',
            '<div class="typeTags">',
        ]
        if kind == 0:
            code = f"{600000 + article_id % 4000:06d}"
            parts.append(
                f'<a class="typeTag tagColor1" data-stock-code="{code}" href="/articles/'
                f'index_for_stock_tag?tag_type=stock&tag_value={code}">{rng.choice(SUBJECTS)}'
                '<abbr class="highs">+1.8%</abbr></a>'
            )
        parts.append(
            '</div><!-- div class="typeTags"><a class="typeTag">影视</a></div --></div>'
            "<!--文章摘要-->"
        )
        if kind == 0:
            points = "".join(f"<p>●{sentence(rng, article_id, n)}</p>" for n in range(2))
            parts.append(
                '<div class="g-article-abstract"><div class="m-abstractUp"></div>'
                f'<div class="m-abstractDown"></div>{points}</div>'
            )
        parts.append(
            '<!--文章主体--><div class="g-articl-text">\n<!-- 原创文章自动插入记者、编辑 -->\n'
        )
        if kind == 0:
            parts.append(
                '<p style="color:#6d6d6d;font-size:14px;">每经记者 '
                f"{reporter}&nbsp;&nbsp;&nbsp; 每经编辑 {editor}</p>\n"
            )
        elif kind == 2:
            parts.append(f'<p style="color:#6d6d6d;">每经编辑 {editor}</p>\n')
        parts.append(
            '<!-- 正文图片 --><p><img class="thumbnail-pic-with-copyright" '
            f'src="//image.nbd.com.cn/uploads/articles/images/{article_id}/lead.jpg"></p>'
            f"<p>图片来源：{rng.choice(CREDITS)}</p>\n<!-- 正文 -->\n"
        )
        for n, text in enumerate(paragraphs):
            if n and n % 6 == 0:
                parts.append(f"<h2>{rng.choice(OBJECTS)}{rng.choice(VERBS)}</h2>\n")
            if kind == 2:
                parts.append(f"<p><span>{text}</span></p>\n")
            else:
                parts.append(f"<p>{text}</p>\n")
        if kind == 1:
            parts.append(
                f'<p class="m-original-right">(记者 {reporter})</p>'
                '<p class="nbd-mzsm">免责声明：本文内容与数据仅供参考，不构成投资建议。</p>\n'
            )
        elif kind == 2:
            parts.append(f"<p>编辑| {editor}</p><p>校对|{name(rng)}</p>\n")
        parts.append("<!-- 页数 --></div></div>")
        head = self.head_chrome.replace("@@TITLE@@", f"{escape(title)} | 每经网", 1)
        meta = (
            f'<link rel="canonical" href="https://www.nbd.com.cn{self.path(index)}">'
            f'<script>var nbd_article = {{"id": {article_id}, '
            f'"pubDate": "{when:%Y-%m-%d %H:%M:%S}"}};</script>'
        )
        sidebar = "" if self.small else self._sidebar(index)
        head = head.replace("@@META@@", meta, 1)
        return (head + "".join(parts) + sidebar + self.foot_chrome).encode()

    def _sidebar(self, index: int) -> str:
        near = [i for i in range(index - 12, index + 12) if 0 <= i < self.articles and i != index]
        items = "".join(
            f'<li><a href="https://www.nbd.com.cn{self.path(i)}">'
            f"{escape(HEADLINES[self.article_id(i) % len(HEADLINES)])}</a></li>"
            for i in near
        )
        return f'<div class="g-sidebar"><h3>相关阅读</h3><ul class="m-side">{items}</ul></div>'

    def _head_chrome(self) -> str:
        if self.small:  # the article alone: no styles, scripts, navigation
            return (
                '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
                '<title>@@TITLE@@</title>@@META@@</head><body><div class="g-main">'
            )

        def sub(i: int, n: str) -> str:
            return "".join(f'<a href="/columns/{i}{j}/">{n}{j}</a>' for j in range(12))

        nav = "".join(
            f'<li class="m-nav-{i}"><a href="https://www.nbd.com.cn/columns/{i + 2}/">{n}</a>'
            f'<div class="sub">{sub(i, n)}</div></li>'
            for i, n in enumerate(NAV)
        )
        return (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            "<title>@@TITLE@@</title>"
            '<meta name="keywords" content="每经网,每日经济新闻,财经">@@META@@'
            f"<style>\n{STYLE}\n</style>"
            f"<script>\n{SCRIPT}\n</script></head><body>"
            f'<div class="g-header"><ul class="m-nav">{nav}</ul></div>'
            '<div class="g-main">'
        )

    def _foot_chrome(self) -> str:
        if self.small:
            return "</div></body></html>"
        links = "".join(
            f'<a href="https://www.nbd.com.cn/columns/{i}/">{NAV[i % len(NAV)]}{i}</a>'
            for i in range(200)
        )
        return (
            f'</div><div class="g-footer"><div class="links">{links}</div>'
            "<p>每日经济新闻 版权所有 未经许可不得转载</p></div>"
            f"<script>\n{SCRIPT}\n</script></body></html>"
        )


# --- the server --------------------------------------------------------------------------------

_ARTICLE = re.compile(r"^/articles/(\d{4}-\d{2}-\d{2})/(\d+)\.html$")
_COLUMN = re.compile(r"^/columns/(\d+)(?:/page/(\d+))?/?$")
_HTML = {"Content-Type": "text/html; charset=utf-8"}


class SyntheticSite(Server):
    """The server of the generated pages (see the module docs); ``self.pages`` makes them.
    Other options are :class:`~testsite.server.Server`'s."""

    def __init__(
        self,
        articles: int = 5000,
        columns: tuple[str, ...] | list[str] = ("3",),
        per_page: int = 50,
        *,
        small: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
    ) -> None:
        super().__init__(host, port, record=record)
        self.pages = SyntheticPages(articles, list(columns), per_page, small)

    def respond(self, hit: Hit) -> Reply:
        path = hit.route
        if path == "/robots.txt":
            return Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
        page = None
        if m := _ARTICLE.match(path):
            page = self.pages.article_page(m[1], int(m[2]))
        elif m := _COLUMN.match(path):
            page = self.pages.list_page(m[1], int(m[2] or 1))
        if page is None:
            return Reply(404, b"<html><body><h1>404</h1></body></html>", _HTML)
        return Reply(200, page, _HTML)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--columns", default="3", help="comma-separated column ids")
    parser.add_argument("--per-page", type=int, default=50, help="rows on a column page")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument(
        "--small", action="store_true", help="article pages without the site's chrome (3-5 KB)"
    )
    args = parser.parse_args()
    columns = [c.strip() for c in args.columns.split(",")]
    try:
        site = SyntheticSite(
            args.articles,
            columns,
            args.per_page,
            small=args.small,
            host=args.host,
            port=args.port,
            record=False,
        )
    except (OSError, ValueError) as e:
        sys.exit(f"synthetic site: {e}")
    site.start()
    print(f"listening on {site.root}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        site.serve_forever()


if __name__ == "__main__":
    main()
