"""Recognising the 200-status challenge pages that anti-bot systems serve instead of content.

One list of words for every page type, so that list pages and article pages agree on what
"blocked" means.
"""

from __future__ import annotations

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
