"""The 每经网 article page: every selector for it, and nothing else.

:class:`ArticlePage` takes one response and returns one :class:`~newsbot.items.ArticleItem`, or
raises :class:`~newsbot.pages.NotArticle` with a reason. It makes no requests and does no I/O,
so the crawl, ``scrapy extract`` and ``scrapy reparse`` all read pages the same way.

Markup (see NBD.md): ``div.g-article`` holds ``div.g-article-top`` (h1, ``p.u-time`` with
``span.source`` and ``span.time``, ``div.typeTags``), an optional ``div.g-article-abstract`` and
the body ``div.g-articl-text`` (the site's spelling), which starts with the byline paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from lxml import etree
from parsel import Selector
from scrapy.http import TextResponse

from newsbot import EXTRACTOR_VERSION
from newsbot.items import ArticleItem, Figure, Tag, Video
from newsbot.loaders import ArticleLoader
from newsbot.pages import NotArticle, Query, html_selector, utf8_root
from newsbot.pages.boilerplate import Line, Removed, cover_credit, head_promotion, trim_tail
from newsbot.pages.challenge import looks_blocked
from newsbot.pages.figures import caption_of
from newsbot.pages.kinds import Signals, article_kind
from newsbot.pages.partial import PageTree, element_end, parse_through
from newsbot.pages.published import (
    TIME,
    Published,
    first_time,
    may_add,
    read_published,
    time_text,
)
from newsbot.processors import (
    Credits,
    credit_line,
    image_credit,
    is_boilerplate,
    is_byline,
    is_caption,
    is_related_heading,
    normalize_space,
    split_byline,
)
from newsbot.urls import article_id, canonical_article_url, join_url

# --- selectors ------------------------------------------------------------------------------------
# Pages are 60-120 KB of navigation and scripts around a small article: parse them only up to
# the article's end (newsbot.pages.partial), find the body with one pass over that, then read
# everything else inside its ``div.g-article``.
BODY_CLASS = "g-articl-text"  # the site's own spelling
BODY_CLASS_ALT = "g-article-text"
ARTICLE_CLASS = "g-article"
# In order of trust, inside the article: its h1; then in the page: declared titles, any h1.
ARTICLE_TITLE = ".g-article-top h1, h1"
PAGE_TITLES = ('meta[property="og:title"]', "head title", "h1")
SOURCE = ".u-time .source, span.source"
TAGS = "div.typeTags a.typeTag"
ABSTRACT_POINTS = "div.g-article-abstract p"
CANONICAL = 'link[rel="canonical"], meta[property="og:url"]'
BYLINE_STYLE = "6d6d6d"  # the grey of the byline paragraph
TAG_TYPE_BY_COLOR = {"tagColor1": "stock", "tagColor2": "province", "tagColor3": "industry",
                     "tagColor4": "concept"}  # fmt: skip
DISCLAIMER_CLASS = "nbd-mzsm"
RELATED_CLASS = "more-read"  # related-reading blocks: n-on-h-more-read
REPORTER_CLASS = "m-original-right"  # AI flash "(记者 X)" line
# Video players: the site's Tencent player box carries the file's URL in a data attribute.
VIDEO_URL_ATTRS = ("data-video-download-url", "data-video-url", "data-src")
VIDEO_POSTER_ATTRS = ("poster", "data-poster", "data-cover", "data-video-poster")

# CSS run as plain lxml iteration (newsbot.pages.Query): parsel translates a query to XPath at
# every call and wraps each match in a Selector, and even a compiled XPath costs an evaluation
# context per call and a string per element for each class test.
_QUERIES: dict[str, Query] = {}


def _find(el: etree._Element, css: str) -> list[etree._Element]:
    query = _QUERIES.get(css)
    if query is None:
        query = _QUERIES[css] = Query(css)
    return query(el)


def _text(el: etree._Element) -> str:
    """All text inside an element, comments excluded (the h1's leftover commented-out link)."""
    if el.tag == "meta":
        return el.get("content") or ""
    if not len(el):  # only text inside: its one run of text is all of it
        return el.text or ""
    return "".join(el.itertext())  # XPath string(): no comment or PI text, their tails


# --- body structure ---------------------------------------------------------------------------
_BLOCKS = frozenset(
    [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "blockquote",
        "pre",
        "dt",
        "dd",
        "figcaption",
        "caption",
        "td",
        "th",
        "address",
    ]
)
_CONTAINERS = frozenset(
    [
        "div",
        "section",
        "article",
        "ul",
        "ol",
        "dl",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "figure",
        "center",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "details",
        "summary",
        "form",
        "fieldset",
    ]
)
_SKIP = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "video",
        "audio",
        "source",
        "track",
        "canvas",
        "svg",
        "button",
        "input",
        "select",
        "textarea",
        "map",
        "head",
        "title",
        "meta",
        "link",
    ]
)
# Lazy-loading stand-ins shown until the real image (data-original, data-src) loads.
_PLACEHOLDER = re.compile(r"(?:loading|placeholder|blank|spacer|lazy)[^/]*$", re.IGNORECASE)
# Marks a <br> in collected text. Raw newlines in the markup are only white space; a private-use
# character survives normalize_space, which folds every real space character.
LINE_BREAK = "\ue000"
_LATIN_FALLBACKS = frozenset({"cp1252", "latin-1", "latin1", "iso-8859-1", "ascii", "us-ascii"})


