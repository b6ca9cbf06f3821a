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

And the navigation before the article (everything between the body's start tag and the
article's) is left out of the part's parse once its bytes have been met before: libxml2 parses
it on its own, once, to the elements it leaves open, whose start tags then stand in its place
(:func:`navigation`). The part's elements are then the whole parse's, less the navigation's
closed ones, which no reading looks at: a navigation holding what a whole-page reading looks
for first is parsed with its page.

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
from dataclasses import dataclass, field, replace
from typing import TypeVar

from lxml import etree

from newsbot.pages import utf8_parse, utf8_root, valid_utf8

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
    #: Whether libxml2 may have dropped a misplaced html, head or body start tag in the part
    #: (:func:`~newsbot.pages.utf8_parse`): it then ignores as many end tags of those names in
    #: the rest, which a parse of the rest on its own cannot know.
    dropped: bool = False


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
        root, dropped = utf8_parse(body[:end] + _SENTINEL)
    else:
        root, dropped = utf8_parse(
            b"".join((body[: lead.cut], lead.body_tag, lead.chain, body[start:end], _SENTINEL))
        )
    sentinel = _sentinel_of(root)
    if sentinel is None:
        return None  # the cut fell inside a tag, a comment or a script: no element came out
    parent = sentinel.getparent()
    if parent is None:
        return None
    open_elements = list(sentinel.iterancestors())
    parent.remove(sentinel)
    if lead is not None:
        if not _chain_in_place(open_elements, lead):
            return parse_through(body, end)
        assert start is not None  # a lead is looked for only then
        return Parsed(root, open_elements, rest, left_out=start - lead.begins, dropped=dropped)
    return Parsed(root, open_elements, rest, dropped=dropped)


def _sentinel_of(root: etree._Element | None) -> etree._Element | None:
    """The sentinel as the last element of ``root`` in page order, with nothing after it; None
    when the parse did not end with it (the bytes before it ended inside a tag, a comment or
    raw text, which swallowed it, or an element that swallowed its start tag passes for it)."""
    if root is None:
        return None
    last = root
    while len(last):
        last = last[-1]
    if last.tag != "i" or last.get("id") != SENTINEL_ID or len(last.attrib) != 1 or last.tail:
        return None
    return last


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
        dropped: bool = False,
        left_out: int = 0,
    ) -> None:
        self.root = root
        #: Whether ``root`` is the part of the page up to its article's end (then ``rest`` is
        #: the page's bytes after it).
        self.partial = whole is not None
        self.rest = rest
        self._open = open_tags or []
        self._whole = whole
        self._dropped = dropped
        self._rest_added = False
        #: Bytes of navigation before the article that the part left out (:func:`navigation`).
        self.left_out = left_out

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
        limit). When those elements do not come out as opened, or the part's parse dropped a
        misplaced html, head or body start tag (``dropped``), the whole page is parsed."""
        if not self.partial or self._rest_added or self.root is None:
            return self.root
        if self._dropped:  # libxml2 will ignore end tags in the rest that it cannot be told of
            return self.whole()
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
        order, so a match there is the whole page's first. (Every element but those of a
        navigation left out, which holds none that the page object's readings look for: no
        script, meta or link tag, no class naming a time or the article; a new reading of
        other elements before the article adds them to :func:`open_elements`' refusals.)"""
        found = read(self.root) if self.root is not None else None
        if found is None and self.partial:
            root = self.whole()
            found = read(root) if root is not None else None
        return found


# --- the navigation left out -------------------------------------------------------------------

# Between the body's start tag and the article, a page of the site holds its navigation: menus,
# a search form, breadcrumbs. No reading looks into it, but libxml2 parses it before the
# article, and it costs more than the article (about 300 us of the synthetic 95 KB pages, 600
# us of the fixture pages). What the article's parse needs from it is the state it leaves:
# the elements still open when the article starts (the article's ancestors), and the tokenizer
# between two tokens. And it is the same bytes from page to page (one navigation per column
# and hour, say): navigation() has libxml2 parse a navigation once, on its own after
# "<html><body>", reads that state there, and remembers it; for every page with those bytes
# in that place, the page is parsed with the start tags of the open elements instead.
#
# Why that is the state the whole page's parse reaches (libxml2 2.14, HTMLparser.c): how the
# navigation's tokens build the tree depends on the names of the open elements (a start tag
# closes the current element by the htmlStartClose table, an end tag closes up to the nearest
# element of its name) and on the tokenizer's state, both the same after "<html><body>" as
# after the page's body start tag (the parse shows that: _chain_in_place); beyond those, on
# the count of misplaced html, head and body tags (ctxt->depth, read at their end tags) and
# the encoding a meta tag may switch to, which is why a navigation with any of those tags is
# parsed with its page. A navigation holding what a reading of the whole page looks for first
# (a script or meta tag: the time sources; a link: the canonical link; a time, an article or
# its body by class) is parsed with its page too.

