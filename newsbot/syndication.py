"""Atom 1.0 and RSS 2.0 feeds from records: pure functions, no I/O.

- :func:`entry_of` turns one record into a feed entry (an Atom ``<entry>`` or an RSS
  ``<item>``): the canonical URL as its id, the reporters as authors (the source when none),
  the real publication time with its +08:00 offset, the column, kind and stock/industry tags as
  categories, the abstract as summary and the whole body as HTML (paragraphs, figures with
  captions and credits, images with absolute URLs).
- :func:`read_entries` reads a feed file newsbot wrote back into entries, and :func:`merge`
  keeps the newest N of the old and the new ones (a new revision replaces its entry), so a feed
  rolls across runs.
- :func:`render` writes the feed document.

Page text never reaches the XML as markup: elements are built with lxml, which escapes every
text node (``<``, ``&``, ``>`` and so ``]]>``), and characters XML 1.0 cannot carry (C0/C1
controls, lone surrogates, U+FFFE/U+FFFF) are removed first (:func:`xml_text`). The HTML of an
entry is built from escaped text too, so a ``<script>`` in a title or a body is text in the
reader, never an element.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DCTERMS_NS = "http://purl.org/dc/terms/"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: Feed formats, the file suffix of each and the media type of its self link.
FORMATS: dict[str, tuple[str, str]] = {
    "atom": (".atom", "application/atom+xml"),
    "rss": (".xml", "application/rss+xml"),
}

SITE = "https://www.nbd.com.cn"
BEIJING = dt.timezone(dt.timedelta(hours=8))
GENERATOR = "newsbot"

#: Tag types that become categories (provinces and concepts are too loose to subscribe to).
CATEGORY_TAG_TYPES = ("stock", "industry")

# Characters XML 1.0 cannot carry at all, and the C1 controls and DEL it only tolerates (the
# W3C validator and many readers reject them): removed from every text put into a feed.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class FeedFileError(ValueError):
    """An existing feed file that newsbot cannot merge into (not a feed it wrote, or torn)."""


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can carry: controls, lone surrogates and non-characters go.

    Markup characters stay: lxml escapes them when the text is serialised.

    >>> xml_text("a\\x00b\\x1bc\\x85d\\ufffee ]]> <script>")
    'abcde ]]> <script>'
    >>> xml_text("行一\\n行二\\t") , xml_text(None)
    ('行一\\n行二\\t', '')
    """
    if value is None:
        return ""
    return _NOT_XML.sub("", str(value))


def one_line(value: Any) -> str:
    """Text for a single-line element (a title, a name): XML-safe, whitespace runs to a space.

    >>> one_line(" 标题\\n第二行\\u2028 ")
    '标题 第二行'
    """
    return " ".join(xml_text(value).replace("\u2028", " ").replace("\u2029", " ").split())


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time with an offset, or None (a naive or unreadable time is not guessed).

    >>> parse_time("2021-04-10T23:49:51+08:00").isoformat()
    '2021-04-10T23:49:51+08:00'
    >>> parse_time("2021-04-10 23:49:51") is None, parse_time("Invalid Date") is None
    (True, True)
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def rfc3339(when: dt.datetime) -> str:
    """Atom's date form, in Beijing time (the offset the site writes).

    >>> rfc3339(dt.datetime(2021, 4, 10, 15, 49, 51, tzinfo=dt.timezone.utc))
    '2021-04-10T23:49:51+08:00'
    """
    return when.astimezone(BEIJING).replace(microsecond=0).isoformat()


def rfc822(when: dt.datetime) -> str:
    """RSS's date form (RFC 822 with a four-digit year, as RSS 2.0 asks), Beijing time.

    >>> rfc822(dt.datetime(2021, 4, 10, 23, 49, 51, tzinfo=BEIJING))
    'Sat, 10 Apr 2021 23:49:51 +0800'
    """
    return email.utils.format_datetime(when.astimezone(BEIJING).replace(microsecond=0))


def absolute_url(url: Any, base: str) -> str | None:
    """``url`` made absolute against ``base``; None unless it is http(s) (no ``javascript:``).

    >>> absolute_url("/img/a.jpg", "https://www.nbd.com.cn/articles/2021-04-10/1.html")
    'https://www.nbd.com.cn/img/a.jpg'
    >>> absolute_url("//img.nbd.com.cn/a.jpg", "https://www.nbd.com.cn/")
    'https://img.nbd.com.cn/a.jpg'
    >>> absolute_url("javascript:alert(1)", "https://www.nbd.com.cn/") is None
    True
    """
    if not isinstance(url, str) or not url.strip():
        return None
    joined = urljoin(base, xml_text(url).strip())
    parts = urlsplit(joined)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return joined