@dataclass(slots=True)
class _Block:
    """A line of body text and where it came from."""

    text: str
    classes: str = ""
    # The element the line came from, whose style only the byline and caption tests read.
    element: etree._Element | None = None
    images: int = 0  # images inside the block
    link_only: bool = False
    group: int = 0  # the element the line came from: <br> lines of one block share it

    @property
    def style(self) -> str:
        return (self.element.get("style") or "") if self.element is not None else ""


@dataclass
class _Walk:
    blocks: list[_Block] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    # Index into ``blocks`` after which each image appeared, to find the lead image's caption.
    image_positions: list[int] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)
    groups: int = 0


class ArticlePage:
    """One article page. ``to_item()`` reads it; nothing is read before that is called."""

    def __init__(
        self,
        response: TextResponse,
        *,
        fetched_at: datetime | None = None,
        url_hint: str | None = None,
    ) -> None:
        """``url_hint`` is the article URL to use when neither the response URL nor the page's
        canonical link is one (a saved page with a name of its own)."""
        self.response = response
        self.fetched_at = fetched_at or datetime.now(timezone.utc)
        self.url_hint = url_hint
        #: Blocks that :meth:`to_item` left out of the body, in page order, with their class.
        self.removed: list[Removed] = []
        #: The body's lines as :meth:`to_item` kept them (also for a page that names no URL).
        self.body_lines: list[str] = []
        #: Every time source of the page and their agreement, once :meth:`to_item` has run.
        self.published = Published()
        #: How much of the page :meth:`to_item` parsed (:attr:`PageTree.extent
        #: <newsbot.pages.partial.PageTree.extent>`): "page", "article" or "article+tags".
        self.parsed: str | None = None
        #: How many bytes of navigation before the article that parse left out (0 for the
        #: whole page): :func:`newsbot.pages.partial.navigation`.
        self.left_out = 0

    # -- entry point --------------------------------------------------------------------------

    def to_item(self) -> ArticleItem:
        """The record; afterwards :attr:`removed` says which blocks left the body and why."""
        tree, body = self._tree()
        root = tree.root
        if body is None or root is None:
            if looks_blocked(self._page_text(tree.whole())):
                raise NotArticle("blocked", "challenge page instead of an article")
            raise NotArticle("not_article", "no article markup (div.g-articl-text)")
        url = self._url(tree)
        # The 2017 template and saved fragments may lack the wrapper: then read the whole page.
        article = _article_of(body, root)
        # A page that names no URL is still read, so that `scrapy extract --explain` can show
        # its body; it gives no record.
        walk = _walk_body(body, url or self.response.url)
        read = _read_blocks(walk)
        self.removed = read.removed
        self.body_lines = read.lines
        if url is None:
            raise NotArticle(
                "no_url", f"no article URL in {self.response.url} or its canonical link"
            )
        # The top and the abstract come before the body: read them there, not by scanning the
        # whole article (the body is most of it) once per field.
        top, abstract_div = _head_of(article, body)
        scope = top if top is not None else article
        # The top's title, source, time and tags in one pass over it (a handful of elements).
        head = _read_top(top) if top is not None else None
        abstract = _texts(abstract_div if abstract_div is not None else article, ABSTRACT_POINTS)
        if not read.lines and not walk.videos:
            raise NotArticle("empty_body", "article markup with no text")

        # The visible time in the top, else anywhere in the article, else anywhere in the page;
        # the page's scripts and meta tags are read next.
        visible = head.time if head is not None else None
        if visible is None:
            visible = first_time(scope) or tree.first(first_time) or ""
        # tree.root, not root: a reading above may have parsed the whole page.
        self.published = read_published(scope, tree.root, now=self.fetched_at, visible=visible)
        if tree.partial and may_add(self.published, tree.rest, self.response.body):
            self.published = read_published(
                scope, tree.with_rest(), now=self.fetched_at, visible=visible
            )
        fetched_at = self.fetched_at.astimezone(timezone.utc).replace(microsecond=0)
        # One raw value per field; the loader's table says how each becomes the record's.
        item = ArticleLoader(fetched_at=self.fetched_at).load(
            {
                "url": url,
                "article_id": article_id(url),
                # The first title left once the site's suffix is cut: the top's, the article's,
                # then the page's (read only when needed).
                "title": _titles(head, scope, top, article, tree),
                "source": (
                    (head.sources if head is not None else _texts(scope, SOURCE))
                    or _texts(article, SOURCE)
                )[:1],
                "published_at_raw": self.published.raw,
                "published_at": self.published.time,
                "reporters": read.credits.reporters,
                "editors": read.credits.editors,
                "byline": read.byline,
                "abstract": abstract,
                # A video page's description is its text: the body, when the body itself has
                # none.
                "body": read.lines or [normalize_space(p) for p in abstract],
                "images": read.images(walk),
                "image_credit": read.image_credit,
                "tags": list(_tags(head.tags if head is not None else _find(scope, TAGS)))
                or list(_tags(_tag_links(article))),
                "fetched_at": fetched_at.isoformat(),
                "extractor_version": EXTRACTOR_VERSION,
                "sourced_from": read.sourced_from,
                "figures": read.figures(walk),
                "videos": walk.videos,
                "published_at_source": self.published.source,
            }
        )
        self.parsed = tree.extent
        self.left_out = tree.left_out
        if item.body is None:  # a video with no words at all
            item.body = ""
        item.kind = article_kind(
            Signals(
                title=item.title or "",
                source=item.source,
                byline=item.byline,
                reporters=item.reporters,
                editors=item.editors,
                lines=read.lines,
                sourced_from=read.sourced_from,
                classes=read.classes,
                removed=read.removed,
                videos=len(walk.videos),
            )
        )
        return item

    # -- pieces -------------------------------------------------------------------------------

    def _tree(self) -> tuple[PageTree, etree._Element | None]:
        """The page's tree and its body. The page is parsed only through its article when the
        bytes allow (:mod:`newsbot.pages.partial`): the sidebar and footer after it cost more to
        parse than the article costs to read."""
        data = self.response.body
        span = _article_span(data)
        parsed = parse_through(data, span[1], span[0]) if span is not None else None
        if parsed is not None:
            body = _find_body(parsed.root)
            if body is not None:
                article = _article_of(body, parsed.root)
                # Only a page whose article ended before the cut reads as the whole page does;
                # and one with no element open at the cut that a reading of the page takes
                # the text of (a time left open around the article: its text goes on past
                # the cut).
                if (
                    article is not parsed.root
                    and article not in parsed.open
                    and not any(_TIME_CLASS in (el.get("class") or "") for el in parsed.open)
                ):
                    tags = [el.tag for el in parsed.open]
                    tree = PageTree(
                        parsed.root, self._root, parsed.rest, tags, parsed.dropped, parsed.left_out
                    )
                    return tree, body
        root = self._root()
        return PageTree(root), _find_body(root)

    def _root(self) -> etree._Element | None:
        """The page's root element, decoded right even when the declared charset lies."""
        response = self.response
        # Valid UTF-8 is read as UTF-8 whatever the page declares: the site's pages are UTF-8
        # (some GBK), and GBK text is never valid UTF-8; this also skips Scrapy's search for a
        # declared charset in the body.
        root = utf8_root(response.body)
        if root is not None:
            return root
        declared = (response.encoding or "").lower()
        text = response.text
        if "\ufffd" not in text and declared not in _LATIN_FALLBACKS:
            return _root_of(html_selector(response))
        # Either the declared charset produced replacement characters, or none was declared and
        # Scrapy fell back to cp1252: try the encodings the site (or its mirrors) really use.
        for encoding in ("utf-8", "gb18030"):
            try:
                decoded = response.body.decode(encoding)
            except UnicodeDecodeError:
                continue
            return _root_of(Selector(text=decoded, type="html", base_url=response.url))
        if "\ufffd" in text:
            raise NotArticle("bad_encoding", f"bytes do not decode as {declared or 'any charset'}")
        return _root_of(html_selector(response))

    def _canonical_url(self, root: etree._Element) -> str | None:
        """The first canonical link or og:url of the page that is an article URL."""
        for el in _find(root, CANONICAL):
            href = el.get("href") if el.tag == "link" else el.get("content")
            link = join_url(self.response.url, href.strip()) if href else None
            url = canonical_article_url(link, any_host=True) if link else None
            if url:
                return url
        return None

    @staticmethod
    def _page_text(root: etree._Element | None) -> str:
        if root is None:
            return ""
        return " ".join(root.xpath("//title//text() | //body//text()"))

    def _url(self, tree: PageTree) -> str | None:
        url = canonical_article_url(self.response.url, any_host=True)
        if url:
            return url
        if url := tree.first(self._canonical_url):
            return url
        if self.url_hint and (url := canonical_article_url(self.url_hint, any_host=True)):
            return url
        return None


