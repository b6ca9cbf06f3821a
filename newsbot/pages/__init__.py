"""Page objects: one response in, one item (or a reason why not) out. No requests, no I/O.

Every selector for a page type lives in that page type's module.
"""

from __future__ import annotations

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
    if not body or b"\x00" in body or body.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    root: etree._Element | None = etree.fromstring(body, parser=_PLAIN_UTF8_PARSER)
    return root


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
