"""Recognising the 200-status challenge pages that anti-bot systems serve instead of content.

One list of words for every page type, so that list pages and article pages agree on what
"blocked" means.
"""

from __future__ import annotations

from collections.abc import Callable

#: Phrases of verification or rate-limit pages (NBD.md: seen defended against by other scrapers).
CHALLENGE_WORDS: tuple[str, ...] = (
    "安全验证",
    "访问验证",
    "访问过于频繁",
    "请求过于频繁",
    "验证码",
    "人机验证",
    "Just a moment",
    "Access Denied",
    "Attention Required",
)


def looks_blocked(text: str) -> bool:
    """Whether page text reads like a challenge. Call it only on pages that lack the markup
    they should have: an article may well write about 验证码.

    >>> looks_blocked("<title>安全验证</title><div>请拖动滑块</div>")
    True
    >>> looks_blocked("<h1>某公司发布年报</h1>")
    False
    """
    return any(word in text for word in CHALLENGE_WORDS)


#: Class names only the site's own content pages carry: the article body (both spellings share
#: the prefix) and the list markups (see :mod:`newsbot.pages.listing`). A page with one of them
#: is the site's, whatever words it contains.
CONTENT_MARKERS: tuple[bytes, ...] = (
    b"g-articl",
    b"g-list-text",
    b"u-news-title",
    b"m-columnnews-list",
    b"articleList",
)


def challenge_at_a_glance(body: bytes, text: Callable[[], str]) -> bool:
    """A first look for the downloader, which must hold the host before the spider has read a
    page: no content markup of any page type, and challenge words. The page objects still make
    the call that counts; a page that fools this look only costs a pause. ``text`` decodes the
    page, only when it has no content markup (the site's pages are not decoded twice).

    >>> page = "<title>安全验证</title><div>请拖动滑块</div>"
    >>> challenge_at_a_glance(page.encode(), lambda: page)
    True
    >>> page = '<div class="g-articl-text">如何识别诈骗短信中的验证码</div>'
    >>> challenge_at_a_glance(page.encode(), lambda: page)
    False
    """
    if any(marker in body for marker in CONTENT_MARKERS):
        return False
    return looks_blocked(text())
