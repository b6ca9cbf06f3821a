"""An article page's publication time, read from every place the page gives it, and checked.

Pages carry the time in up to four places (NBD.md); in order of trust:

- ``span.time`` in ``p.u-time``: the time readers see (``2021-07-17 14:08:57``, Beijing);
- a script's ``"pubDate": "YYYY-MM-DD HH:MM:SS"`` (what the public feed of the site reads);
- JSON-LD ``datePublished`` in ``script[type="application/ld+json"]`` (reported, unconfirmed);
- ``<meta property="article:published_time">`` (reported, unconfirmed).

The visible time wins when it can be read; otherwise the first other source that can be read
gives the time, and the record says which (``published_at_source``). When another source
disagrees with the visible time by more than a minute the visible time is kept and the
disagreement is reported (the spider counts it and names the article in the run report).
Pure: no I/O, no clock (relative times such as ``3小时前`` are read against the fetch time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lxml import etree
from parsel import Selector, SelectorList

from newsbot.pages import Query
from newsbot.processors import BEIJING, normalize_space, parse_time

VISIBLE = "span.time"
SCRIPT = "script.pubDate"
JSON_LD = "json-ld"
META = "meta"
#: Every source, in order of trust (the names are ``published_at_source`` values).
SOURCES = (VISIBLE, SCRIPT, JSON_LD, META)

# --- selectors ------------------------------------------------------------------------------
TIME = ".u-time .time, span.time"
JSON_LD_TYPE = "application/ld+json"
META_PROPERTY = "article:published_time"
SCRIPT_PUB_DATE = re.compile(r'"pubDate"\s*:\s*"([^"]{8,40})"')
JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')

#: Sources further apart than this disagree.
TOLERANCE = timedelta(minutes=1)
_DATE_ONLY = re.compile(r"^\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?$")


@dataclass(frozen=True)
class Reading:
    """What one source says."""

    source: str
    """One of :data:`SOURCES`."""
    raw: str
    """As the page wrote it, whitespace normalised."""
    value: datetime | None
    """The time, Beijing; None when it cannot be read."""

    @property
    def date_only(self) -> bool:
        return bool(_DATE_ONLY.match(self.raw))


@dataclass(frozen=True)
class Published:
    """The page's publication time, its source, and what every source said."""

    readings: tuple[Reading, ...] = field(default_factory=tuple)

    @property
    def chosen(self) -> Reading | None:
        """The reading that gives the time: the visible one if readable, else the first other
        readable one, else the first present (unreadable: the record keeps its raw text)."""
        for reading in self.readings:
            if reading.value is not None:
                return reading
        return self.readings[0] if self.readings else None

    @property
    def source(self) -> str | None:
        """``published_at_source``: the source that gave the time, None without a time."""
        chosen = self.chosen
        return chosen.source if chosen and chosen.value else None

    @property
    def raw(self) -> str | None:
        """``published_at_raw``: the chosen source's text."""
        chosen = self.chosen
        return chosen.raw if chosen else None

    @property
    def text(self) -> str | None:
        """The time for the record's loader: ``YYYY-MM-DD HH:MM:SS`` Beijing when read, else
        the raw text (which the loader then fails to read, as it should)."""
        chosen = self.chosen
        if chosen is None:
            return None
        if chosen.value is None:
            return chosen.raw
        return chosen.value.strftime("%Y-%m-%d %H:%M:%S")

    @property
    def time(self) -> datetime | str | None:
        """The same for the record's loader, unformatted: the time (Beijing) when read, else the
        raw text."""
        chosen = self.chosen
        if chosen is None:
            return None
        return chosen.raw if chosen.value is None else chosen.value

    @property
    def disagreement(self) -> Reading | None:
        """The first other source that disagrees with the readable visible time by more than
        :data:`TOLERANCE` (a date-only source: a different date), or None."""
        visible = next((r for r in self.readings if r.source == VISIBLE and r.value), None)
        if visible is None or visible.value is None:
            return None
        for other in self.readings:
            if other.source == VISIBLE or other.value is None:
                continue
            if other.date_only or visible.date_only:
                if other.value.date() != visible.value.date():
                    return other
            elif abs(other.value - visible.value) > TOLERANCE:
                return other
        return None