# -- the entry's HTML -----------------------------------------------------------------------


def _figures(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record's figures (``figures`` when the extractor gives them, else its ``images``
    with the lead image's credit), each image once."""
    figures = [dict(f) for f in record.get("figures") or [] if isinstance(f, Mapping)]
    seen = {f.get("url") for f in figures}
    images = [u for u in record.get("images") or [] if u not in seen]
    if not figures and images:
        figures.append({"url": images[0], "caption": None, "credit": record.get("image_credit")})
        images = images[1:]
    figures += [{"url": u, "caption": None, "credit": None} for u in images]
    return figures


def _figure_html(figure: Mapping[str, Any], base: str) -> str:
    src = absolute_url(figure.get("url"), base)
    if src is None:
        return ""
    caption = one_line(figure.get("caption"))
    credit = one_line(figure.get("credit"))
    parts = [f'<img src="{html.escape(src)}" alt="{html.escape(caption)}">']
    if caption or credit:
        text = html.escape(caption)
        if credit:
            text += (" " if caption else "") + f"<small>{html.escape(credit)}</small>"
        parts.append(f"<figcaption>{text}</figcaption>")
    return f"<figure>{''.join(parts)}</figure>"


def body_html(record: Mapping[str, Any]) -> str:
    """The whole article as HTML: the lead figure, a paragraph per body line, the other
    figures (the record does not say where in the text they stood), videos, the sourcing line,
    a link to the original. Every piece of page text is escaped.

    >>> print(body_html({"url": "https://www.nbd.com.cn/articles/2021-04-10/1.html",
    ...     "body": "第一段 <script>x</script>\\n]]> 第二段", "images": ["/a.jpg"],
    ...     "image_credit": "视觉中国"}).replace("><", ">\\n<", 2))
    <figure>
    <img src="https://www.nbd.com.cn/a.jpg" alt="">
    <figcaption><small>视觉中国</small></figcaption></figure>
    <p>第一段 &lt;script&gt;x&lt;/script&gt;</p>
    <p>]]&gt; 第二段</p>
    <p>原文：<a href="https://www.nbd.com.cn/articles/2021-04-10/1.html">每经网</a></p>
    """
    base = record.get("url") or SITE + "/"
    figures = [_figure_html(f, base) for f in _figures(record)]
    figures = [f for f in figures if f]
    out = figures[:1]
    for line in xml_text(record.get("body")).split("\n"):
        if line.strip():
            out.append(f"<p>{html.escape(line.strip())}</p>")
    out += figures[1:]
    for video in record.get("videos") or []:
        if not isinstance(video, Mapping):
            continue
        src = absolute_url(video.get("url"), base)
        if src:
            poster = absolute_url(video.get("poster"), base)
            shown = f' poster="{html.escape(poster)}"' if poster else ""
            out.append(f'<video controls src="{html.escape(src)}"{shown}></video>')
            # Readers that show no video still give the link.
            out.append(f'<p>视频：<a href="{html.escape(src)}">{html.escape(src)}</a></p>')
    if one_line(record.get("sourced_from")):
        out.append(f"<p>来源：{html.escape(one_line(record.get('sourced_from')))}</p>")
    link = absolute_url(record.get("url"), SITE + "/")
    if link:
        out.append(f'<p>原文：<a href="{html.escape(link)}">每经网</a></p>')
    return "\n".join(out)


# -- entries ----------------------------------------------------------------------------------


@dataclass
class Entry:
    """One entry of a feed: its id, times (for merging and ordering) and its XML element."""

    id: str
    published: dt.datetime
    updated: dt.datetime
    element: etree._Element

    def sort_key(self) -> tuple[dt.datetime, str]:
        return (self.published, self.id)


def authors_of(record: Mapping[str, Any]) -> list[str]:
    """The reporters; else the source; else the site.

    >>> authors_of({"reporters": ["张三", " "], "source": "每日经济新闻"})
    ['张三']
    >>> authors_of({"reporters": [], "source": None})
    ['每经网']
    """
    names = [one_line(n) for n in record.get("reporters") or []]
    names = [n for n in names if n]
    if not names and one_line(record.get("source")):
        names = [one_line(record.get("source"))]
    return names or ["每经网"]


def categories_of(
    record: Mapping[str, Any], column_names: Mapping[str, str] | None = None
) -> list[str]:
    """Column name, kind, then stock and industry tags, each once.

    >>> categories_of({"column": "3", "kind": "original", "tags": [
    ...     {"name": "中泰化学", "type": "stock", "code": "002092"},
    ...     {"name": "新疆", "type": "province", "code": None},
    ...     {"name": "化工", "type": "industry", "code": None}]}, {"3": "要闻"})
    ['要闻', 'original', '中泰化学', '化工']
    """
    out: list[str] = []
    column = record.get("column")
    if column:
        out.append((column_names or {}).get(str(column), str(column)))
    if record.get("kind"):
        out.append(str(record["kind"]))
    for tag in record.get("tags") or []:
        if isinstance(tag, Mapping) and tag.get("type") in CATEGORY_TAG_TYPES:
            out.append(str(tag.get("name") or ""))
    cleaned = [one_line(c) for c in out]
    return list(dict.fromkeys(c for c in cleaned if c))


def times_of(record: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """``(published, updated)``: updated is the publication time for a first revision and the
    time a later revision was fetched (never before publication) for the others.

    >>> p, u = times_of({"published_at": "2021-04-10T23:49:51+08:00", "revision": 2,
    ...     "fetched_at": "2021-04-12T01:00:00+00:00"})
    >>> rfc3339(p), rfc3339(u)
    ('2021-04-10T23:49:51+08:00', '2021-04-12T09:00:00+08:00')
    """
    published = parse_time(record.get("published_at"))
    if published is None:
        raise ValueError(f"article {record.get('article_id')} has no valid published_at")
    updated = published
    if int(record.get("revision") or 1) > 1:
        fetched = parse_time(record.get("fetched_at"))
        if fetched is not None and fetched > published:
            updated = fetched
    return published, updated


_RSS_NSMAP = {"atom": ATOM_NS, "dc": DC_NS, "dcterms": DCTERMS_NS, "content": CONTENT_NS}


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> Any:
    child = etree.SubElement(parent, tag, attrib)
    if text is not None:
        child.text = text
    return child


def _text_construct(parent: etree._Element, tag: str, text: str) -> Any:
    """An Atom text construct: plain text, or, when the text holds ``<`` or ``&``, the same
    text escaped as HTML (the W3C validator warns of markup-like text in a ``text`` one).

    >>> a = f"{{{ATOM_NS}}}"
    >>> entry = etree.Element(a + "entry", nsmap={None: ATOM_NS})
    >>> for t in ("标题", "A&B <b>", "行一\\n行二 <"):
    ...     _ = _text_construct(entry, a + "title", t)
    >>> print(etree.tostring(entry, encoding="unicode").replace("><", ">\\n<"))
    <entry xmlns="http://www.w3.org/2005/Atom">
    <title type="text">标题</title>
    <title type="html">A&amp;amp;B &amp;lt;b&amp;gt;</title>
    <title type="html">行一&lt;br&gt;
    行二 &amp;lt;</title>
    </entry>
    """
    if "<" in text or "&" in text:
        escaped = "<br>\n".join(html.escape(line, quote=False) for line in text.split("\n"))
        return _sub(parent, tag, escaped, type="html")
    return _sub(parent, tag, text, type="text")


def entry_of(
    fmt: str, record: Mapping[str, Any], column_names: Mapping[str, str] | None = None
) -> Entry:
    """The feed entry of one record in ``fmt`` (``atom`` or ``rss``).

    >>> e = entry_of("atom", {"url": "https://www.nbd.com.cn/articles/2021-04-10/7.html",
    ...     "title": "标题\\x00 ]]>", "published_at": "2021-04-10T23:49:51+08:00",
    ...     "body": "正文", "reporters": ["张三"]})
    >>> xml = etree.tostring(e.element, encoding="unicode")
    >>> print(xml.split("<link")[0].replace("><", ">\\n<"))
    <entry xmlns="http://www.w3.org/2005/Atom">
    <id>https://www.nbd.com.cn/articles/2021-04-10/7.html</id>
    <title type="text">标题 ]]&gt;</title>
    """
    url = absolute_url(record.get("url"), SITE + "/")
    if url is None:
        raise ValueError(f"article {record.get('article_id')} has no canonical URL")
    published, updated = times_of(record)
    title = one_line(record.get("title")) or url
    summary = "\n".join(
        line.strip() for line in xml_text(record.get("abstract")).split("\n") if line.strip()
    )
    content = body_html(record)
    categories = categories_of(record, column_names)
    authors = authors_of(record)
    if fmt == "atom":
        a = f"{{{ATOM_NS}}}"
        entry = etree.Element(a + "entry", nsmap={None: ATOM_NS})
        _sub(entry, a + "id", url)
        _text_construct(entry, a + "title", title)
        _sub(entry, a + "link", rel="alternate", type="text/html", href=url)
        _sub(entry, a + "published", rfc3339(published))
        _sub(entry, a + "updated", rfc3339(updated))
        for name in authors:
            _sub(_sub(entry, a + "author"), a + "name", name)
        for term in categories:
            _sub(entry, a + "category", term=term)
        if summary:
            _text_construct(entry, a + "summary", summary)
        _sub(entry, a + "content", content, type="html")
    elif fmt == "rss":
        entry = etree.Element("item", nsmap=_RSS_NSMAP)
        _sub(entry, "title", title)
        _sub(entry, "link", url)
        _sub(entry, "guid", url, isPermaLink="true")
        _sub(entry, "pubDate", rfc822(published))
        for name in authors:
            _sub(entry, f"{{{DC_NS}}}creator", name)
        for term in categories:
            _sub(entry, "category", term)
        _sub(entry, "description", html.escape(summary).replace("\n", "<br>") if summary else "")
        _sub(entry, f"{{{CONTENT_NS}}}encoded", content)
        if updated != published:
            # RSS has no per-item update time; Dublin Core's is the one validators know.
            _sub(entry, f"{{{DCTERMS_NS}}}modified", rfc3339(updated))
    else:
        raise ValueError(f"unknown feed format {fmt!r} (known: {', '.join(FORMATS)})")
    return Entry(url, published, updated, entry)


# -- reading a feed back, merging -------------------------------------------------------------

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_blank_text=True, huge_tree=False
)


def read_entries(fmt: str, data: bytes) -> list[Entry]:
    """The entries of a feed file newsbot wrote, for a rolling merge.

    A file that is not such a feed raises :class:`FeedFileError` naming what is wrong: newsbot
    never drops entries it cannot read.

    >>> e = entry_of("rss", {"url": "https://www.nbd.com.cn/articles/2021-04-10/7.html",
    ...     "title": "t", "published_at": "2021-04-10T23:49:51+08:00", "body": "b"})
    >>> doc = render("rss", FeedInfo("3", "t", SITE + "/", "3.xml"), [e])
    >>> [(x.id, rfc3339(x.published)) for x in read_entries("rss", doc)]
    [('https://www.nbd.com.cn/articles/2021-04-10/7.html', '2021-04-10T23:49:51+08:00')]
    >>> read_entries("atom", b"<feed><entry>")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    newsbot.syndication.FeedFileError: not well-formed XML: ...
    """
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise FeedFileError(f"not well-formed XML: {exc}") from exc
    entries = []
    if fmt == "atom":
        a = f"{{{ATOM_NS}}}"
        if root.tag != a + "feed":
            raise FeedFileError(f"not an Atom feed (root element {root.tag!r})")
        for element in root.iterchildren(a + "entry"):
            ident = element.findtext(a + "id")
            published = parse_time(element.findtext(a + "published"))
            updated = parse_time(element.findtext(a + "updated")) or published
            if not ident or published is None or updated is None:
                raise FeedFileError(f"an entry without id or valid published time: {ident!r}")
            entries.append(Entry(ident.strip(), published, updated, element))
    elif fmt == "rss":
        channel = root.find("channel")
        if root.tag != "rss" or channel is None:
            raise FeedFileError(f"not an RSS 2.0 feed (root element {root.tag!r})")
        for element in channel.iterchildren("item"):
            ident = element.findtext("guid")
            try:
                published = email.utils.parsedate_to_datetime(element.findtext("pubDate") or "")
            except (TypeError, ValueError):
                raise FeedFileError(f"an item without a valid pubDate: {ident!r}") from None
            updated = parse_time(element.findtext(f"{{{DCTERMS_NS}}}modified")) or published
            if not ident or published.tzinfo is None:
                raise FeedFileError(f"an item without guid or zoned pubDate: {ident!r}")
            entries.append(Entry(ident.strip(), published, updated, element))
    else:
        raise ValueError(f"unknown feed format {fmt!r}")
    return entries


def merge(old: Iterable[Entry], new: Iterable[Entry], limit: int) -> list[Entry]:
    """The newest ``limit`` entries of ``old`` and ``new``, newest first; an entry of ``new``
    replaces the one with its id (a revision); among entries of one id in ``new``, the later
    one wins.

    >>> def e(i, day): return Entry(i, dt.datetime(2021, 4, day, tzinfo=BEIJING),
    ...     dt.datetime(2021, 4, day, tzinfo=BEIJING), etree.Element("x", n=i))
    >>> merged = merge([e("a", 1), e("b", 2)], [e("c", 3), e("a", 1)], 2)
    >>> [(x.id, x.element.get("n")) for x in merged]
    [('c', 'c'), ('b', 'b')]
    >>> [x.id for x in merge([e("a", 1)], [e("b", 2)], 0)]
    ['b', 'a']
    """
    by_id: dict[str, Entry] = {}
    for entry in old:
        by_id.setdefault(entry.id, entry)
    for entry in new:
        by_id[entry.id] = entry
    ordered = sorted(by_id.values(), key=Entry.sort_key, reverse=True)
    return ordered[:limit] if limit > 0 else ordered


# -- the feed document ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedInfo:
    """What a feed says about itself."""

    name: str
    """File name without suffix: a column id, ``all``, or the search query."""
    title: str
    """``每经网 · 要闻``."""
    alternate: str
    """The site page the feed follows (the column's list page)."""
    self_url: str
    """Where the feed is served: ``NEWSBOT_FEED_BASE_URL`` + file name (relative without it)."""

    @property
    def feed_id(self) -> str:
        """A stable id: the served URL when absolute, else a UUID derived from the name.

        >>> FeedInfo("3", "t", "a", "3.atom").feed_id  # doctest: +ELLIPSIS
        'urn:uuid:...'
        """
        if urlsplit(self.self_url).scheme in ("http", "https"):
            return self.self_url
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"newsbot:feed:{self.name}"))


