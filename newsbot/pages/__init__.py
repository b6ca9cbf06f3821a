"""Page objects: one response in, one item (or a reason why not) out. No requests, no I/O.

Every selector for a page type lives in that page type's module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html
from lxml import etree
from parsel import Selector
from scrapy.http import TextResponse


class NotArticle(Exception):
    """The page gives no article record.

    ``reason`` is a short stable code, used in stats (``newsbot/not_article/<reason>``) and on
    stderr: ``not_article``, ``blocked``, ``empty_body``, ``bad_encoding``, ``no_url``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def html_selector(response: TextResponse) -> Selector:
    """The response's selector, always an HTML one. parsel reads a body that parses as JSON (a
    WAF's or an API's error object) as JSON whatever its Content-Type says, and every XPath or
    CSS query on it raises ValueError (scrapy/scrapy#5923, scrapy/parsel#310); as HTML, such a
    page is simply not the page the selectors look for.

    >>> from scrapy.http import HtmlResponse
    >>> response = HtmlResponse("https://x.test/", body=b'{"code": 403}')
    >>> html_selector(response).xpath("string()").get()
    '{"code": 403}'
    """
    fast = _parse_utf8(response)
    if fast is not None:
        return fast
    selector = response.selector
    if selector.type == "html":
        return selector
    return Selector(text=response.text, type="html", base_url=response.url)


_UTF8 = frozenset({"utf-8", "utf8"})
_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8", recover=True)
# lxml.html's parser looks up a Python class for every element touched; pages read with plain
# lxml calls need none of its methods.
_PLAIN_UTF8_PARSER = etree.HTMLParser(encoding="utf-8", recover=True)


def utf8_root(body: bytes) -> etree._Element | None:
    """The root element of a page whose bytes are valid UTF-8, parsed straight from the bytes
    with plain lxml elements; None for anything else (other charsets, a BOM, NUL bytes, an
    empty page), which the caller decodes the way Scrapy does.

    >>> utf8_root("<p>正文</p>".encode()).findtext(".//p"), utf8_root(b"\\xff\\xfe<p>") is None
    ('正文', True)
    """
    return utf8_parse(body)[0]


def utf8_parse(body: bytes) -> tuple[etree._Element | None, bool]:
    """:func:`utf8_root`'s root, and whether libxml2 may have dropped a misplaced html, head or
    body start tag on the way (it counts those, and ignores as many end tags of those names
    later on): its error log says so, or is full (it logs a hundred errors a document).

    >>> utf8_parse(b"<html><head></head><body><p>x</p></body></html>")[1]
    False
    >>> utf8_parse(b"<html><title>t</title><head></head><body><p>x</p>")[1]  # head is implied
    True
    """
    if not body or b"\x00" in body or body.startswith(b"\xef\xbb\xbf"):
        return None, False
    # libxml2 checks the bytes as it reads them and logs every invalid sequence (the ones that
    # Python's strict decoder refuses: stray bytes, overlong forms, surrogates, past U+10FFFF):
    # decoding the whole body only to throw the text away cost a sixth of the parse.
    try:
        root: etree._Element | None = etree.fromstring(body, parser=_PLAIN_UTF8_PARSER)
    except etree.XMLSyntaxError:
        if valid_utf8(body):
            raise
        return None, False
    log = _PLAIN_UTF8_PARSER.error_log
    if not log:
        return root, False
    types = {error.type for error in log}
    if not _clean_utf8(log, body, types):
        return None, False
    return root, _MISPLACED in types or len(log) >= 100


def _clean_utf8(log: etree._ListErrorLog, body: bytes, types: set[int] | None = None) -> bool:
    """Whether a parse that logged ``log`` read ``body`` as valid UTF-8. libxml2 stops logging
    after its hundredth error of a document: past that, the bytes are decoded to find out.

    >>> parser = etree.HTMLParser(encoding="utf-8", recover=True)
    >>> def clean(body):
    ...     etree.fromstring(body, parser=parser)
    ...     return _clean_utf8(parser.error_log, body)
    >>> clean("<p>正文</b></p>".encode()), clean(b"<p>\\xd5\\xfd</p>")
    (True, False)
    >>> clean(b"<p>\\xed\\xa0\\x80</p>")  # a surrogate: Python refuses it too
    False
    >>> clean(b"<b></i>" * 120 + b"<p>\\xff</p>"), clean(b"<b></i>" * 120 + b"<p>ok</p>")
    (False, True)
    """
    if types is None:
        types = {error.type for error in log}
    if _INVALID_ENCODING in types:
        return False
    if _RESOURCE_LIMIT in types or len(log) >= 100:
        return valid_utf8(body)
    return True