def _root_of(sel: Selector) -> etree._Element | None:
    root = sel.root
    return root if isinstance(root, etree._Element) else None


def _classes(el: etree._Element) -> list[str]:
    value = el.get("class")
    return value.split() if isinstance(value, str) else []


def _find_body(root: etree._Element | None) -> etree._Element | None:
    """The first ``div.g-articl-text`` (or ``div.g-article-text``) of the page.

    One pass in Python over the page's divs: an XPath class test with ``normalize-space()`` and
    ``concat()`` builds strings for every div of a page that is mostly navigation (and even a
    plain ``contains(@class, …)`` XPath is four times slower than this loop).
    """
    if root is None:
        return None
    for el in root.iter("div"):
        value = el.get("class")
        if value and "g-arti" in value:  # a substring test before splitting: most divs fail it
            classes = value.split()
            if BODY_CLASS in classes or BODY_CLASS_ALT in classes:
                return el
    return None


# How the article's start tag names its class, in the page's bytes: the word alone.
_ARTICLE_CLASS_BYTES = ARTICLE_CLASS.encode()
_ARTICLE_START_TAG = b'<div class="g-article">'
_CLASS_EDGES = (b'"', b"'", b" ", b"\t", b"\n", b"\r")


def _article_span(data: bytes) -> tuple[int, int] | None:
    """Where the page's ``div.g-article`` starts and ends, read from its bytes by counting div
    tags (:func:`~newsbot.pages.partial.element_end`) from the site's own start tag, else from
    the first start tag that names the class alone; None when there is none. A guess: the
    parse checks it (ArticlePage._tree).

    >>> page = b'<style>.g-article {}</style><div class="g-article-top"></div>'
    >>> page += b'<div class="x g-article"><div>a</div></div><p>b</p>'
    >>> start, end = _article_span(page)
    >>> page[start:end].decode()
    '<div class="x g-article"><div>a</div></div>'
    """
    # The site's own start tag first: a longer needle is found sooner than the bare word.
    at = data.find(_ARTICLE_START_TAG)
    if at >= 0:
        end = element_end(data, at)
        return None if end is None else (at, end)
    at = data.find(_ARTICLE_CLASS_BYTES)
    size = len(_ARTICLE_CLASS_BYTES)
    while at >= 0:
        if data[at - 1 : at] in _CLASS_EDGES and data[at + size : at + size + 1] in _CLASS_EDGES:
            tag = data.rfind(b"<", 0, at)
            if data.startswith(b"<div", tag) and data.find(b">", tag, at) < 0:
                end = element_end(data, tag)
                return None if end is None else (tag, end)
        at = data.find(_ARTICLE_CLASS_BYTES, at + size)
    return None