_WS = rb"[ \t\n\f\r]"  # HTML's white space (not \v)
_ATTRIBUTE = (
    _WS + rb"+[^ \t\n\f\r\"'<>/=]+(?:" + _WS + rb"*=" + _WS + rb"*"
    rb"(?:\"[^\"]*\"|'[^']*'|[^ \t\n\f\r\"'<>`]+))?"
)
# The body's start tag as HTML writes it (where a quoted value may hold ">").
_BODY_TAG = re.compile(rb"<body(?:" + _ATTRIBUTE + rb")*" + _WS + rb"*>")
# The start of a tag that may set the parser's state beyond its open elements (lower case),
# or that a reading of the whole page looks for (script: the time sources; link: the canonical
# link); "<head" is also the start of "<header", told apart by the regex.
_REFUSED_TAGS = (
    *(b"<html", b"</html", b"<body", b"</body", b"<meta", b"<!doctype"),
    *(b"<script", b"<link"),
)
_HEAD_TAG = re.compile(rb"</?head[ \t\n\f\r/>]")
# Classes the readings of the whole page look for first (a time, the article, its body).
_READ_ELSEWHERE = "//*[contains(@class, 'time') or contains(@class, 'g-arti')]"
_ATTRIBUTE_NAME = re.compile(r"[^\s\"'<>/=]+")
#: Each start tag put in the navigation's place carries this attribute, so that the parse
#: shows they came out as elements, in their places; it is removed afterwards.
_MARK = "data-newsbot-open"
_MARK_NAME = _MARK.encode()
_MARK_BYTES = b" " + _MARK_NAME + b'="">'
_SENTINEL_BYTES = SENTINEL_ID.encode()


@dataclass(frozen=True)
class Lead:
    """What stands in for a page's navigation (:func:`navigation`)."""

    #: Where the body's start tag begins (0 in the memo).
    cut: int
    #: Where the navigation begins, right after that tag (0 in the memo).
    begins: int
    #: The body's start tag, marked (b"" in the memo).
    body_tag: bytes
    #: The start tags of the elements the navigation leaves open, marked, outermost first.
    chain: bytes
    #: Those elements' names and attributes, innermost first (as the parse gives them).
    elements: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def open_elements(nav: bytes) -> list[etree._Element] | None:
    """The elements that the markup ``nav`` leaves open when libxml2 parses it right after
    the body's start tag, outermost first (parsed on its own after ``<html><body>``); None
    when that parse may not be how the page's goes or ``nav`` holds a tag a reading of the
    whole page looks for (:data:`_REFUSED_TAGS`), when it does not end between two tokens, or
    when ``nav`` holds an element of a class a reading looks for first (:data:`_READ_ELSEWHERE`).

    >>> [el.get("id") for el in open_elements(b'<div id=a><ul><li>x</ul><p id=b>menu<span>')]
    ['a', 'b', None]
    >>> open_elements(b"<div><textarea>"), open_elements(b'<span class="time">')
    (None, None)
    """
    lowered = nav.lower()
    if any(tag in lowered for tag in _REFUSED_TAGS) or (
        b"<head" in lowered and _HEAD_TAG.search(lowered)
    ):
        return None
    if _SENTINEL_BYTES in nav or _MARK_NAME in lowered:
        return None
    root = utf8_root(b"<html><body>" + nav + _SENTINEL)
    sentinel = _sentinel_of(root)
    if root is None or sentinel is None or root.tag != "html" or root[0].tag != "body":
        return None
    # On the parsed classes, not the bytes: a character reference may spell a class.
    if root.xpath(_READ_ELSEWHERE):
        return None
    *tags, body, html = sentinel.iterancestors()
    if body is not root[0] or html is not root:
        return None
    return tags[::-1]