def feed_info(
    name: str,
    fmt: str,
    *,
    base_url: str = "",
    column_names: Mapping[str, str] | None = None,
    query: str | None = None,
) -> FeedInfo:
    """The description of the feed called ``name`` (a column id, ``all`` or a query's name).

    >>> feed_info("3", "atom", base_url="https://feeds.example/nbd", column_names={"3": "要闻"})
    FeedInfo(name='3', title='每经网 · 要闻', alternate='https://www.nbd.com.cn/columns/3/', self_url='https://feeds.example/nbd/3.atom')
    >>> feed_info("碳中和", "rss", query="碳中和").title, feed_info("all", "rss").self_url
    ('每经网 · 搜索：碳中和', 'all.xml')
    """
    suffix = FORMATS[fmt][0]
    file_name = name + suffix
    self_url = urljoin(base_url.rstrip("/") + "/", file_name) if base_url else file_name
    if query is not None:
        title, alternate = f"每经网 · 搜索：{one_line(query)}", SITE + "/"
    elif name == "all":
        title, alternate = "每经网", SITE + "/"
    else:
        label = (column_names or {}).get(name, name)
        title, alternate = f"每经网 · {one_line(label)}", f"{SITE}/columns/{name}/"
    return FeedInfo(name, title, alternate, self_url)