def _article_of(body: etree._Element, root: etree._Element) -> etree._Element:
    """The ``div.g-article`` around the body; the whole page when a template has none."""
    for el in body.iterancestors("div"):
        if ARTICLE_CLASS in _classes(el):
            return el
    return root


def _head_of(
    article: etree._Element, body: etree._Element
) -> tuple[etree._Element | None, etree._Element | None]:
    """``div.g-article-top`` and ``div.g-article-abstract`` of the article, looked for only
    among the divs before its body."""
    top = abstract = None
    for el in article.iter("div"):
        if el is body:
            break
        classes = _classes(el)
        if top is None and "g-article-top" in classes:
            top = el
        elif abstract is None and "g-article-abstract" in classes:
            abstract = el
    return top, abstract


@dataclass(slots=True)
class _Top:
    """What the article's top says, read in one pass over it (:func:`_read_top`)."""

    title: str | None = None  # the first h1 with text (_first_text)
    sources: list[str] = field(default_factory=list)  # _texts(top, SOURCE)
    time: str | None = None  # the first time with text, as published._texts reads it
    tags: list[etree._Element] = field(default_factory=list)  # _find(top, TAGS)


_TIME_CLASS = "time"  # in the class of every element that TIME matches
_SOURCE_QUERY = Query(SOURCE)
_TIME_QUERY = Query(TIME)
_TAGS_QUERY = Query(TAGS)


