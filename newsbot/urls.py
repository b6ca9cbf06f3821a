"""Article URL forms of 每经网 and their canonical form.

Every article has one key, its numeric id, and one canonical URL,
``https://www.nbd.com.cn/articles/YYYY-MM-DD/ID.html``, whatever form a link or a mirror
gives: http or https, the desktop, mobile or a channel host, a query string, a fragment.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urljoin, urlsplit

CANONICAL_HOST = "www.nbd.com.cn"
CANONICAL_ROOT = f"https://{CANONICAL_HOST}"

#: Hosts under nbd.com.cn that serve uploaded files, not articles; links to them are spam.
SPAM_HOSTS = frozenset({"lianghua.nbd.com.cn", "activity.nbd.com.cn"})

# ASCII digits only: Python's \d also matches other scripts' digits (٠١٢), in no URL of the site.
_ARTICLE_PATH = re.compile(r"/articles/(\d{4})-(\d{2})-(\d{2})/(\d{1,12})\.html?$", re.ASCII)


def article_path_parts(url_or_path: str) -> tuple[str, str] | None:
    """``(date, id)`` when the path ends in the site's article layout, else None.

    >>> article_path_parts("http://m.nbd.com.cn/articles/2021-04-10/1712345.html?from=wx#top")
    ('2021-04-10', '1712345')
    >>> article_path_parts("/mirror/www.nbd.com.cn/articles/2017-03-09/1084501.html")
    ('2017-03-09', '1084501')
    >>> article_path_parts("//www.nbd.com.cn/articles/2021-04-10/1712345.html?from=wx")
    ('2021-04-10', '1712345')
    >>> article_path_parts("https://www.nbd.com.cn/columns/3/") is None
    True
    >>> article_path_parts("/articles/2021-02-31/1.html"), article_path_parts("//[x/articles/")
    (None, None)
    """
    is_url = "://" in url_or_path or url_or_path.startswith("//")
    try:
        path = urlsplit(url_or_path).path if is_url else url_or_path
    except ValueError:  # "//[x", a netloc NFKC turns into a delimiter: not a URL
        return None
    path = path.replace("\\", "/")
    m = _ARTICLE_PATH.search(path)
    if not m:
        return None
    year, month, day, ident = m.groups()
    try:
        # An impossible date (02-31, year 0) names no article, and would break every date
        # computation made from the URL later on.
        date(int(year), int(month), int(day))
    except ValueError:
        return None
    return f"{year}-{month}-{day}", str(int(ident))


def is_nbd_host(host: str | None) -> bool:
    """True for nbd.com.cn and its subdomains, except the spam upload hosts.

    >>> is_nbd_host("m.nbd.com.cn"), is_nbd_host("NBD.COM.CN."), is_nbd_host("nbd.com.cn.evil.test")
    (True, True, False)
    >>> is_nbd_host("lianghua.nbd.com.cn"), is_nbd_host(None)
    (False, False)
    """
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host in SPAM_HOSTS:
        return False
    return host == "nbd.com.cn" or host.endswith(".nbd.com.cn")


def article_url(date: str, ident: str) -> str:
    """The canonical URL of the article ``ident`` published on ``date``.

    >>> article_url("2021-04-10", "1712345")
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    """
    return f"{CANONICAL_ROOT}/articles/{date}/{ident}.html"


def canonical_article_url(url: str, *, any_host: bool = False) -> str | None:
    """The canonical URL of the article ``url`` points to, or None if it is not an article URL.

    Only nbd.com.cn hosts count unless ``any_host`` is set (a page fetched from a mirror or a
    local copy, whose path still follows the site's layout).

    >>> canonical_article_url("http://m.nbd.com.cn/articles/2021-04-10/1712345.html?utm_source=x")
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    >>> canonical_article_url("//www.nbd.com.cn/articles/2021-04-10/01712345.html#comments")
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    >>> canonical_article_url("http://127.0.0.1:8765/articles/2021-04-10/1712345.html") is None
    True
    >>> canonical_article_url("http://127.0.0.1/articles/2021-04-10/1712345.html", any_host=True)
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    >>> canonical_article_url("https://lianghua.nbd.com.cn/Uploads/view.php/articles/2021-04-10/1.html")
    """
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    if not any_host and not is_nbd_host(parts.hostname):
        return None
    found = article_path_parts(parts.path)
    if found is None:
        return None
    return article_url(*found)


def article_id(url: str) -> str | None:
    """The numeric id of an article URL of any host.

    >>> article_id("https://www.nbd.com.cn/articles/2021-04-10/1712345.html")
    '1712345'
    """
    found = article_path_parts(url)
    return found[1] if found else None


def join_url(base: str, link: str) -> str | None:
    """``link`` made absolute against ``base``, or None when it is not a URL at all (urljoin
    raises on ``//[x`` and the like: one such link must not cost a page its other links).

    >>> join_url("https://www.nbd.com.cn/columns/3/", "page/2")
    'https://www.nbd.com.cn/columns/3/page/2'
    >>> join_url("https://www.nbd.com.cn/columns/3/", "//[www.nbd.com.cn/x") is None
    True
    """
    try:
        return urljoin(base, link)
    except ValueError:
        return None