def _start_tag(el: etree._Element) -> bytes | None:
    """A start tag that libxml2 parses to ``el``'s name and attributes, marked."""
    parts = [f"<{el.tag}"]
    for name, value in el.items():
        if not _ATTRIBUTE_NAME.fullmatch(name):
            return None
        parts.append(f' {name}="{value.replace("&", "&amp;").replace(chr(34), "&quot;")}"')
    return "".join(parts).encode() + _MARK_BYTES


# The navigation of a site's pages is the same bytes from page to page, or one of a few: what
# the latest ones leave open, most recent first (the memo of a pure function of the bytes). A
# navigation is parsed on its own the second time it is met: a page whose navigation is met
# once (a single page read, a saved page) is parsed as before, with no parse added.
class _MetOnce:
    """A navigation met once, not parsed on its own yet."""


_MET_ONCE = _MetOnce()
_SEEN: list[tuple[bytes, Lead | _MetOnce | None]] = []
_SEEN_MAX = 32
_NAV_MAX = 256 * 1024  # a longer navigation is parsed with its page: the memo stays small


def navigation(body: bytes, start: int) -> Lead | None:
    """What stands in for the navigation of the page ``body`` whose article's start tag begins
    at ``start``: the marked start tags of the elements that the bytes between the last body
    start tag before it and ``start`` leave open (:func:`open_elements`); None when the
    navigation cannot be left out, or is met for the first time. Whether those bytes were the
    body's start tag and the navigation is for the parse to show (:func:`_chain_in_place`)."""
    at = body.rfind(b"<body", 0, start)
    tag = _BODY_TAG.match(body, at) if at >= 0 else None
    if tag is None or _MARK_NAME in tag[0]:
        return None
    cut = tag.end()
    size = start - cut
    if size > _NAV_MAX:
        return None
    for i, (nav, found) in enumerate(_SEEN):
        if len(nav) == size and body.startswith(nav, cut):
            if isinstance(found, _MetOnce):
                found = _lead(open_elements(nav))
            del _SEEN[i]
            _SEEN.insert(0, (nav, found))
            if found is None:
                return None
            # The body's own start tag marked: the parse shows that it was the body's.
            return replace(found, cut=at, begins=cut, body_tag=tag[0][:-1] + _MARK_BYTES)
    _SEEN.insert(0, (body[cut:start], _MET_ONCE))
    del _SEEN[_SEEN_MAX:]
    return None


def _lead(elements: list[etree._Element] | None) -> Lead | None:
    # None open: the article would stand in the body itself, which nothing marks. An open p:
    # the article's div start tag closes it, and the chain would not be open at the cut.
    if not elements or elements[-1].tag == "p":
        return None
    tags = [_start_tag(el) for el in elements]
    if None in tags:
        return None
    described = tuple((el.tag, tuple(el.items())) for el in reversed(elements))
    return Lead(0, 0, b"", b"".join(t for t in tags if t), described)


def forget_navigation() -> None:
    """Empty the memo of :func:`navigation` (benchmarks measure pages as a crawl meets them)."""
    _SEEN.clear()


def _chain_in_place(open_now: list[etree._Element], lead: Lead) -> bool:
    """Whether the marked body start tag made the body (not a tag libxml2 dropped, not a
    "tag" in a comment, with an implied body after it), and the marked start tags after it
    came out as the first elements of the body, each in the one before, with the names and
    attributes the navigation's own parse gave them, still open at the cut (``open_now``,
    innermost first): then the bytes before them left the body open and the tokenizer between
    two tokens, and libxml2 read the article in the elements the navigation leaves open. The
    marks are removed."""
    depth = len(lead.elements)
    if len(open_now) < depth + 2:
        return False
    *chain, body, html = open_now[-(depth + 2) :]
    if html.getparent() is not None or body.tag != "body" or body.text or body[0] is not chain[-1]:
        return False
    for el in (body, *chain):
        if el.get(_MARK) != "":
            return False
        del el.attrib[_MARK]
    return all(
        el.tag == tag and tuple(el.items()) == items
        for el, (tag, items) in zip(chain, lead.elements, strict=True)
    )
