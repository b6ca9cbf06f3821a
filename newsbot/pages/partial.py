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
    if b"\x00" in rest or not valid_utf8(rest):
        return None
    root = utf8_root(body[:end] + _SENTINEL)
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
