"""The site's keyword search API: the request body and the reading of its answers.

Reported by one public scraper and unconfirmed (NBD.md)::

    POST /news-search/queryByMatch
    {"keyword": "碳中和", "from": 0, "size": 16, "includeAd": true, "platform": [0, 1]}
    -> {"code": 200, "data": {"totalHits": N, "searchResults": [
           {"title", "url", "publishTime": "YYYY-MM-DD", "author", "editor", "digest"}]}}

newest first. An answer of any other shape raises :class:`SearchAnswerError`: a changed API must
stop the run loudly, never look like "no results".
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from newsbot.pages.listing import parse_list_time
from newsbot.processors import normalize_space

SEARCH_PATH = "/news-search/queryByMatch"
_TAG = re.compile(r"<[^>]*>")


class SearchAnswerError(ValueError):
    """The search API answered something newsbot cannot read."""


def search_body(keyword: str, offset: int, size: int) -> dict[str, Any]:
    """The JSON body asking for ``size`` results from ``offset`` on.

    >>> search_body("碳中和", 16, 16)
    {'keyword': '碳中和', 'from': 16, 'size': 16, 'includeAd': True, 'platform': [0, 1]}
    """
    return {"keyword": keyword, "from": offset, "size": size, "includeAd": True, "platform": [0, 1]}


@dataclass(frozen=True)
class SearchHit:
    """One search result."""

    url: str
    """The result's link as the API gave it (not yet checked to be an article URL)."""
    title: str | None
    """The title without highlight markup."""
    published_at: datetime | None
    """``publishTime`` in Beijing time (midnight when the API gives only a date)."""


@dataclass(frozen=True)
class SearchAnswer:
    total: int
    """``totalHits``: how many results the query has over all pages."""
    hits: list[SearchHit]


def strip_highlight(title: str | None) -> str | None:
    """A title without the API's highlight markup and entities.

    >>> strip_highlight('国内<em class="hl">碳中和</em>进展 &amp; 展望')
    '国内碳中和进展 & 展望'
    >>> strip_highlight("") is None
    True
    """
    text = normalize_space(html.unescape(_TAG.sub("", title or "")))
    return text or None


def parse_answer(body: bytes | str) -> SearchAnswer:
    """Read one answer of the search API.

    >>> answer = parse_answer('{"code": 200, "data": {"totalHits": 1, "searchResults": ['
    ...     '{"title": "<em>碳中和</em>", "url": "https://www.nbd.com.cn/articles/2021-04-01/1.html",'
    ...     ' "publishTime": "2021-04-01"}]}}')
    >>> answer.total, answer.hits[0].title, answer.hits[0].published_at.isoformat()
    (1, '碳中和', '2021-04-01T00:00:00+08:00')
    >>> parse_answer('{"code": 200, "data": {"list": []}}')
    Traceback (most recent call last):
    ...
    newsbot.pages.search.SearchAnswerError: ... no data.searchResults list: keys ['list']
    >>> parse_answer('<html>安全验证</html>')
    Traceback (most recent call last):
    ...
    newsbot.pages.search.SearchAnswerError: search answer is not JSON: '<html>安全验证</html>'
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        raise SearchAnswerError(f"search answer is not JSON: {text[:80]!r}") from None
    if not isinstance(doc, dict):
        raise SearchAnswerError(f"search answer is a {type(doc).__name__}, not an object")
    code = doc.get("code")
    if str(code) != "200":
        detail = doc.get("msg") or doc.get("message") or ""
        raise SearchAnswerError(f"search answer has code {code!r} {detail}".rstrip())
    data = doc.get("data")
    if not isinstance(data, dict):
        raise SearchAnswerError(f"search answer has no data object: keys {sorted(doc)}")
    results = data.get("searchResults")
    if not isinstance(results, list):
        raise SearchAnswerError(
            f"search answer has no data.searchResults list: keys {sorted(data)}"
        )
    total = data.get("totalHits")
    if isinstance(total, str) and total.isdigit():
        total = int(total)
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise SearchAnswerError(f"search answer has no usable data.totalHits: {total!r}")
    return SearchAnswer(total, [_hit(i, result) for i, result in enumerate(results)])


def _hit(index: int, result: object) -> SearchHit:
    if not isinstance(result, dict):
        raise SearchAnswerError(f"search result {index} is a {type(result).__name__}")
    url = result.get("url")
    if not isinstance(url, str) or not url.strip():
        raise SearchAnswerError(f"search result {index} has no url: keys {sorted(result)}")
    title = result.get("title")
    if title is not None and not isinstance(title, str):
        raise SearchAnswerError(f"search result {index} has a title of type {type(title).__name__}")
    raw_time = result.get("publishTime")
    published = None
    if raw_time not in (None, ""):
        published = parse_list_time(raw_time) if isinstance(raw_time, str) else None
        if published is None:
            raise SearchAnswerError(f"search result {index} has publishTime {raw_time!r}")
    return SearchHit(url.strip(), strip_highlight(title), published)
