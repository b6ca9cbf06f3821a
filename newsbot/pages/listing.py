"""Column list pages of 每经网: every selector for them, and nothing else.

:class:`ListPage` reads one list page into typed rows (link, title, listed time) and the link to
the next page. These markups are known (NBD.md), newest first:

- 2019–2026: ``div.g-list-text > div.m-list`` groups, each a ``p.u-channeltime`` date and
  ``ul.u-news-list > li.u-news-title`` rows (``a[href]`` and a ``<span>22:14:12</span>``).
- 2018–2019: ``ul.m-columnnews-list > li`` with ``a.f-title`` and ``p.f-source > span`` × 3
  (source, ``YYYY-MM-DD HH:MM:SS``, ``N阅读``).
- channel hosts (``money.``, ``finance.``, ``stocks.`` … 2026): the same ``a.f-title`` (with an
  ``article-id`` attribute) and ``p.f-source`` rows in other containers; a hidden
  ``div[style*="height:0"]`` copy of the list was reported (unconfirmed: read if there, not
  needed).
- mobile: ``div.articleList a`` (``m.nbd.com.cn/columns/<id>/page/<n>/``: full titles, no times)
  and the web app's ``#newList > li`` (``m.nbd.com.cn/web_app/column/<id>/``).

Links are resolved against the page's *canonical* URL (``https://www.nbd.com.cn`` plus the path),
not the address it was fetched from, so relative links on a mirror still name the real site.
Deciding which links to follow is the spider's job; this module makes no requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import TextResponse

from newsbot.pages import attribute, html_selector
from newsbot.pages.challenge import looks_blocked
from newsbot.processors import BEIJING, normalize_space
from newsbot.urls import CANONICAL_ROOT, join_url

# --- selectors ------------------------------------------------------------------------------
MODERN_LIST = "div.g-list-text"
MODERN_GROUPS = "div.m-list"
MODERN_GROUP_DATE = "p.u-channeltime"
MODERN_ROWS = "li.u-news-title"
MODERN_ROW_LINK = "a.news-title-a[href], a[href]"
V2018_LIST = "ul.m-columnnews-list"
V2018_ROWS = "ul.m-columnnews-list > li"
V2018_ROW_LINK = "a.f-title[href], a[href]"
V2018_ROW_SPANS = "p.f-source span"
CHANNEL_ROW_LINKS = "a.f-title"
CHANNEL_ROW_SOURCE = "p.f-source"
MOBILE_LIST = "div.articleList"
MOBILE_ROWS = "div.articleList a[href]"
APP_LIST = "#newList"
APP_ROWS = "#newList > li"
CHANNEL_NAME = ".u-channelname"
# Pagination is unconfirmed (NBD.md): a rel=next link, a "next" class, or a link saying 下一页.
NEXT_PAGE = (
    "//link[@rel='next']/@href | //a[@rel='next']/@href"
    " | //a[contains(concat(' ', normalize-space(@class), ' '), ' next ')]/@href"
    " | //a[contains(normalize-space(.), '下一页')]/@href"
)

_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?::(\d{2}))?(?!\d)")

LAYOUTS = ("modern", "v2018", "channel", "mobile", "app")


class NotListPage(Exception):
    """The page has none of the known list markups.

    ``reason``: ``blocked`` (a challenge page) or ``not_list`` (something else: the site's
    layout may have changed).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ListRow:
    """One row of a column list."""

    url: str
    """The row's link, absolute (resolved against the page's canonical URL), as written:
    not checked to be an article URL or on the site."""

    title: str | None
    """The row's title, whitespace normalised; lists may cut titles short."""

    listed_at: datetime | None
    """When the list says the article was published, Beijing time; None when the row gives no
    date (mobile lists). Rows with a date but no time of day get midnight."""

    @property
    def listed_at_iso(self) -> str | None:
        """``listed_at`` as ISO 8601 with offset, or None.

        >>> ListRow("u", None, parse_list_time("2021-04-01", "09:05")).listed_at_iso
        '2021-04-01T09:05:00+08:00'
        """
        return self.listed_at.isoformat() if self.listed_at else None


