"""Article URL forms of 每经网 and their canonical form.

Every article has one key, its numeric id, and one canonical URL,
``https://www.nbd.com.cn/articles/YYYY-MM-DD/ID.html``, whatever form a link or a mirror
gives: http or https, the desktop, mobile or a channel host, the second article host
``www.mrjjxw.com`` (2025–2026, NBD.md), a query string, a fragment.

Column lists have several forms too (:func:`column_ref`): ``/columns/<id>/``,
``/columns/<id>.html/``, channel hosts (``money.nbd.com.cn/columns/432.html/``) and the mobile
site (``m.nbd.com.cn/web_app/column/<id>/``, ``m.nbd.com.cn/columns/<id>/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

CANONICAL_HOST = "www.nbd.com.cn"
CANONICAL_ROOT = f"https://{CANONICAL_HOST}"

#: Hosts under nbd.com.cn that serve uploaded files, not articles; links to them are spam.
SPAM_HOSTS = frozenset({"lianghua.nbd.com.cn", "activity.nbd.com.cn"})
#: The site's second article host (2025–2026): the same paths and ids as www.nbd.com.cn.
#: Around 2019 the name belonged to another site (每日经济网, its own template): only the
#: site's article path layout makes one of its URLs an article (see :func:`canonical_article_url`),
#: and the page object reads only the site's own markup, so such a page is ``not_article``.
SECOND_HOSTS = frozenset({"www.mrjjxw.com", "mrjjxw.com"})

# ASCII digits only: Python's \d also matches other scripts' digits (٠١٢), in no URL of the site.
_ARTICLE_PATH = re.compile(r"/articles/(\d{4})-(\d{2})-(\d{2})/(\d{1,12})\.html?$", re.ASCII)


# A crawl asks about each article's URL a dozen times (list, request, record, state, feed).
@lru_cache(maxsize=1024)
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


def is_site_host(host: str | None) -> bool:
    """True for every host of the site: nbd.com.cn (:func:`is_nbd_host`) and the second
    article host www.mrjjxw.com.

    >>> is_site_host("www.mrjjxw.com"), is_site_host("MRJJXW.COM."), is_site_host("m.nbd.com.cn")
    (True, True, True)
    >>> is_site_host("mrjjxw.com.evil.test"), is_site_host("activity.nbd.com.cn")
    (False, False)
    """
    if not host:
        return False
    return is_nbd_host(host) or host.lower().rstrip(".") in SECOND_HOSTS


def article_url(date: str, ident: str) -> str:
    """The canonical URL of the article ``ident`` published on ``date``.

    >>> article_url("2021-04-10", "1712345")
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    """
    return f"{CANONICAL_ROOT}/articles/{date}/{ident}.html"


def canonical_article_url(url: str, *, any_host: bool = False) -> str | None:
    """The canonical URL of the article ``url`` points to, or None if it is not an article URL.

    Only the site's hosts (nbd.com.cn, www.mrjjxw.com) count unless ``any_host`` is set (a page
    fetched from a mirror or a local copy, whose path still follows the site's layout).

    >>> canonical_article_url("http://m.nbd.com.cn/articles/2021-04-10/1712345.html?utm_source=x")
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    >>> canonical_article_url("//www.nbd.com.cn/articles/2021-04-10/01712345.html#comments")
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    >>> canonical_article_url("http://127.0.0.1:8765/articles/2021-04-10/1712345.html") is None
    True
    >>> canonical_article_url("http://127.0.0.1/articles/2021-04-10/1712345.html", any_host=True)
    'https://www.nbd.com.cn/articles/2021-04-10/1712345.html'
    >>> canonical_article_url("https://lianghua.nbd.com.cn/Uploads/view.php/articles/2021-04-10/1.html")
    >>> canonical_article_url("https://www.mrjjxw.com/articles/2026-07-21/4490136.html")
    'https://www.nbd.com.cn/articles/2026-07-21/4490136.html'
    """
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    if not any_host and not is_site_host(parts.hostname):
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


# --- column lists -------------------------------------------------------------------------------

_COLUMN_PATHS = (
    # /columns/<id>/, /columns/<id>, /columns/<id>/page/<n>[/] (desktop, channel and mobile hosts)
    re.compile(r"^/columns/(\d{1,9})(?:/(?:page/\d+/?)?)?$", re.ASCII),
    # /columns/<id>.html/ and /columns/<id>.html (2026 links, www and channel hosts)
    re.compile(r"^/columns/(\d{1,9})\.html/?$", re.ASCII),
    # the mobile web app: m.nbd.com.cn/web_app/column/<id>/
    re.compile(r"^/web_app/column/(\d{1,9})/?$", re.ASCII),
)


@dataclass(frozen=True)
class ColumnRef:
    """One column list a run reads: named by its id or by one of its list URLs."""

    label: str
    """What records, stats and reports call the column: its id (``"432"``) for lists on
    www.nbd.com.cn, ``<first host label>-<id>`` (``"money-432"``, ``"m-317"``) for lists on
    other hosts of the site, whose lists may differ from www's column of the same id."""
    id: str
    """The numeric column id."""
    url: str
    """The list's first page on the real site: ``https://money.nbd.com.cn/columns/432.html/``."""
    guess: str | None
    """Path of page ``n`` with ``{n}`` for ``n``, for lists known to page that way
    (``/columns/3/page/{n}``); None for forms that never paged (a whole-column page)."""

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or CANONICAL_HOST

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def owns(self, path: str) -> bool:
        """Whether a list path (a next-page link) is a page of this column.

        >>> ref = column_ref("https://m.nbd.com.cn/columns/317/")
        >>> ref.owns("/columns/317/page/2/"), ref.owns("/columns/3170/page/2"), ref.owns("/")
        (True, False, False)
        """
        path = urlsplit(path).path or "/"
        return any((m := p.match(path)) is not None and m[1] == self.id for p in _COLUMN_PATHS)


