"""A page parsed up to the end of its article; the rest parsed only when something may be there.

An article page of the site is 60-120 KB, and the article a few KB of it: the sidebar and the
footer after it cost more to parse than everything the extractor does with the article. What a
page object reads outside its article is either before it (the head: title, meta and link
tags, most scripts) or a whole-page search for a first match (a canonical link, a declared
title, a time). So :func:`parse_through` parses the bytes up to the article's end tag, and
:class:`PageTree` answers from that part, turning to the rest only when it must:

- a search for the first match that finds none in the part parses the whole page
  (:meth:`PageTree.first`);
- the time sources read every script and meta tag of the page: when the rest's bytes may hold
  one the part lacks (a byte search that errs only towards yes), the rest is parsed as the
  whole parse would go on at the cut, and its script, meta and link elements are added to the
  tree (:meth:`PageTree.with_rest`).

The part is the tree a whole parse gives, cut after the article, and only when that can be
told: the cut falls between two tokens, after the article's end tag (a sentinel element parsed
right after the cut proves both: it must come out as an element, outside the article), and the
whole page is what :func:`~newsbot.pages.utf8_root` reads (valid UTF-8, no NUL byte).
Otherwise :func:`parse_through` returns None and the caller parses the whole page. Every
parse is libxml2's: the bytes are only searched to find the cut and to rule the rest out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

from newsbot.pages import utf8_root, valid_utf8

T = TypeVar("T")

# An element no page has: parsed right after the cut, it shows where the parser stood there.
SENTINEL_ID = "newsbot-cut-7d1f"
_SENTINEL = f'<i id="{SENTINEL_ID}"></i>'.encode()

_DIV_TAG = re.compile(rb"<(?:(/?)div[\s/>]|!--)")


def element_end(body: bytes, start: int) -> int | None:
    """The offset right after the end tag of the div whose start tag is at ``start``, by
    counting div tags (comments passed over); None when they never balance. A count thrown off
    (a div tag in a script, an upper-case one) gives a cut that :func:`parse_through` or its
    caller refuses.

    >>> page = b'<div class="a"><div>x</div><!-- </div> --></div><p>after</p>'
    >>> page[: element_end(page, 0)].decode()
    '<div class="a"><div>x</div><!-- </div> --></div>'
    >>> element_end(b"<div><div></div>", 0) is None
    True
    """
    depth = 0
    comment_end = 0  # a tag found before this offset is inside a comment
    for tag in _DIV_TAG.finditer(body, start):
        if tag.start() < comment_end:
            continue
        if tag[1] is None:  # a comment opens
            comment_end = body.find(b"-->", tag.end())
            if comment_end < 0:
                return None
            continue
        depth += -1 if tag[1] else 1
        if depth == 0:
            end = body.find(b">", tag.end() - 1)
            return end + 1 if end >= 0 else None
    return None


@dataclass
class Parsed:
    """A page read by :func:`parse_through`."""

    #: The page's elements up to the cut.
    root: etree._Element
    #: The elements still open at the cut (innermost first), whose content goes on past it.
    open: list[etree._Element] = field(default_factory=list)
    #: The page's bytes after the cut.
    rest: bytes = b""
    #: How many bytes of navigation before the article were left out (:func:`navigation`).
    left_out: int = 0


def parse_through(body: bytes, end: int, start: int | None = None) -> Parsed | None:
    """The UTF-8 page ``body`` parsed up to ``end`` (an offset right after a ``>``); None when
    the cut does not fall between two tokens or :func:`~newsbot.pages.utf8_root` would not
    read the whole page. The caller checks that what it reads ended before the cut: that none
    of it is in :attr:`Parsed.open`.

    ``start``: where the start tag of the element the caller reads begins (the article's); the
    navigation between the body's start tag and it is then left out when it can be
    (:func:`navigation`).

    >>> page = (b'<html><head><title>t</title></head><body><div id="a"><p>x</p></div>'
    ...         b'<ul><li>menu</li></ul><script>var d = 1;</script></body></html>')
    >>> end = element_end(page, page.index(b'<div id="a"'))
    >>> found = parse_through(page, end)
    >>> [el.tag for el in found.root.iter()], [el.tag for el in found.open], found.rest[:4]
    (['html', 'head', 'title', 'body', 'div', 'p'], ['body', 'html'], b'<ul>')
    >>> parse_through(page, end - 3) is None  # inside the end tag: the sentinel is not parsed
    True
    >>> [el.get("id") for el in parse_through(page, end - 6).open]  # inside the div
    ['a', None, None]
    >>> parse_through(page[:end] + bytes([255]) + page[end:], end) is None  # not UTF-8
    True
    """
    rest = body[end:]
    if b"\x00" in rest or not valid_utf8(rest):
        return None
    lead = navigation(body, start) if start is not None else None
    if lead is None:
        root = utf8_root(body[:end] + _SENTINEL)
    else:
        root = utf8_root(b"".join((body[: lead.cut], lead.chain, body[start:end], _SENTINEL)))
    if root is None:
        return None
    sentinel = root
    while len(sentinel):  # the last element in page order
        sentinel = sentinel[-1]
    if sentinel.tag != "i" or sentinel.get("id") != SENTINEL_ID:
        return None  # the cut fell inside a tag, a comment or a script: no element came out
    parent = sentinel.getparent()
    if parent is None or sentinel.tail:
        return None
    open_elements = list(sentinel.iterancestors())
    parent.remove(sentinel)
    if lead is not None:
        if not _chain_in_place(open_elements, lead.depth):
            return parse_through(body, end)
        assert start is not None  # a lead is looked for only then
        return Parsed(root, open_elements, rest, left_out=start - lead.cut)
    return Parsed(root, open_elements, rest)


class PageTree:
    """A page object's tree: ``root`` is the whole page, or the page parsed through its
    article (:func:`parse_through`: ``rest`` the bytes after the cut, ``open_tags`` the names
    of the elements open there, innermost first); :meth:`whole` parses the whole page, once,
    when a reading needs more than the part holds.

    >>> parser = etree.HTMLParser()
    >>> page = "<div><p>a</p><h1>b</h1><script>c</script></div>"
    >>> tree = PageTree(etree.fromstring("<div><p>a</p></div>", parser), whole=lambda:
    ...     etree.fromstring(page, parser), rest=b"<h1>b</h1><script>c</script></div>",
    ...     open_tags=["div", "body", "html"])
    >>> [el.tag for el in tree.with_rest().iter("p", "h1", "script")], tree.extent
    (['p', 'script'], 'article+tags')
    >>> tree.first(lambda root: root.findtext(".//p"))
    'a'
    >>> tree.first(lambda root: root.findtext(".//h1"))  # not in the part: the whole page
    'b'
    >>> tree.extent
    'page'
    """

    def __init__(
        self,
        root: etree._Element | None,
        whole: Callable[[], etree._Element | None] | None = None,
        rest: bytes = b"",
        open_tags: list[str] | None = None,
    ) -> None:
        self.root = root
        #: Whether ``root`` is the part of the page up to its article's end (then ``rest`` is
        #: the page's bytes after it).
        self.partial = whole is not None
        self.rest = rest
        self._open = open_tags or []
        self._whole = whole
        self._rest_added = False
        #: Bytes of navigation before the article that the part left out (:func:`navigation`).
        self.left_out = 0

    @property
    def extent(self) -> str:
        """What ``root`` holds: "page" (the whole page), "article" (the part up to the
        article's end) or "article+tags" (the part and the rest's script, meta and link tags).
        """
        if not self.partial:
            return "page"
        return "article+tags" if self._rest_added else "article"

    def whole(self) -> etree._Element | None:
        """The whole page's tree (parsed now if ``root`` was the part)."""
        if self._whole is not None:
            self.root = self._whole()
            self._whole = None
            self.partial = False
            self.left_out = 0
        return self.root

    def with_rest(self) -> etree._Element | None:
        """The tree with the script, meta and link elements of the rest added (after the part,
        in page order), for readings of every such tag of the page.

        The rest is parsed after start tags that open the elements open at the cut, so that
        libxml2 goes on as in the whole parse: the same tokens from the same state (between
        two tokens), in elements of the same names at the same depth (what decides where an
        end tag closes, what a start tag closes, where libxml2 stops: ``</html>``, its depth
        limit). When those elements do not come out as opened, the whole page is parsed."""
        if not self.partial or self._rest_added or self.root is None:
            return self.root
        names = [name for name in reversed(self._open) if name not in ("html", "body")]
        lead = "<html><body>" + "".join(f"<{name}>" for name in names)
        rest_root = utf8_root(lead.encode() + self.rest)
        chain = ["html", "body", *names]
        node = rest_root
        for depth, name in enumerate(chain):
            if node is None or node.tag != name:
                return self.whole()
            if depth + 1 < len(chain):
                node = next(node.iterchildren(etree.Element), None)
        assert rest_root is not None  # the chain's first link
        self.root.extend(list(rest_root.iter("script", "meta", "link")))
        self._rest_added = True
        return self.root

    def first(self, read: Callable[[etree._Element], T | None]) -> T | None:
        """``read``'s answer, from the whole page when the tree is partial and gives none. For
        readings that take the first match in page order, of elements other than the rest's
        script, meta and link tags: the part holds every element before the cut, in page
        order, so a match there is the whole page's first."""
        found = read(self.root) if self.root is not None else None
        if found is None and self.partial:
            root = self.whole()
            found = read(root) if root is not None else None
        return found


# --- the navigation left out -------------------------------------------------------------------

# Between the body's start tag and the article, a page of the site holds its navigation: menus,
# a search form, breadcrumbs. No reading looks into it, but libxml2 parses it before the
# article, and it costs more than the article (about 300 us of the synthetic 95 KB pages, 600
# us of the fixture pages). What the parse needs from it is only the state it leaves: the
# elements still open when the article starts (the article's ancestors) and the tokenizer
# between two tokens. navigation() reads both from the bytes for a navigation made of plain
# elements that nest as written, and the page is parsed with their start tags in its place.
# The claims below are about libxml2 2.14's HTML parser (HTMLparser.c: htmlParseStartTag,
# htmlAutoClose, htmlCheckImplied, htmlParseEndTag); tests/test_partial_parse.py checks the
# tables against the libxml2 that lxml carries.

#: The elements a navigation that can be left out is made of. None holds text that is not
#: markup (script, style, textarea, title, iframe, xmp, noscript, plaintext), none is read by
#: a reading of the whole page (script, meta, link: the time sources and the canonical link;
#: titles are always read from the whole page), none is one libxml2 handles apart (html, head,
#: body, tables, select, pre). Inside the body, libxml2 implies no element for them.
_NAV_TAGS = frozenset(
    b"div span a ul ol li dl dt dd p h1 h2 h3 h4 h5 h6 img br hr input button label form"
    b" i em b strong u s small sup sub nav header footer section aside".split()
)
#: Those libxml2 closes right after their start tag.
_VOID = frozenset((b"img", b"br", b"hr", b"input"))
_HEADINGS = frozenset((b"h1", b"h2", b"h3", b"h4", b"h5", b"h6"))
#: For each of _NAV_TAGS, the open elements its start tag closes (libxml2's htmlStartClose
#: table, where both are navigation tags; the body is closed by none of them). A navigation
#: where a start tag would close the element it stands in is not read (it does not nest as
#: written).
_CLOSES: dict[bytes, frozenset[bytes]] = {
    b"a": frozenset((b"a",)),
    b"p": frozenset((b"b", b"i", b"p", b"s", b"small", b"u", *_HEADINGS)),
    b"dt": frozenset((b"dd", b"p")),
    b"dd": frozenset((b"dt", b"p")),
    b"form": frozenset((b"dl", b"form", b"hr", b"ol", b"p", b"ul", *_HEADINGS)),
    b"li": frozenset((b"dl", b"li", b"p", *_HEADINGS)),
    **{tag: frozenset((b"p",)) for tag in (b"div", b"dl", b"hr", b"ol", b"ul", *_HEADINGS)},
}
_NONE: frozenset[bytes] = frozenset()
#: Words that, anywhere in a navigation (lower-cased), keep it in the parse: the classes the
#: readings of the whole page look for first (the time, the article and its body) and the
#: mark below.
_READ_WORDS = (b"time", b"g-arti", b"newsbot")
_WS = rb"[ \t\n\f\r]"  # HTML's white space (not \v)
_ATTRIBUTE = (
    _WS + rb"+[^ \t\n\f\r\"'<>/=]+(?:" + _WS + rb"*=" + _WS + rb"*"
    rb"(?:\"[^\"<]*\"|'[^'<]*'|[^ \t\n\f\r\"'<>`]+))?"
)
# One token of a navigation, each holding one "<" (its first byte): a start tag in lower case
# (1: the tag, 2: its name, 3: "/" when it closes itself) with attributes as HTML writes them
# and no "<" in a value, an end tag (4: its name), a comment as HTML ends it (no "<" inside).
# Anything else there (a "<" in text, a doctype, an odd tag) leaves a "<" no token starts.
_TOKEN = re.compile(
    rb"<(?:(([a-z][a-z0-9]*)(?:" + _ATTRIBUTE + rb")*" + _WS + rb"*(/?)>)"
    rb"|/([a-z][a-z0-9]*)" + _WS + rb"*>"
    rb"|!--(?!-?>)(?:[^<-]|-(?!-!?>))*-->)"
)
_BODY_TAG = re.compile(rb"<body(?:" + _ATTRIBUTE + rb")*" + _WS + rb"*>")
#: Each start tag put in the navigation's place carries this attribute, so that the parse
#: shows they came out as elements, in their places; it is removed afterwards.
_MARK = "data-newsbot-open"
_MARK_BYTES = b" " + _MARK.encode() + b'="">'
_DEEPEST = 64  # a navigation nested deeper is parsed (libxml2 stops at its depth limit)


@dataclass(frozen=True)
class Lead:
    """What stands in for a page's navigation (:func:`navigation`)."""

    #: Where the navigation begins: right after the body's start tag.
    cut: int
    #: The start tags of the elements the navigation leaves open, marked, outermost first.
    chain: bytes
    #: How many there are.
    depth: int


def open_tags(nav: bytes) -> list[bytes] | None:
    """The start tags of the elements that the markup ``nav`` leaves open when libxml2 parses
    it right after the body's start tag, outermost first: when every token of it is one of
    :data:`_TOKEN`'s, every element one of :data:`_NAV_TAGS` that closes nothing, every end tag
    closes the element it stands in, and nothing in it is what a reading of the whole page looks
    for (:data:`_READ_WORDS`); None otherwise. Then libxml2 parses ``nav`` to those elements
    open and the tokenizer between two tokens, whatever came before the body's start tag, and
    the elements ``nav`` closes are none that a reading needs.

    >>> open_tags(b'<div class="m"><ul><li><a href=/a>A</a></li></ul><!-- x --><div id=x><br/>')
    [b'<div class="m">', b'<div id=x>']
    >>> open_tags(b"<p>menu<div>"), open_tags(b"<div>a < b"), open_tags(b"<script>")
    (None, None, None)
    """
    lowered = nav.lower()
    if b"\x00" in nav or any(word in lowered for word in _READ_WORDS) or not valid_utf8(nav):
        return None
    tokens = _TOKEN.findall(nav)
    if len(tokens) != nav.count(b"<"):
        return None
    tags: list[bytes] = []
    names = [b"body"]
    for tag, name, closed, end in tokens:
        if name:
            if name not in _NAV_TAGS or names[-1] in _CLOSES.get(name, _NONE):
                return None
            if not (closed or name in _VOID):
                tags.append(b"<" + tag)
                names.append(name)
                if len(names) > _DEEPEST:
                    return None
        elif end:  # an end tag: it must close the element it stands in
            if end != names[-1] or len(names) == 1:
                return None
            tags.pop()
            names.pop()
    return tags


# The navigation of a site's pages is the same bytes from page to page, or one of a few: what
# open_tags found for the latest ones, most recent first (a pure function's memo).
_SEEN: list[tuple[bytes, Lead | None]] = []
_SEEN_MAX = 32


def navigation(body: bytes, start: int) -> Lead | None:
    """What stands in for the navigation of the page ``body`` whose article's start tag begins
    at ``start``: the marked start tags of :func:`open_tags` of the bytes between the (last)
    body start tag before it and ``start``; None when the navigation cannot be left out.
    Whether those bytes were the body's start tag and the navigation is for the parse to show
    (:func:`_chain_in_place`)."""
    at = body.rfind(b"<body", 0, start)
    tag = _BODY_TAG.match(body, at) if at >= 0 else None
    if tag is None:
        return None
    cut = tag.end()
    size = start - cut
    for i, (nav, found) in enumerate(_SEEN):
        if len(nav) == size and body.startswith(nav, cut):
            if i:
                _SEEN.insert(0, _SEEN.pop(i))
            return None if found is None else Lead(cut, found.chain, found.depth)
    nav = body[cut:start]
    tags = open_tags(nav)
    lead = None
    if tags:  # none open: the article stands in the body itself, which nothing marks
        lead = Lead(cut, b"".join(t[:-1] + _MARK_BYTES for t in tags), len(tags))
    _SEEN.insert(0, (nav, lead))
    del _SEEN[_SEEN_MAX:]
    return lead


def forget_navigation() -> None:
    """Empty the memo of :func:`navigation` (benchmarks measure pages as a crawl meets them)."""
    _SEEN.clear()


def _chain_in_place(open_elements: list[etree._Element], depth: int) -> bool:
    """Whether the marked start tags came out as the first elements of the body, each in the
    one before, and are still open at the cut (``open_elements``, innermost first): then the
    bytes before them left the body open and the tokenizer between two tokens, and libxml2
    read the article in the elements the navigation leaves open. The marks are removed."""
    if len(open_elements) < depth + 2:
        return False
    *chain, body, html = open_elements[-(depth + 2) :]
    if html.getparent() is not None or body.tag != "body" or body.text or body[0] is not chain[-1]:
        return False
    if any(el.get(_MARK) != "" for el in chain):
        return False
    for el in chain:
        del el.attrib[_MARK]
    return True