def _read_top(top: etree._Element) -> _Top:
    """The top's title, source texts, time and tag links, as the four queries would find them
    each on its own: one pass over the top instead of four (each query's pass costs an
    iterator and a proxy per element, more than the tests). An element is given to a query's
    full test only when its class holds that query's class (Query.hint)."""
    out = _Top()
    for el in top.iter(etree.Element):  # no comments or PIs, as the queries' own passes
        if el.tag == "h1" and out.title is None:
            text = _text(el)
            if text.strip():
                out.title = text
        value = el.get("class")
        if value is None:
            continue
        if "source" in value and _SOURCE_QUERY.matches(el, top):
            out.sources.append(_text(el))
        if out.time is None and "time" in value and _TIME_QUERY.matches(el, top):
            out.time = time_text(el) or None  # as read_published reads it
        if "typeTag" in value and _TAGS_QUERY.matches(el, top):
            out.tags.append(el)
    return out


def _titles(
    head: _Top | None,
    scope: etree._Element,
    top: etree._Element | None,
    article: etree._Element,
    tree: PageTree,
) -> Iterator[str]:
    """Title candidates in order of trust, each looked for only when the ones before it gave
    none: the top's h1 (``head``'s when the top was read), the article's (when the top had
    none), the page's declared titles."""
    text = head.title if head is not None else _first_text(scope, (ARTICLE_TITLE,))
    if text is not None:
        yield text
    if top is not None and (text := _first_text(article, (ARTICLE_TITLE,))) is not None:
        yield text
    # The page's declared titles are tried selector by selector over the whole page (an
    # og:title after the article comes before a head title): the whole page, parsed if need be.
    root = tree.whole()
    if root is not None and (text := _first_text(root, PAGE_TITLES)) is not None:
        yield text


def _first_text(el: etree._Element, css_list: tuple[str, ...]) -> str | None:
    for css in css_list:
        for text in _texts(el, css):
            if text.strip():
                return text
    return None


def _texts(el: etree._Element, css: str) -> list[str]:
    """Text of each match: all text inside the element, or a meta tag's content."""
    return [_text(found) for found in _find(el, css)]


def _attr(el: etree._Element, name: str) -> str:
    value = el.get(name)
    return value if isinstance(value, str) else ""


def _tag_links(el: etree._Element) -> list[etree._Element]:
    """``_find(el, TAGS)`` from the links up: an article (when its top has no tags) holds few
    links, and lxml hands over only those, where the query's way down takes every div of it
    and then the links inside each tag div; the same links, in document order."""
    return [a for a in el.iter("a") if _TAGS_QUERY.matches(a, el)]


def _tags(anchors: list[etree._Element]) -> Iterator[Tag]:
    """The tags of the ``TAGS`` links found."""
    for a in anchors:
        # The link's own text nodes (XPath text()), not the price change in its child span.
        name = normalize_space((a.text or "") + "".join(c.tail or "" for c in a))
        if not name:
            continue
        try:
            query = parse_qs(urlsplit(_attr(a, "href")).query)
        except ValueError:  # not a URL: the tag keeps its name, its type from the colour
            query = {}
        kind = (query.get("tag_type") or [""])[0]
        if not kind:
            colors = _attr(a, "class").split()
            kind = next((TAG_TYPE_BY_COLOR[c] for c in colors if c in TAG_TYPE_BY_COLOR), "")
        code = None
        if kind == "stock":
            code = _attr(a, "data-stock-code") or next(iter(query.get("tag_value", [])), None)
        yield Tag(name=name, type=kind or "concept", code=code)


# --- the body walk ------------------------------------------------------------------------------


# How the walk treats each tag, looked up once per element (the sets above, as one table). Tags
# are looked up as the parser wrote them (lower case) and, failing that, lower-cased.
_VIDEO, _SKIPPED, _IMG, _BR, _BLOCK, _CONTAINER, _INLINE = range(7)
_KIND_OF = (
    {t: _SKIPPED for t in _SKIP}
    | {t: _BLOCK for t in _BLOCKS}
    | {t: _CONTAINER for t in _CONTAINERS}
    | {"video": _VIDEO, "img": _IMG, "br": _BR}
)
_KNOWN_INLINE = ("span", "a", "strong", "b", "em", "i", "u", "font", "sup", "sub", "small")
_KIND_OF |= {t: _INLINE for t in _KNOWN_INLINE}


def _kind(tag: str) -> int:
    kind = _KIND_OF.get(tag)
    if kind is None:
        kind = _KIND_OF.get(tag.lower(), _INLINE)
    return kind


def _has_blocks(el: etree._Element) -> bool:
    for c in el:
        tag = c.tag
        if tag.__class__ is str and _kind(tag) in (_BLOCK, _CONTAINER):
            return True
    return False


