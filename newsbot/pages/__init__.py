"""Page objects: one response in, one item (or a reason why not) out. No requests, no I/O.

Every selector for a page type lives in that page type's module.
"""

from __future__ import annotations

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
    selector = response.selector
    if selector.type == "html":
        return selector
    return Selector(text=response.text, type="html", base_url=response.url)


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