def parse_list_time(date_text: str | None, time_text: str | None = None) -> datetime | None:
    """A list's date (and time of day) as an aware Beijing datetime, or None without a date.

    >>> parse_list_time("2026-09-30", "22:14:12").isoformat()
    '2026-09-30T22:14:12+08:00'
    >>> parse_list_time(" 2018-05-02 08:00:31 ").isoformat()
    '2018-05-02T08:00:31+08:00'
    >>> parse_list_time("2021年4月1日").isoformat()
    '2021-04-01T00:00:00+08:00'
    >>> parse_list_time("昨天", "10:00") is None, parse_list_time("2021-13-01") is None
    (True, True)
    """
    if not date_text:
        return None
    date = _DATE.search(date_text)
    if not date:
        return None
    clock = _TIME.search(time_text if time_text is not None else date_text[date.end() :])
    hour, minute, second = (
        (int(clock[1]), int(clock[2]), int(clock[3] or 0)) if clock else (0, 0, 0)
    )
    try:
        return datetime(
            int(date[1]), int(date[2]), int(date[3]), hour, minute, second, tzinfo=BEIJING
        )
    except ValueError:
        return None


class ListPage:
    """One column list page (or mobile list page).

    ``base_url`` is the page's URL on the real site, for resolving relative links; by default
    ``https://www.nbd.com.cn`` plus the response's path and query.

    >>> from scrapy.http import HtmlResponse
    >>> html = '''<div class="g-list-text"><div class="m-list">
    ...   <p class="u-channeltime">2021-04-02</p><ul class="u-news-list">
    ...   <li class="u-news-title"><a href="/articles/2021-04-02/1700002.html"> 标题 </a>
    ...   <span>09:30:00</span></li></ul></div></div>
    ...   <div class="u-page"><a href="/columns/3/page/2">下一页</a></div>'''
    >>> page = ListPage(HtmlResponse("http://127.0.0.1:8765/columns/3/", body=html,
    ...                              encoding="utf-8"))
    >>> page.layout, page.rows[0].title, page.rows[0].listed_at_iso
    ('modern', '标题', '2021-04-02T09:30:00+08:00')
    >>> page.rows[0].url
    'https://www.nbd.com.cn/articles/2021-04-02/1700002.html'
    >>> page.next_page_url
    'https://www.nbd.com.cn/columns/3/page/2'
    """

    def __init__(self, response: TextResponse, *, base_url: str | None = None) -> None:
        self.response = response
        if base_url is None:
            parts = urlsplit(response.url)
            base_url = CANONICAL_ROOT + (parts.path or "/")
            if parts.query:
                base_url += "?" + parts.query
        self.base_url = base_url

    @cached_property
    def _sel(self) -> Selector:
        return html_selector(self.response)

    @cached_property
    def layout(self) -> str:
        """One of :data:`LAYOUTS`; raises :class:`NotListPage` for none of them."""
        sel = self._sel
        if sel.css(MODERN_LIST) or sel.css(MODERN_ROWS):
            return "modern"
        if sel.css(V2018_LIST):
            return "v2018"
        if sel.css(CHANNEL_ROW_LINKS) and sel.css(CHANNEL_ROW_SOURCE):
            return "channel"
        if sel.css(MOBILE_LIST):
            return "mobile"
        if sel.css(APP_LIST):
            return "app"
        text = " ".join(sel.xpath("//title//text() | //body//text()").getall())
        if looks_blocked(text):
            raise NotListPage("blocked", "challenge page instead of a list")
        raise NotListPage("not_list", "none of the known list markups")

    @cached_property
    def rows(self) -> list[ListRow]:
        """The rows in page order, duplicates kept; empty when the list itself is empty."""
        reader = {
            "modern": self._modern_rows,
            "v2018": self._v2018_rows,
            "channel": self._channel_rows,
            "app": self._app_rows,
        }.get(self.layout, self._mobile_rows)
        return list(reader())

    @cached_property
    def next_page_url(self) -> str | None:
        """The page's own link to the next page, absolute, or None."""
        for href in self._sel.xpath(NEXT_PAGE).getall():
            href = href.strip()
            url = join_url(self.base_url, href) if href else None
            if url and not href.startswith(("#", "javascript:")):
                return url
        return None

    @cached_property
    def channel_name(self) -> str | None:
        name = normalize_space(self._sel.css(CHANNEL_NAME).xpath("string()").get())
        return name or None

    # -- the markups ----------------------------------------------------------------------

    def _row(self, link: Selector, title: str, listed_at: datetime | None) -> ListRow | None:
        href = attribute(link, "href").strip()
        if not href:
            return None
        # A link that is not even a URL stays as written: the spider refuses it (bad_url).
        url = join_url(self.base_url, href) or href
        return ListRow(url, normalize_space(title) or None, listed_at)

    def _modern_rows(self) -> list[ListRow]:
        rows: list[ListRow] = []
        groups = self._sel.css(f"{MODERN_LIST} {MODERN_GROUPS}")
        dated = bool(groups)
        if not dated:  # rows outside any dated group: keep them, without dates
            groups = self._sel.css(MODERN_LIST) or self._sel.css("body")
        for group in groups:
            date = group.css(MODERN_GROUP_DATE).xpath("string()").get() if dated else None
            for li in group.css(MODERN_ROWS):
                link = li.css(MODERN_ROW_LINK)
                if not link:
                    continue
                clock = next(
                    (t for t in li.css("span").xpath("string()").getall() if _TIME.search(t)),
                    None,
                )
                listed_at = parse_list_time(date, clock) if clock else parse_list_time(date)
                row = self._row(link[0], link[0].xpath("string()").get(""), listed_at)
                if row:
                    rows.append(row)
        return rows

    def _v2018_rows(self) -> list[ListRow]:
        rows: list[ListRow] = []
        for li in self._sel.css(V2018_ROWS):
            link = li.css(V2018_ROW_LINK)
            if not link:
                continue
            stamp = next(
                (t for t in li.css(V2018_ROW_SPANS).xpath("string()").getall() if _DATE.search(t)),
                None,
            )
            row = self._row(link[0], link[0].xpath("string()").get(""), parse_list_time(stamp))
            if row:
                rows.append(row)
        return rows

    def _mobile_rows(self) -> list[ListRow]:
        rows = (self._row(a, a.xpath("string()").get(""), None) for a in self._sel.css(MOBILE_ROWS))
        return [row for row in rows if row]

    def _channel_rows(self) -> list[ListRow]:
        """Channel hosts: each ``a.f-title`` with the first ``p.f-source`` after it (the rows'
        containers are not known for sure; the source line follows the title in every one)."""
        rows: list[ListRow] = []
        for link in self._sel.css(CHANNEL_ROW_LINKS):
            spans = link.xpath("following::p[contains(@class, 'f-source')][1]/span")
            stamp = next((t for t in spans.xpath("string()").getall() if _DATE.search(t)), None)
            found = self._row(link, link.xpath("string()").get(""), parse_list_time(stamp))
            if found:
                rows.append(found)
        return rows

    def _app_rows(self) -> list[ListRow]:
        """The mobile web app: ``#newList > li``, the row's first link, its heading (else the
        link's text) as title, and a date if the row shows one."""
        rows: list[ListRow] = []
        for li in self._sel.css(APP_ROWS):
            link = li.css("a[href]")
            if not link:
                continue
            title = li.css("h1, h2, h3, h4, .title").xpath("string()").get() or link[0].xpath(
                "string()"
            ).get("")
            text = " ".join(li.xpath(".//text()").getall())
            date = _DATE.search(text)
            listed_at = parse_list_time(text[date.start() :]) if date else None
            row = self._row(link[0], title, listed_at)
            if row:
                rows.append(row)
        return rows