def column_ref(value: str) -> ColumnRef | None:
    """The column a ``columns=`` item names (an id, or a list URL of the site), or None.

    >>> ref = column_ref(" 003 ")
    >>> ref.label, ref.url, ref.guess
    ('3', 'https://www.nbd.com.cn/columns/3/', '/columns/3/page/{n}')
    >>> ref = column_ref("https://money.nbd.com.cn/columns/432.html/")
    >>> ref.label, ref.id, ref.url, ref.guess
    ('money-432', '432', 'https://money.nbd.com.cn/columns/432.html/', None)
    >>> column_ref("https://www.nbd.com.cn/columns/2093.html").label
    '2093'
    >>> column_ref("http://m.nbd.com.cn/web_app/column/317/").url
    'https://m.nbd.com.cn/web_app/column/317/'
    >>> column_ref("https://m.nbd.com.cn/columns/3/").guess
    '/columns/3/page/{n}/'
    >>> [column_ref(v) for v in ("yaowen", "https://evil.test/columns/3/", "https://www.nbd.com.cn/")]
    [None, None, None]
    """
    value = value.strip()
    if re.fullmatch(r"\d{1,9}", value, re.ASCII):
        ident = str(int(value))
        url = f"{CANONICAL_ROOT}/columns/{ident}/"
        return ColumnRef(ident, ident, url, f"/columns/{ident}/page/{{n}}")
    if value.startswith("//"):
        value = "https:" + value
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not is_nbd_host(host):
        return None
    path = parts.path or "/"
    n, m = next(
        ((n, m) for n, p in enumerate(_COLUMN_PATHS) if (m := p.match(path)) is not None),
        (-1, None),
    )
    if m is None:
        return None
    ident = str(int(m[1]))
    if n == 0:  # a later page names its column's first page
        path = f"/columns/{ident}/"
    on_www = host in (CANONICAL_HOST, "nbd.com.cn")
    label = ident if on_www else f"{host.split('.')[0]}-{ident}"
    guess = None
    if n == 0:
        # Desktop lists were paged /columns/<id>/page/<n>; the mobile site adds a slash.
        guess = f"/columns/{ident}/page/{{n}}" + ("/" if host == "m.nbd.com.cn" else "")
    return ColumnRef(label, ident, f"https://{CANONICAL_HOST if on_www else host}{path}", guess)