def read_time(raw: str, *, now: datetime | None = None) -> datetime | None:
    """A source's text as a Beijing time: ISO 8601 (with or without an offset; without one it
    is Beijing time), the site's own forms, or what :func:`~newsbot.processors.parse_time`
    reads (relative to ``now``).

    >>> read_time("2026-07-21T02:00:00Z").isoformat()
    '2026-07-21T10:00:00+08:00'
    >>> read_time("2026-07-21 10:00:05").isoformat()
    '2026-07-21T10:00:05+08:00'
    >>> read_time("2021年4月10日 9:05").isoformat()
    '2021-04-10T09:05:00+08:00'
    >>> read_time("Invalid Date") is None, read_time("2021-02-30 10:00:00") is None
    (True, True)
    """
    text = normalize_space(raw)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        iso = parse_time(text, now=now)
        return datetime.fromisoformat(iso) if iso else None
    if value.tzinfo is None:
        return value.replace(tzinfo=BEIJING)
    return value.astimezone(BEIJING)


def read_published(
    article: Selector | SelectorList[Selector] | etree._Element,
    page: Selector | etree._Element,
    *,
    now: datetime | None = None,
    visible: str | None = None,
) -> Published:
    """Every time source of a page: ``article`` is the article's own element (its visible time
    first), ``page`` the whole document (scripts and meta live outside the article); selectors
    or, from a page object, their lxml elements. ``visible``: the visible time when the caller
    has looked for it already (:func:`first_time` of the article, else of the page; "" when
    neither has one), as the page object does in its one pass over the article's top; None: it
    is looked for here.

    >>> page = Selector(text='''<div class="g-article"><p class="u-time">
    ...   <span class="time"> 2026-07-21 10:00:00 </span></p></div>
    ...   <script>var info = {"pubDate": "2026-07-21 10:00:30"};</script>
    ...   <script type="application/ld+json">{"@type": "NewsArticle",
    ...     "datePublished": "2026-07-21T12:00:00+08:00"}</script>''')
    >>> found = read_published(page.css("div.g-article"), page)
    >>> found.source, found.raw, [r.source for r in found.readings]
    ('span.time', '2026-07-21 10:00:00', ['span.time', 'script.pubDate', 'json-ld'])
    >>> found.disagreement.source, found.disagreement.value.isoformat()
    ('json-ld', '2026-07-21T12:00:00+08:00')
    >>> only_script = Selector(text='<script>x = {"pubDate": "2026-05-02 08:00:00"}</script>')
    >>> found = read_published(only_script, only_script)
    >>> found.source, found.text, found.disagreement
    ('script.pubDate', '2026-05-02 08:00:00', None)
    >>> read_published(Selector(text="<p>x</p>"), Selector(text="<p>x</p>")).source is None
    True
    """
    readings: list[Reading] = []
    if visible is None:
        visible = first_time(article) or first_time(page)
    if visible:
        readings.append(Reading(VISIBLE, visible, read_time(visible, now=now)))
    for source, raw in _others(page):
        readings.append(Reading(source, raw, read_time(raw, now=now)))
    return Published(tuple(readings))


def first_time(sel: Selector | SelectorList[Selector] | etree._Element) -> str | None:
    """The text of the first ``TIME`` element with text, normalised (the visible time).

    >>> first_time(etree.fromstring('<p><span class="time"> </span><span class="time">'
    ...     ' 2026-07-21  10:00 </span></p>'))
    '2026-07-21 10:00'
    """
    return _first(_texts(sel, TIME))


def may_add(found: Published, rest: bytes, page: bytes) -> bool:
    """Whether the markup ``rest``, after the part of the page ``page`` that ``found`` was
    read from (newsbot.pages.partial), may hold a time source ``found`` lacks: a pubDate
    (which may also start in the part and end in the rest), a meta tag, a script whose start
    tag may say JSON-LD (its type holds "json", unless written with character references).
    One search of the rest for the two tag names, in any case, wherever they stand (a comment
    or a script's text included): a yes sends the page to an exact reading of the rest.

    >>> part = read_published(etree.fromstring("<p>x</p>"), etree.fromstring(
    ...     '<script>var info = {"pubDate": "2026-05-02 08:00:00"};</script>'))
    >>> may_add(part, b"<ul><li>menu</li></ul><script>var a = 1;</script>", b"")
    False
    >>> may_add(part, b"<META name=a>", b""), may_add(part, b"<script type='a/LD+Json'>", b"")
    (True, True)
    >>> may_add(part, b'''<script a="'" b='>' type="application/ld+json">''', b"")
    True
    """
    sources = {reading.source for reading in found.readings}
    if SCRIPT not in sources and b'"pubDate"' in page:
        return True
    want_json, want_meta = JSON_LD not in sources, META not in sources
    if not (want_json or want_meta):
        return False
    for tag in _SCRIPT_OR_META.finditer(rest):
        if tag[1] is None:
            if want_meta:
                return True
        elif want_json:
            # The start tag's attributes as HTML writes them (a quoted value may hold ">");
            # one written otherwise may say anything.
            attributes = _ATTRIBUTES.match(rest, tag.end())
            if attributes is None:
                return True
            start_tag = attributes[0]
            if b"json" in start_tag.lower() or b"&" in start_tag:
                return True
    return False