def _walk_body(root: etree._Element, base_url: str) -> _Walk:
    walk = _Walk()
    _walk_container(root, walk, base_url, root.get("class") or "")
    return walk


def _add_image(el: etree._Element, walk: _Walk, base_url: str) -> None:
    src = (el.get("src") or "").strip()
    lazy = (el.get("data-original") or el.get("data-src") or "").strip()
    if lazy and (not src or src.startswith("data:") or _PLACEHOLDER.search(src)):
        src = lazy
    if not src or src.startswith(("data:", "javascript:")):
        return
    if src.startswith("//"):
        src = "https:" + src
    url = src if _as_joined(src) else join_url(base_url, src)
    if url is None:
        return
    walk.images.append(url)
    walk.image_positions.append(len(walk.blocks))


# What urljoin gives back as it is, whatever the base: an absolute https URL with a host whose
# parts it reassembles unchanged (no empty query or fragment for it to drop, no path parameters,
# no brackets or non-ASCII host for it to check, no tab or newline for it to remove). Most image
# URLs of the site; urljoin parses the base and the URL and puts the URL back together, which
# cost more than the rest of an image's handling.
_AS_JOINED = re.compile(r"https://[^/?#\[\];\t\r\n][^\[\];\t\r\n]*", re.ASCII)


def _as_joined(src: str) -> bool:
    """Whether ``join_url(base, src)`` is ``src`` for every base URL of a page.

    >>> _as_joined("https://image.nbd.com.cn/a.jpg?x=1"), _as_joined("https://i.test/a.jpg?")
    (True, False)
    >>> _as_joined("/a.jpg"), _as_joined("https://i.test/a;b.jpg"), _as_joined("HTTPS://i.test/")
    (False, False, False)
    """
    return (
        src.isascii()
        and _AS_JOINED.fullmatch(src) is not None
        and not src.endswith(("?", "#"))
        and "?#" not in src
    )


def _absolute(base_url: str, src: str) -> str | None:
    src = src.strip()
    if not src or src.startswith(("data:", "javascript:")):
        return None
    return join_url(base_url, "https:" + src if src.startswith("//") else src)


def _add_video(el: etree._Element, walk: _Walk, base_url: str) -> None:
    """A ``<video>`` or the site's player box (``div.TencentBox``): its file and poster."""
    sources = [el.get(name) or "" for name in VIDEO_URL_ATTRS]
    sources += [el.get("src") or ""] + [s.get("src") or "" for s in el.iter("source")]
    url = next((u for u in (_absolute(base_url, s) for s in sources) if u), None)
    if url is None:
        return
    posters = (_absolute(base_url, el.get(name) or "") for name in VIDEO_POSTER_ATTRS)
    walk.videos.append(Video(url=url, poster=next((p for p in posters if p), None)))


def _walk_container(container: etree._Element, walk: _Walk, base_url: str, classes: str) -> None:
    """``classes``: the container's class attribute, which its own lines carry."""
    run: list[str] = []  # text outside any block: the container's own lines
    run_images = 0
    text = container.text
    # White space with nothing before it in the run is dropped: it would be stripped from the
    # run's line, and a run of white space alone gives no line (most runs: the newlines
    # between a container's blocks).
    if text and not text.isspace():
        run.append(text)
    for child in container:
        tag = child.tag
        if tag.__class__ is str:  # not a comment or a PI
            kind = _KIND_OF.get(tag)
            if kind is None:
                kind = _kind(tag)
            # Each element's class is read once, here: the walk and its lines both need it.
            if kind == _VIDEO:
                _add_video(child, walk, base_url)
                kind = _SKIPPED
                child_classes = ""
            elif not child.keys():  # no attributes (most elements): two lookups spared
                child_classes = ""
            elif child.get(VIDEO_URL_ATTRS[0]) is not None:
                _add_video(child, walk, base_url)
                kind = _SKIPPED
                child_classes = ""
            else:
                child_classes = "" if kind == _SKIPPED else child.get("class") or ""
            if kind == _SKIPPED or RELATED_CLASS in child_classes:
                pass
            elif kind == _BLOCK and not len(child):  # text only (most paragraphs)
                if run or run_images:
                    _emit(walk, "".join(run), container, classes, run_images, None)
                    run.clear()
                    run_images = 0
                text = child.text
                if text:
                    _emit(walk, text, child, child_classes, 0, None)
            elif kind == _IMG:
                _add_image(child, walk, base_url)
                run_images += 1
            elif kind == _BR:
                run.append(LINE_BREAK)
            elif kind == _INLINE and not len(child):  # a leaf inside the run (most spans)
                if child.text:
                    run.append(child.text)
            elif kind == _CONTAINER or (kind != _BLOCK and _has_blocks(child)):
                if run or run_images:
                    _emit(walk, "".join(run), container, classes, run_images, None)
                    run.clear()
                    run_images = 0
                _walk_container(child, walk, base_url, child_classes)
            elif kind == _BLOCK:
                if run or run_images:
                    _emit(walk, "".join(run), container, classes, run_images, None)
                    run.clear()
                    run_images = 0
                if _has_blocks(child):
                    _walk_container(child, walk, base_url, child_classes)
                else:
                    _emit_block(child, walk, base_url, child_classes)
            else:  # inline element outside any paragraph: part of the current run
                run_images += _inline_text(child, run, walk, base_url)
        tail = child.tail
        if tail and (run or not tail.isspace()):
            run.append(tail)
    if run or run_images:
        _emit(walk, "".join(run), container, classes, run_images, None)


