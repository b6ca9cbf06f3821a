"""A page parsed up to the end of its article; the rest read only when something may be there.

An article page of the site is 60-120 KB, and the article a few KB of it: the sidebar and the
footer after it cost more to parse than everything the extractor does with the article. What a
page object reads outside its article is either before it (the head: title, meta and link
tags, most scripts) or a whole-page search for a first match (a canonical link, a declared
title, a time). So :func:`parse_through` parses the bytes up to the article's end tag, and
:class:`PageTree` answers from that part, turning to the rest only when it must:

- a search for the first match that finds none in the part parses the whole page
  (:meth:`PageTree.first`);
- the time sources read from every script and meta tag of the page: when the rest's bytes may
  hold one the part lacks, the rest's script, meta and link tags are picked out and added to
  the tree (:meth:`PageTree.with_rest`), or the whole page is parsed when the rest holds markup
  a byte search could misread.

The part is the tree a whole parse gives, cut after the article, and only when that can be
told: the cut falls between two tokens, after the article's end tag (a sentinel element parsed
right after the cut proves both: it must come out as an element, outside the article), and the
whole page is what :func:`~newsbot.pages.utf8_root` reads (valid UTF-8, no NUL byte).
Otherwise :func:`parse_through` returns None and the caller parses the whole page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

from newsbot.pages import utf8_root

T = TypeVar("T")

# An element no page has: parsed right after the cut, it shows where the parser stood there.
SENTINEL_ID = "newsbot-cut-7d1f"
_SENTINEL = f'<i id="{SENTINEL_ID}"></i>'.encode()

# The rest of the page is read with one search for the tags that matter: those kept (void or
# raw text, so each is one byte range), those whose content is text and is passed over, and
# anything a byte search could misread, which sends the page to a whole parse: comments,
# doctypes, CDATA, PIs, a tag name with an upper-case letter (the search is for lower case),
# plaintext (the rest of the page is its text), templates and foreign elements.
_KEPT = ("script", "meta", "link")
# Content that is text, not tags, in some libxml2 version or all: passed over only when it holds
# no "<", so that every version reads it as the same text.
_TEXT_ONLY = ("textarea", "title", "style", "xmp", "iframe", "noembed", "noframes", "noscript")
_SCAN = re.compile(
    rb"<(?:(" + "|".join(_KEPT + _TEXT_ONLY).encode() + rb")(?=[\s/>])"
    rb"|[!?]|/?[a-z0-9]*[A-Z]|(?:plaintext|template|svg|math)(?=[\s/>]))"
)
# A start tag past its name: attributes as HTML writes them (values quoted or not).
_ATTRIBUTES = re.compile(
    rb"""(?:[\s/]+[^\s/>="'<]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*[\s/]*>"""
)
_SCRIPT_CLOSE = re.compile(rb"</[Ss][Cc][Rr][Ii][Pp][Tt]")
_END_TAG = {name: re.compile(b"</" + name.encode() + rb"\s*>") for name in ("script", *_TEXT_ONLY)}
_KEPT_BYTES = frozenset(name.encode() for name in _KEPT)
_SPACE = b" \t\n\r\f"
_GT = ord(">")
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


def parse_through(body: bytes, end: int) -> Parsed | None:
    """The UTF-8 page ``body`` parsed up to ``end`` (an offset right after a ``>``); None when
    the cut does not fall between two tokens or :func:`~newsbot.pages.utf8_root` would not
    read the whole page. The caller checks that what it reads ended before the cut: that none
    of it is in :attr:`Parsed.open`.

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
    if b"\x00" in rest or not _valid_utf8(rest):
        return None
    root = utf8_root(body[:end] + _SENTINEL)
    if root is None:
        return None
    sentinel = root
    while len(sentinel):  # the last element in page order
        sentinel = sentinel[-1]
    if sentinel.tag != "i" or sentinel.get("id") != SENTINEL_ID or len(sentinel):
        return None  # the cut fell inside a tag, a comment or a script: no element came out
    parent = sentinel.getparent()
    if parent is None or sentinel.tail:
        return None
    open_elements = list(sentinel.iterancestors())
    parent.remove(sentinel)
    return Parsed(root, open_elements, rest)


def _kept_tags(rest: bytes) -> list[bytes] | None:
    """The script, meta and link tags of ``rest`` (markup that starts between two tokens), each
    as its bytes, in page order; None when ``rest`` holds markup the search could misread.

    >>> _kept_tags(b'<p>a</p><script type="x">if (a<b) f("</p>")</script> <link rel=x></div>')
    [b'<script type="x">if (a<b) f("</p>")</script>', b'<link rel=x>']
    >>> _kept_tags(b"<p><!-- <script> --></p>"), _kept_tags(b"<p>x<script></script></p>")
    (None, None)
    >>> _kept_tags(b"<script/>x</script>"), _kept_tags(b"<script>x</scripts>")
    (None, None)
    >>> _kept_tags(b"<p><sCript>x</sCript>"), _kept_tags(b"<p><script>a<!--b</script>")
    (None, None)
    >>> _kept_tags(b"<textarea>no <meta> here</textarea>"), _kept_tags(b"<title>a</title><meta>")
    (None, [b'<meta>'])
    """
    found: list[bytes] = []
    tag = _SCAN.search(rest)
    while tag is not None:
        name = tag[1]
        if name is None:
            return None
        at = tag.start()
        before = at - 1
        while before >= 0 and rest[before] in _SPACE:
            before -= 1
        if before >= 0 and rest[before] != _GT:
            return None  # not right after a tag: maybe inside text or an attribute
        start_tag = _ATTRIBUTES.match(rest, tag.end())
        if start_tag is None:
            return None
        stop = start_tag.end()
        end_tag = _END_TAG.get(name.decode())
        if end_tag is not None:
            if rest[stop - 2 : stop] == b"/>":
                return None  # libxml2 versions differ on a self-closed one
            if name == b"script":
                close = _SCRIPT_CLOSE.search(rest, stop)
                at_close = close.start() if close is not None else -1
                # "<!--" in a script changes where it ends (the script data escape states)
                if at_close < 0 or rest.find(b"<!--", stop, at_close) >= 0:
                    return None
            else:
                at_close = rest.find(b"<", stop)
            found_end = end_tag.match(rest, at_close) if at_close >= 0 else None
            if found_end is None:
                return None
            stop = found_end.end()
        if name in _KEPT_BYTES:
            found.append(rest[at:stop])
        tag = _SCAN.search(rest, stop)
    return found


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class PageTree:
    """A page object's tree: ``root`` is the whole page, or the page parsed through its
    article (:func:`parse_through`, with ``rest`` the bytes after the cut); :meth:`whole`
    parses the whole page, once, when a reading needs more than the part holds.

    >>> parser = etree.HTMLParser()
    >>> page = "<p>a</p><h1>b</h1><script>c</script>"
    >>> tree = PageTree(etree.fromstring("<p>a</p>", parser), whole=lambda: etree.fromstring(
    ...     page, parser), rest=b"<h1>b</h1><script>c</script>")
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
    ) -> None:
        self.root = root
        #: Whether ``root`` is the part of the page up to its article's end (then ``rest`` is
        #: the page's bytes after it).
        self.partial = whole is not None
        self.rest = rest
        self._whole = whole
        self._rest_added = False

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
        return self.root

    def with_rest(self) -> etree._Element | None:
        """The tree with the script, meta and link elements of the rest added (after the part,
        in page order), for readings of every such tag of the page; the whole page when the
        rest holds markup a byte search could misread."""
        if not self.partial or self._rest_added or self.root is None:
            return self.root
        kept = _kept_tags(self.rest)
        if kept is None:
            return self.whole()
        if kept:
            rest_root = utf8_root(b"".join(kept))
            if rest_root is not None:
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