def render(fmt: str, info: FeedInfo, entries: list[Entry]) -> bytes:
    """The feed document: ``entries`` in the order given (newest first), UTF-8.

    Its own update time is the latest of its entries', so the same entries give the same bytes.
    """
    latest = max((e.updated for e in entries), default=dt.datetime(1970, 1, 1, tzinfo=BEIJING))
    if fmt == "atom":
        a = f"{{{ATOM_NS}}}"
        root = etree.Element(a + "feed", nsmap={None: ATOM_NS})
        root.set(f"{{{XML_NS}}}lang", "zh-CN")
        _sub(root, a + "id", info.feed_id)
        _sub(root, a + "title", one_line(info.title), type="text")
        _sub(root, a + "updated", rfc3339(latest))
        _sub(root, a + "link", rel="self", type=FORMATS[fmt][1], href=info.self_url)
        _sub(root, a + "link", rel="alternate", type="text/html", href=info.alternate)
        _sub(_sub(root, a + "author"), a + "name", "每日经济新闻")
        _sub(root, a + "generator", GENERATOR)
        for entry in entries:
            root.append(entry.element)
    elif fmt == "rss":
        root = etree.Element("rss", nsmap=_RSS_NSMAP, version="2.0")
        channel = _sub(root, "channel")
        _sub(channel, "title", one_line(info.title))
        _sub(channel, "link", info.alternate)
        _sub(channel, "description", f"{one_line(info.title)}：全文（newsbot）")
        _sub(channel, f"{{{ATOM_NS}}}link", rel="self", type=FORMATS[fmt][1], href=info.self_url)
        _sub(channel, "language", "zh-cn")
        _sub(channel, "lastBuildDate", rfc822(latest))
        _sub(channel, "generator", GENERATOR)
        for entry in entries:
            channel.append(entry.element)
    else:
        raise ValueError(f"unknown feed format {fmt!r}")
    etree.cleanup_namespaces(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