_SCRIPT_OR_META = re.compile(rb"<(?:([sS][cC][rR][iI][pP][tT])|[mM][eE][tT][aA])(?=[\s/>])")
_ATTRIBUTES = re.compile(
    rb"""(?:[\s/]+[^\s/>="'<]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*[\s/]*>"""
)


def _texts(sel: Selector | SelectorList[Selector] | etree._Element, css: str) -> list[str]:
    """Text of each match. The query runs on the lxml elements (newsbot.pages.Query): parsel
    translates CSS again at every call and wraps each match (benchmarks/extract.py)."""
    query = _QUERIES.get(css)
    if query is None:
        query = _QUERIES[css] = Query(css)
    if isinstance(sel, etree._Element):
        roots = [sel]
    else:
        roots = [s.root for s in sel] if isinstance(sel, SelectorList) else [sel.root]
    found = (el for root in roots if isinstance(root, etree._Element) for el in query(root))
    return [time_text(el) for el in found]


def time_text(el: etree._Element) -> str:
    """A time element's text as XPath ``string()`` gives it, space normalised: the text of an
    element with no children is its text; ``itertext()`` leaves out comments and PIs as
    ``string()`` does.

    >>> time_text(etree.fromstring('<p> 2026-07-21 <!-- x --><b>10:00</b></p>'))
    '2026-07-21 10:00'
    """
    return normalize_space(el.text if not len(el) else "".join(el.itertext()))


_QUERIES: dict[str, Query] = {}


def _first(texts: list[str]) -> str | None:
    return next((t for t in texts if t), None)


def _others(page: Selector | etree._Element) -> Iterator[tuple[str, str]]:
    """The first time of each other source present, in order of trust.

    One pass over the page's scripts and meta tags: three selector queries over a 100 KB page
    cost twice as much, on every page, for sources most pages do not have. The pubDate is the
    first match in the page's scripts joined with spaces; it is looked for script by script
    (the text of the scripts after it, often the largest, is never read), and the scripts are
    joined only when a match might run on past the end of the one it starts in.

    >>> page = etree.fromstring('<script>a = 1</script><script>x = {"pubDate"</script>'
    ...     '<script>: "2026-05-02 08:00:00"}</script>', etree.HTMLParser())
    >>> list(_others(page))
    [('script.pubDate', '2026-05-02 08:00:00')]
    """
    scripts: list[str] = []  # from the first one holding "pubDate", until the date is found
    pub_date: str | None = None
    blocks: list[str] = []
    meta = ""
    root = page if isinstance(page, etree._Element) else page.root
    for el in root.iter("script", "meta") if hasattr(root, "iter") else ():
        if el.tag == "meta":
            if not meta and (el.get("property") or "").strip() == META_PROPERTY:
                meta = normalize_space(el.get("content"))
        elif (el.get("type") or "").strip().lower() == JSON_LD_TYPE:
            blocks.append(el.text or "")
        elif pub_date is None:
            text = el.text or ""
            if scripts:
                scripts.append(text)
            elif '"pubDate"' in text:  # every match starts with it, inside one script
                # A match inside this script alone is the first match of the joined text too:
                # an earlier start that runs past the end would have no quote after it.
                found = SCRIPT_PUB_DATE.search(text)
                if found:
                    pub_date = found[1]
                else:
                    scripts.append(text)
    if pub_date is None and scripts:
        found = SCRIPT_PUB_DATE.search(" ".join(scripts))
        pub_date = found[1] if found else None
    if pub_date is not None and normalize_space(pub_date):
        yield SCRIPT, normalize_space(pub_date)
    for block in blocks:
        date = _json_ld_date(block)
        if date:
            yield JSON_LD, date
            break
    if meta:
        yield META, meta


def _json_ld_date(text: str) -> str | None:
    """``datePublished`` of a JSON-LD block (an object, a list or an ``@graph``); a block that
    is not valid JSON (a stray comma is common) is searched as text.

    >>> _json_ld_date('{"@graph": [{"@type": "WebPage"}, {"datePublished": "2026-07-21"}]}')
    '2026-07-21'
    >>> _json_ld_date('{"datePublished": "2026-07-21 10:00:00",}')
    '2026-07-21 10:00:00'
    """
    try:
        doc = json.loads(text)
    except ValueError:
        found = JSON_LD_DATE.search(text)
        return normalize_space(found[1]) or None if found else None
    stack = [doc]
    while stack:
        node = stack.pop(0)
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            value = node.get("datePublished")
            if isinstance(value, str) and normalize_space(value):
                return normalize_space(value)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return None