def _emit_block(el: etree._Element, walk: _Walk, base_url: str, classes: str) -> None:
    parts: list[str] = []
    if el.text:
        parts.append(el.text)
    images = 0
    for child in el:
        images += _inline_text(child, parts, walk, base_url)
        if child.tail:
            parts.append(child.tail)
    _emit(walk, "".join(parts), el, classes, images, _link_text(el))


def _inline_text(el: etree._Element, parts: list[str], walk: _Walk, base_url: str) -> int:
    """Append an inline element's text to ``parts``; returns how many images it held."""
    tag = el.tag
    if tag.__class__ is not str:
        return 0
    kind = _kind(tag)
    if kind == _SKIPPED or RELATED_CLASS in (el.get("class") or ""):
        return 0
    if kind == _IMG:
        _add_image(el, walk, base_url)
        return 1
    if kind == _BR:
        parts.append(LINE_BREAK)
        return 0
    if el.text:
        parts.append(el.text)
    if not len(el):  # a leaf (most spans): nothing more inside
        return 0
    images = 0
    for child in el:
        images += _inline_text(child, parts, walk, base_url)
        if child.tail:
            parts.append(child.tail)
    return images


def _link_text(el: etree._Element) -> str | None:
    """Text inside the block's links, or None when it has none."""
    anchors = list(el.iter("a"))
    if not anchors:
        return None
    return "".join("".join(a.itertext()) for a in anchors)


def _emit(
    walk: _Walk,
    text: str,
    el: etree._Element,
    classes: str,
    images: int,
    link_text: str | None,
) -> None:
    if not images and (not text or text.isspace()):
        return  # the white space between blocks, most runs of a container
    # One pass over the block, then split: LINE_BREAK is no space, so it survives.
    normal = normalize_space(text)
    walk.groups += 1
    if normal and LINE_BREAK not in normal:  # one line (most blocks): no list to build
        link_only = link_text is not None and normal == normalize_space(link_text)
        walk.blocks.append(_Block(normal, classes, el, images, link_only, walk.groups))
        return
    lines = [line for line in (part.strip() for part in normal.split(LINE_BREAK)) if line]
    if not lines:
        if images:  # an image-only block still separates the lead image from its caption
            walk.blocks.append(_Block("", classes, el, images, group=walk.groups))
        return
    link_only = link_text is not None and normal == normalize_space(link_text)
    group = walk.groups
    blocks = walk.blocks
    for line in lines:
        blocks.append(_Block(line, classes, el, images, link_only, group))
        images = 0


# --- from blocks to fields ------------------------------------------------------------------


@dataclass
class _Reading:
    byline: str | None = None
    credits: Credits = field(default_factory=Credits)
    lines: list[str] = field(default_factory=list)
    image_credit: str | None = None
    sourced_from: str | None = None
    related: set[int] = field(default_factory=set)  # indices of related-reading blocks
    captions: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    removed: list[Removed] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)  # every class of the body's blocks

    def images(self, walk: _Walk) -> list[str]:
        """The body's images, less those in related-reading link lines."""
        return [
            url
            for url, at in zip(walk.images, walk.image_positions, strict=True)
            if at not in self.related
        ]

    def figures(self, walk: _Walk) -> list[Figure]:
        """The body's images with their captions and credits, in page order."""
        out = []
        for k, (url, at) in enumerate(zip(walk.images, walk.image_positions, strict=True)):
            if at not in self.related:
                caption, credit = self.captions.get(k, (None, None))
                out.append(Figure(url=url, caption=caption, credit=credit))
        return out