def valid_utf8(body: bytes) -> bool:
    """Whether ``body`` is valid UTF-8 (as Python's strict decoder reads it).

    >>> valid_utf8("正文".encode()), valid_utf8(b"\\xd5\\xfd")
    (True, False)
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_INVALID_ENCODING = etree.ErrorTypes.ERR_INVALID_ENCODING
_RESOURCE_LIMIT = etree.ErrorTypes.ERR_RESOURCE_LIMIT
_MISPLACED = etree.ErrorTypes.HTML_STRUCURE_ERROR  # libxml2's only use: a misplaced tag dropped


def _parse_utf8(response: TextResponse) -> Selector | None:
    """An HTML selector parsed straight from the bytes of a UTF-8 page, or None.

    parsel parses ``response.text`` re-encoded to UTF-8: for the site's UTF-8 pages that is two
    needless copies and a decode, as long as the parse of the page itself (benchmarks/README.md).
    Only bodies that are valid UTF-8 as they are take this path; everything else (other or
    lying charsets, BOMs, NUL bytes, empty pages) goes the way Scrapy and parsel go.
    """
    body = response.body
    if (response.encoding or "").lower() not in _UTF8 or not body or b"\x00" in body:
        return None
    if body.startswith(b"\xef\xbb\xbf"):
        return None
    if "\ufffd" in response.text:  # not valid UTF-8: the decoding fallbacks decide
        return None
    root = etree.fromstring(body, parser=_UTF8_PARSER, base_url=response.url)
    if root is None:
        return None
    return Selector(root=root, type="html")


def attribute(selector: Selector, name: str) -> str:
    """The attribute ``name`` of the element ``selector`` stands for, or ``""``. parsel's
    ``attrib`` copies every attribute, and lxml raises ValueError on an attribute *name* holding
    a control character, which one stray byte inside a tag makes.

    >>> sel = Selector(text='<a href="/x"\\x08 class="c">t</a>').css("a")[0]
    >>> attribute(sel, "href"), attribute(sel, "class"), attribute(sel, "title")
    ('/x', 'c', '')
    """
    root = selector.root
    value = root.get(name) if hasattr(root, "get") else None
    return value if isinstance(value, str) else ""


# --- CSS run on plain lxml elements ------------------------------------------------------------

# What cssselect's XPath splits a class attribute on (normalize-space): XML white space only.
_XML_SPACE = str.maketrans("\t\n\r", "   ")
_COMPOUND = re.compile(r'([a-z][a-z0-9-]*)?((?:\.[\w-]+)*)((?:\[[\w-]+="[^"]*"\])*)$')


def has_class(value: str | None, name: str) -> bool:
    """Whether a ``class`` attribute value holds ``name`` the way a CSS class selector reads it
    (cssselect: ``contains(concat(' ', normalize-space(@class), ' '), ' name ')``), split on
    XML white space only, where ``str.split()`` would also split on NBSP and the like.

    >>> has_class("g-article  top", "top"), has_class("a\\u00a0top", "top"), has_class(None, "x")
    (True, False, False)
    """
    return value is not None and name in value and name in value.translate(_XML_SPACE).split(" ")


@dataclass(frozen=True)
class _Compound:
    """One simple selector sequence: ``tag.class[attr="value"]``, each part optional."""

    tag: str | None
    classes: tuple[str, ...]
    attrs: tuple[tuple[str, str], ...]

    def matches(self, el: etree._Element) -> bool:
        if self.tag is not None and el.tag != self.tag:
            return False
        if self.classes:
            value = el.get("class")
            if value is None:
                return False
            for name in self.classes:  # a substring test first: most elements fail it
                if name not in value or name not in value.translate(_XML_SPACE).split(" "):
                    return False
        if not self.attrs:  # most compounds: no generator to build and run
            return True
        return all(el.get(name) == wanted for name, wanted in self.attrs)

    def covers(self, other: _Compound) -> bool:
        """Whether this matches every element that ``other`` matches."""
        return (
            self.tag in (None, other.tag)
            and set(self.classes) <= set(other.classes)
            and set(self.attrs) <= set(other.attrs)
        )


def _compound(text: str) -> _Compound:
    m = _COMPOUND.match(text)
    if not text or m is None:
        raise ValueError(f"CSS not supported by Query: {text!r}")
    attrs = re.findall(r'\[([\w-]+)="([^"]*)"\]', m.group(3))
    return _Compound(m.group(1), tuple(m.group(2).split(".")[1:]), tuple(attrs))


class Query:
    """A CSS selector (``tag.class[attr="v"]`` parts, descendant combinators, ``,`` unions)
    that finds the same elements, in document order, as parsel's XPath translation of it, with
    plain lxml iteration and no XPath.

    Why: an XPath query costs an evaluation context per call, and cssselect's class test builds
    a string per element (``concat(normalize-space(@class))``); on the few elements of an
    article's top, or on the few candidates that ``iter(tag)`` finds in C, Python is cheaper.

    >>> root = etree.fromstring('<div class="top"><p class="u-time"><span class="time">1'
    ...     '</span></p><span class="time">2</span><b class="time">3</b></div>', etree.HTMLParser())
    >>> [el.text for el in Query(".u-time .time, span.time")(root)]
    ['1', '2']
    >>> [el.text for el in Query("div.top b")(root)], Query("p")(root)[0].get("class")
    (['3'], 'u-time')
    """

    def __init__(self, css: str) -> None:
        self.css = css
        sequences = [
            tuple(_compound(part) for part in alternative.split()) for alternative in css.split(",")
        ]
        # ``X h1, h1`` is ``h1``: an alternative whose matches another one always finds is left out
        singles = [s[0] for s in sequences if len(s) == 1]
        self.sequences = tuple(
            s for s in sequences if len(s) == 1 or not any(t.covers(s[-1]) for t in singles)
        )
        self.by_length = tuple(sorted(self.sequences, key=len))
        last_tags = {sequence[-1].tag for sequence in self.sequences}
        # Candidates come from lxml's own tag filter when every alternative names its tag.
        self.tags: tuple[str, ...] = (
            tuple(sorted(t for t in last_tags if t)) if None not in last_tags else ()
        )
        # A class that every alternative's last part names: an element whose class attribute
        # does not even hold it as a substring is no match (most elements), tested before any
        # call of the full match.
        common = set.intersection(*(set(sequence[-1].classes) for sequence in self.sequences))
        self.hint: str | None = min(common) if common else None
        first = self.sequences[0][0]
        # ``A B`` with a tag in A: find each A, then B inside it (A is rare: an abstract div).
        self.top_down = len(self.sequences) == 1 and len(self.sequences[0]) == 2 and bool(first.tag)

    def __call__(self, el: etree._Element) -> list[etree._Element]:
        if self.top_down:
            return self._top_down(el)
        candidates = el.iter(*self.tags) if self.tags else el.iter(etree.Element)
        hint = self.hint
        sequences = self.sequences
        single = sequences[0][0] if len(sequences) == 1 and len(sequences[0]) == 1 else None
        found = []
        # One loop, no generator: the queries run on a few elements each, where a generator's
        # set-up and resumption cost as much as the tests.
        for m in candidates:
            if hint is not None:
                value = m.get("class")
                if value is None or hint not in value:
                    continue
            if single is not None:
                if single.matches(m):
                    found.append(m)
                continue
            for sequence in sequences:
                if _matches(sequence, m, el):
                    found.append(m)
                    break
        return found

    def matches(self, el: etree._Element, context: etree._Element) -> bool:
        """Whether ``el``, ``context`` itself or an element inside it, is one of those that
        ``self(context)`` finds: for a caller that passes over ``context`` once for several
        queries (each query's own pass costs an iterator and a proxy per element).

        >>> root = etree.fromstring('<div class="top"><p class="u-time"><span class="time">1'
        ...     '</span></p><b class="time">2</b></div>', etree.HTMLParser())
        >>> query = Query(".u-time .time, span.time")
        >>> [el.text for el in root.iter() if query.matches(el, root)] == [
        ...     el.text for el in query(root)]
        True
        """
        hint = self.hint
        if hint is not None:
            value = el.get("class")
            if value is None or hint not in value:
                return False
        # One-part alternatives first: they need no walk up the ancestors. ``A B`` top-down
        # (_top_down) finds each B with an A above it inside the context: what _matches tests.
        for sequence in self.by_length:  # noqa: SIM110 (no generator: a few calls a page)
            if _matches(sequence, el, context):
                return True
        return False

    def _top_down(self, el: etree._Element) -> list[etree._Element]:
        outer, inner = self.sequences[0]
        found: list[etree._Element] = []
        taken: etree._Element | None = None
        for x in el.iter(outer.tag):
            if not outer.matches(x):
                continue
            if taken is not None and any(a is taken for a in x.iterancestors()):
                continue  # inside the last A taken: its B were found already
            taken = x
            below = x.iter(inner.tag) if inner.tag else x.iter(etree.Element)
            found += [m for m in below if m is not x and inner.matches(m)]
        return found


def _matches(sequence: tuple[_Compound, ...], m: etree._Element, context: etree._Element) -> bool:
    """Whether ``m`` matches ``A B ... Z`` inside ``context``: m is a Z, and A ... Y are
    ancestors of it in that order, A possibly ``context`` itself (``descendant-or-self::A/
    descendant-or-self::*/B/...``, as cssselect writes it)."""
    if not sequence[-1].matches(m):
        return False
    k = len(sequence) - 1
    if k == 0:
        return True
    if m is context:
        return False
    for ancestor in m.iterancestors():
        if sequence[k - 1].matches(ancestor):
            k -= 1
            if k == 0:
                return True
        if ancestor is context:
            return False
    return False