# How a line opens (past brackets and spaces) that the text tests of _read_blocks look for:
# related-reading headings, leftover boilerplate, cover credits and captions, credit lines
# (processors.is_related_heading, is_boilerplate, is_caption, credit_line;
# boilerplate.cover_credit). A line that opens with none of these words and ends in neither 图
# nor 摄 (the captions known by their end) is none of those, whatever the tests' details: most
# lines of a body, which then cost this one match instead of a dozen. A new opening word of
# those tests goes here too (tests/test_article_edges.py checks the fixtures' lines).
_MAY_BE_REMOVED = re.compile(
    r"[\s（()）【】\[\]「」]*(?:"
    r"相关阅读|延伸阅读|推荐阅读|相关新闻|往期回顾|往期推荐|热文推荐|猜你喜欢|更多阅读"
    r"|免责声明|每经头条|封面|题图|头图|首图|图|文|记者|责任编辑|编辑|校对|视觉|排版|整理"
    r"|美编|审核|监制|制图|设计|执行|统筹|策划)"
)
_REMOVED_ENDINGS = ("图", "摄")


def may_be_removed(text: str) -> bool:
    """Whether a body line may be taken by one of the text tests of :func:`_read_blocks`; when
    not, every one of them leaves it in the body.

    >>> may_be_removed("（记者 蔡某）"), may_be_removed("每经资料图"), may_be_removed("公司表示")
    (True, True, False)
    """
    return _MAY_BE_REMOVED.match(text) is not None or text.endswith(_REMOVED_ENDINGS)


def _read_blocks(walk: _Walk) -> _Reading:
    """Sort the walked blocks into byline, credits, captions, body lines and the image credit;
    then cut the body's boilerplate tail (:func:`~newsbot.pages.boilerplate.trim_tail`)."""
    out = _Reading()
    cover: str | None = None
    lead: str | None = None
    in_related = False
    kept: list[Line] = []
    removed = out.removed
    # The byline opens the body; only a lead image's caption may come before it.
    first_text = next(
        (i for i, b in enumerate(walk.blocks) if b.text and not is_caption(b.text, normal=True)),
        None,
    )

    # Which image each block stands right under (no text between): the blocks are taken in
    # order, so one pass over the images serves the whole body.
    positions = walk.image_positions
    next_image = 0  # the first image not yet above the blocks seen
    last_text = -1  # the last block seen that had text
    # Block text is normalize_space's already (_emit): the tests below take it as it is.
    seen_classes = ""  # the lines of one element share its class attribute
    for i, block in enumerate(walk.blocks):
        text = block.text
        if block.classes and block.classes is not seen_classes:
            out.classes.update(block.classes.split())
            seen_classes = block.classes
        while next_image < len(positions) and positions[next_image] <= i:
            next_image += 1
        above = next_image - 1
        image = above if above >= 0 and last_text < positions[above] else None
        if not text:
            continue
        last_text = i
        if i == first_text and (BYLINE_STYLE in block.style or is_byline(text)):
            out.byline = text
            out.credits.extend(split_byline(text))
            removed.append(Removed("byline", text, i))
            continue
        tested = may_be_removed(text)  # else the text tests below are all False
        if (tested and is_related_heading(text, normal=True)) or (in_related and block.link_only):
            in_related = True
            out.related.add(i)
            removed.append(Removed("related", text, i))
            continue
        in_related = False
        if DISCLAIMER_CLASS in block.classes or (tested and is_boilerplate(text, normal=True)):
            kind = (
                "disclaimer" if DISCLAIMER_CLASS in block.classes or "免责" in text else "promotion"
            )
            removed.append(Removed(kind, text, i))
            continue
        found = cover_credit(text) if tested and len(text) <= 60 else None
        if found:
            cover = found
            removed.append(Removed("cover_credit", text, i))
            continue
        if image is not None:
            at_image = block.images > 0 and walk.image_positions[image] == i
            caption = caption_of(text, in_image_block=at_image, centered="center" in block.style)
            if caption is not None:
                out.captions[image] = caption
                if lead is None and image == 0 and is_caption(text, normal=True):
                    lead = image_credit(text)
                removed.append(Removed("caption", text, i))
                continue
        if tested and is_caption(text, normal=True):
            removed.append(Removed("caption", text, i))
            continue
        names = (
            credit_line(text)
            if tested and (REPORTER_CLASS in block.classes or len(text) <= 60)
            else None
        )
        if names is not None:
            out.credits.extend(names)
            removed.append(Removed("credit", text, i))
            continue
        if not kept and head_promotion(text):
            removed.append(Removed("promotion", text, i))
            continue
        kept.append(Line(text, block.group, i))
    tail = trim_tail(kept)
    removed.extend(tail.removed)
    removed.sort(key=lambda r: r.at)
    out.lines = [line.text for line in tail.lines]
    out.sourced_from = tail.sourced_from
    out.image_credit = cover or lead
    return out
