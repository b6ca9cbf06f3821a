"""The ``nbd`` spider's arguments (``scrapy crawl nbd -a name=value``), read and checked.

Every argument is a string on the command line; :func:`parse_arguments` turns them into one
:class:`CrawlArguments` or raises :class:`ArgumentError` with a message that names the argument,
what was wrong and what is expected. Unknown names are errors too (``-a column=3`` must not
quietly crawl the default columns), except names starting with ``_``, which schedulers such as
scrapyd add (``_job``), and feed path parameters: a name that the run's feed URIs use
(``-o out/%(category)s.jsonl -a category=x``) is kept as it is, for Scrapy to fill in.

Every component reads the run's arguments with :func:`run_arguments`; :func:`take_arguments`
replaces them before the crawl starts (a distributed worker joining a job does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Spider

from newsbot.inputs import DEFAULT_MAX_INPUT_BYTES, InputRefused, read_input_file
from newsbot.logsafe import shown
from newsbot.urls import canonical_article_url, column_ref

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

MODES = ("columns", "urls", "query")


class ArgumentError(ValueError):
    """A spider argument (or the setting it defaults to) is wrong; the run must not start."""


@dataclass(frozen=True)
class CrawlArguments:
    """What one run of the ``nbd`` spider was asked to do."""

    mode: str
    """``columns`` (the default), ``urls`` (url / urls_file) or ``query``."""
    columns: tuple[str, ...] | None = None
    """Columns to read, each a column id or a list URL of the site (see
    :func:`newsbot.urls.column_ref`); None means the ``NEWSBOT_COLUMNS`` setting."""
    since: date | None = None
    """First publication date wanted (Beijing date, inclusive)."""
    until: date | None = None
    """Last publication date wanted (Beijing date, inclusive)."""
    urls: tuple[str, ...] = ()
    """Canonical article URLs to fetch, without repeats, in the order given."""
    query: str | None = None
    """Keyword for the site's search API."""
    max_articles: int | None = None
    """Fetch at most this many articles."""
    max_pages: int | None = None
    """Read at most this many list (or search) pages per column (or query)."""
    full: bool = False
    """Ignore what earlier runs delivered (no incremental stop)."""
    recheck_days: int | None = None
    """Fetch again the articles delivered in the last N days (delivery: revisions)."""
    retry_failed: bool = False
    """Fetch only what earlier runs failed (operations: dead-letter replay)."""
    feed_params: Mapping[str, str] = field(default_factory=dict)
    """Arguments used only as feed path parameters (``%(category)s``), as given."""
    given: Mapping[str, object] = field(default_factory=dict)
    """Every argument as given, ``_job`` and feed path parameters included (the run report
    shows them, a distributed crawl's job keeps them); empty for a spider other than ``nbd``."""


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


_COLUMN_FORMS = (
    "ids such as 3,332 or list URLs such as https://www.nbd.com.cn/columns/3/, "
    "https://money.nbd.com.cn/columns/432.html/, https://m.nbd.com.cn/web_app/column/317/"
)


def parse_columns(value: str, *, name: str = "columns") -> tuple[str, ...]:
    """Comma separated columns, each a numeric id or a column list URL of the site, without
    repeats: ids as numbers, URLs in the canonical form of their list.

    >>> parse_columns(" 3, 332,3 ")
    ('3', '332')
    >>> parse_columns("3,//money.nbd.com.cn/columns/432.html/,https://www.nbd.com.cn/columns/3/")
    ('3', 'https://money.nbd.com.cn/columns/432.html/')
    >>> parse_columns("3,yaowen")
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: columns: 'yaowen' is not a column (expected ids ...)
    """
    found: dict[str, str] = {}  # label -> how it is written
    for part in value.split(","):
        part = part.strip()
        ref = column_ref(part) if part else None
        if ref is None:
            raise ArgumentError(
                f"{name}: {part!r} is not a column (expected {_COLUMN_FORMS})"
                if part
                else f"{name}: an empty item in {value!r} (expected {_COLUMN_FORMS})"
            )
        plain = column_ref(ref.id)
        found.setdefault(ref.label, ref.id if plain and plain.url == ref.url else ref.url)
    return tuple(found.values())


def parse_date(value: str, name: str) -> date:
    """A ``YYYY-MM-DD`` date.

    >>> parse_date("2021-04-01", "since")
    datetime.date(2021, 4, 1)
    >>> parse_date("2021-02-30", "until")
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: until: '2021-02-30' is not a date (expected ...)
    """
    m = _DATE.match(value.strip())
    try:
        if not m:
            raise ValueError(value)
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ArgumentError(
            f"{name}: {value!r} is not a date (expected YYYY-MM-DD, a Beijing date)"
        ) from None


def parse_positive(value: str, name: str) -> int:
    """A whole number of at least 1.

    >>> parse_positive("50", "max_articles")
    50
    >>> parse_positive("0", "max_articles")
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: max_articles: '0' is not a whole number of at least 1
    """
    text = value.strip()
    if not text.isdigit() or int(text) < 1:
        raise ArgumentError(f"{name}: {value!r} is not a whole number of at least 1")
    return int(text)


def parse_count(value: str, name: str) -> int:
    """A whole number, 0 or more.

    >>> parse_count("0", "recheck_days")
    0
    """
    text = value.strip()
    if not text.isdigit():
        raise ArgumentError(f"{name}: {value!r} is not a whole number (0 or more)")
    return int(text)


def parse_flag(value: str, name: str) -> bool:
    """``1``/``0``, ``true``/``false``, ``yes``/``no``.

    >>> parse_flag("1", "full"), parse_flag("No", "full")
    (True, False)
    """
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ArgumentError(f"{name}: {value!r} is not a yes/no value (expected 1 or 0)")


class ArgumentSpider(Spider):
    """A spider whose run is what its :class:`CrawlArguments` say (the ``nbd`` spider).

    A base class, not a runtime-checked Protocol: :func:`run_arguments` is asked on every
    queued request of a distributed crawl, and a Protocol check costs about 75 µs on Python 3.11.
    """

    args: CrawlArguments
    """The run's arguments (read them with :func:`run_arguments`)."""

    @classmethod
    def arguments_from(cls, settings: BaseSettings, kwargs: Mapping[str, Any]) -> CrawlArguments:
        """``kwargs`` checked as this spider's arguments with these settings (raises
        :class:`ArgumentError`)."""
        raise NotImplementedError


def run_arguments(spider: object) -> CrawlArguments:
    """The run's arguments, read one way by every component (the state extension, the delivery
    middleware, the replay middleware, the distributed scheduler and worker, the run report):
    the ``nbd`` spider's checked :class:`CrawlArguments`; for any other spider (a test's own,
    ``scrapy shell``) its ``full``, ``recheck_days`` and ``retry_failed`` attributes (``-a``),
    checked by the same parsers.

    >>> run_arguments(object()).full
    False
    """
    if isinstance(spider, ArgumentSpider):
        return spider.args
    given = {
        name: str(value)
        for name in ("full", "recheck_days", "retry_failed")
        if (value := getattr(spider, name, None)) is not None
    }
    recheck = given.get("recheck_days", "")
    return CrawlArguments(
        mode="columns",
        full=parse_flag(given.get("full", ""), "full"),
        recheck_days=parse_count(recheck, "recheck_days") if recheck.strip() else None,
        retry_failed=parse_flag(given.get("retry_failed", ""), "retry_failed"),
    )


def take_arguments(
    spider: Spider, settings: BaseSettings, kwargs: Mapping[str, Any]
) -> CrawlArguments:
    """Make ``kwargs`` the run's arguments in place of those the spider was started with,
    checked as those were: a run that joins work begun elsewhere (a distributed crawl's job)
    does what that work was begun to do. Before the crawl starts only. Raises
    :class:`ArgumentError` when they do not work here, or the spider takes no such arguments.
    """
    if not isinstance(spider, ArgumentSpider):
        raise ArgumentError(f"spider {spider.name} takes no newsbot crawl arguments")
    spider.args = type(spider).arguments_from(settings, kwargs)
    return spider.args


def article_urls(values: list[str], where: Callable[[int], str]) -> list[str]:
    """Canonical URLs of the given article URLs; ``where(i)`` names the i-th for errors.

    >>> article_urls(["http://m.nbd.com.cn/articles/2021-04-01/5.html?s=1"], lambda i: "url")
    ['https://www.nbd.com.cn/articles/2021-04-01/5.html']
    """
    found: list[str] = []
    bad: list[str] = []
    for i, value in enumerate(values):
        canonical = canonical_article_url(value.strip())
        if canonical is None:
            bad.append(f"{where(i)}: {value.strip()!r}")
        else:
            found.append(canonical)
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise ArgumentError(
            "not an article URL of www.nbd.com.cn (expected "
            "https://www.nbd.com.cn/articles/YYYY-MM-DD/ID.html, or its m./http/www.mrjjxw.com "
            "form): " + "; ".join(bad[:3]) + more
        )
    return found


#: A line that has the shape of an absolute URL (a scheme, ``//`` and a host), nothing else.
_URL_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@]*@?[^\s/?#]+\S*")


def _shown_url(line: str) -> str:
    """A URL as an error message may show it: scheme, host and path, never its userinfo, query
    or fragment (they may hold a password or a token).

    >>> _shown_url("https://user:pw@evil.test:8080/a/b?token=1#x")
    "'https://evil.test:8080/a/b'"
    """
    parts = urlsplit(line)
    host = parts.netloc.rpartition("@")[2]
    return repr(shown(f"{parts.scheme}://{host}{parts.path}", limit=150))


def urls_file_lines(path: str, text: str) -> list[str]:
    """Canonical URLs of the lines of a URL list. A bad line is named by its number and, if it
    is a URL of another kind, by that URL; a line that is not a URL (a secret in a file given
    by mistake) is never shown.

    >>> urls_file_lines("u.txt", "# x\\nhttps://www.nbd.com.cn/articles/2021-04-01/5.html\\n")
    ['https://www.nbd.com.cn/articles/2021-04-01/5.html']
    >>> urls_file_lines("u.txt", "API_KEY=s3cr3t\\nhttps://evil.test/articles/2021-04-01/5.html")
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: urls_file u.txt line 1: not a URL (not shown); \
urls_file u.txt line 2: 'https://evil.test/articles/2021-04-01/5.html' is not an article URL ...
    """
    found: list[str] = []
    not_urls: list[int] = []
    others: list[str] = []
    listed = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        listed += 1
        canonical = canonical_article_url(line) if line.isprintable() else None
        if canonical is not None:
            found.append(canonical)
        elif line.isprintable() and _URL_SHAPE.fullmatch(line):
            others.append(f"line {number}: {_shown_url(line)} is not an article URL")
        else:
            not_urls.append(number)
    where = f"urls_file {shown(path, limit=200)}"
    if not listed:
        raise ArgumentError(f"{where}: lists no URLs")
    if not_urls or others:
        problems = []
        if not_urls:
            numbers = ", ".join(str(n) for n in not_urls[:10])
            more = f" (and {len(not_urls) - 10} more)" if len(not_urls) > 10 else ""
            lines = "line" if len(not_urls) == 1 else "lines"
            problems.append(f"{where} {lines} {numbers}{more}: not a URL (not shown)")
        problems += [f"{where} {other}" for other in others[:3]]
        if len(others) > 3:
            problems.append(f"and {len(others) - 3} more URLs")
        raise ArgumentError(
            "; ".join(problems) + " of www.nbd.com.cn (expected "
            "https://www.nbd.com.cn/articles/YYYY-MM-DD/ID.html, or its m./http form, one a line)"
        )
    return found


def read_urls_file(path: str, max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> list[str]:
    """Canonical URLs listed in a file: one per line, blank lines and ``#`` comments skipped.
    Only a regular file of at most ``max_bytes`` is read (a FIFO would hang the run, a device
    such as /dev/zero fill the memory)."""
    try:
        data = read_input_file(Path(path).expanduser(), max_bytes)
    except InputRefused as e:
        raise ArgumentError(f"urls_file: {shown(path, limit=200)!r} {e.detail}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArgumentError(f"urls_file: {shown(path, limit=200)!r} is not UTF-8 text") from None
    return urls_file_lines(path, text)


#: Every argument the spider takes, and what it is for (the README's table comes from here).
ARGUMENTS: Mapping[str, str] = {
    "columns": "comma separated column ids or list URLs to read (default: NEWSBOT_COLUMNS)",
    "since": "first publication date wanted, YYYY-MM-DD (Beijing), inclusive",
    "until": "last publication date wanted, YYYY-MM-DD (Beijing), inclusive",
    "url": "comma separated article URLs to fetch (desktop, mobile, www.mrjjxw.com, http(s))",
    "urls_file": "file of article URLs to fetch, one per line (# comments allowed)",
    "query": "keyword: find articles with the site's search API",
    "max_articles": "fetch at most this many articles",
    "max_pages": "read at most this many list or search pages per column or query (0: no limit)",
    "full": "1: ignore what earlier runs delivered (no incremental stop)",
    "recheck_days": "fetch again the articles delivered in the last N days (revisions)",
    "retry_failed": "1: fetch again only what earlier runs failed",
}

_FEED_PARAM = re.compile(r"%\((\w+)\)")
#: Parameters Scrapy fills in itself.
_SCRAPY_FEED_PARAMS = frozenset({"time", "batch_time", "batch_id"})


def feed_param_names(feed_uris: Iterable[str]) -> frozenset[str]:
    """Names used as ``%(name)s`` in feed URIs (the ones Scrapy fills in itself excluded).

    >>> sorted(feed_param_names(["out/%(category)s-%(time)s.jsonl", "%(name)s.csv"]))
    ['category', 'name']
    """
    names = {m for uri in feed_uris for m in _FEED_PARAM.findall(str(uri))}
    return frozenset(names - _SCRAPY_FEED_PARAMS)


_BATCH_PARAM = re.compile(r"%\(batch_time\)s|%\(batch_id\)")


def unbatchable_feeds(feeds: Mapping[str, Any], default_batch: int) -> str | None:
    """What is wrong when a feed is split into batches (``FEED_EXPORT_BATCH_ITEM_COUNT`` or the
    feed's ``batch_item_count``) but its path has no ``%(batch_id)d`` or ``%(batch_time)s``:
    Scrapy would then drop every feed, and the run crawl everything for nothing.

    >>> unbatchable_feeds({"out/a.jsonl": {}, "out/%(batch_id)d.csv": {}}, 3)
    'FEED_EXPORT_BATCH_ITEM_COUNT is 3, but the feed out/a.jsonl has no %(batch_id)d or ...
    >>> unbatchable_feeds({"out/a.jsonl": {"batch_item_count": 0}}, 3) is None
    True
    """
    for uri, options in feeds.items():
        own = (options or {}).get("batch_item_count")
        count = int(own) if own is not None else default_batch
        if count > 0 and not _BATCH_PARAM.search(str(uri)):
            where = "its batch_item_count" if own is not None else "FEED_EXPORT_BATCH_ITEM_COUNT"
            return (
                f"{where} is {count}, but the feed {shown(uri, limit=200)} has no %(batch_id)d or "
                "%(batch_time)s in its path: each batch needs a file of its own (Scrapy would "
                "drop the feed, and nothing would be delivered). Add %(batch_id)d to the path, "
                "or leave batches off"
            )
    return None


def parse_arguments(
    kwargs: Mapping[str, object],
    *,
    feed_params: Iterable[str] = (),
    reserved: Collection[str] = (),
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    read_files: bool = True,
) -> CrawlArguments:
    """Check the spider's arguments and decide the mode. ``feed_params``: names the run's feed
    URIs use, accepted as they are (see :func:`feed_param_names`), unless ``reserved`` (the
    spider's own attributes, which Scrapy would fill the feed path from: such an argument would
    replace one). A ``urls_file`` is read (at most ``max_input_bytes``) unless ``read_files``
    is false.

    >>> parse_arguments({}) == CrawlArguments(mode="columns")
    True
    >>> parse_arguments({"query": "碳中和", "since": "2021-04-01", "_job": "abc"}).mode
    'query'
    >>> parse_arguments({"colums": "3"})
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: unknown argument 'colums' (known: columns, since, ...)
    >>> parse_arguments({"category": "a/b"}, feed_params={"category"}).feed_params
    {'category': 'a/b'}
    >>> parse_arguments({"args": "x"}, feed_params={"args"}, reserved={"args", "start"})
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: args: the name of one of the spider's own ...
    >>> parse_arguments({"url": "https://www.nbd.com.cn/articles/2021-04-01/1.html", "query": "x"})
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: query cannot be combined with url/urls_file: ...
    >>> parse_arguments({"since": "2021-05-01", "until": "2021-04-01"})
    Traceback (most recent call last):
    ...
    newsbot.spiders.arguments.ArgumentError: since (2021-05-01) is after until (2021-04-01)
    """
    args: dict[str, str] = {}
    extra: dict[str, str] = {}
    feed_params = frozenset(feed_params)
    for name, value in kwargs.items():
        if name.startswith("_"):
            continue
        if not isinstance(value, str):
            raise ArgumentError(f"{name}: expected a string, got {type(value).__name__}")
        if name in ARGUMENTS:
            args[name] = value
        elif name in feed_params and name in reserved:
            raise ArgumentError(
                f"{name}: the name of one of the spider's own attributes, so it cannot be a "
                f"feed path parameter (use another name: -a {name}_=... and %({name}_)s)"
            )
        elif name in feed_params:
            extra[name] = value
        else:
            raise ArgumentError(
                f"unknown argument {name!r} (known: {', '.join(ARGUMENTS)}; "
                f"or use it in the feed path, as %({name})s)"
            )

    urls: list[str] = []
    if "url" in args:
        given = [u for u in args["url"].split(",") if u.strip()]
        if not given:
            raise ArgumentError("url: empty (expected one or more comma separated article URLs)")
        urls += article_urls(given, lambda i: f"url #{i + 1}")
    if "urls_file" in args and read_files:
        urls += read_urls_file(args["urls_file"], max_input_bytes)

    query = None
    if "query" in args:
        query = " ".join(args["query"].split())
        if not query:
            raise ArgumentError("query: empty (expected a keyword such as 碳中和)")

    mode = "urls" if urls or "urls_file" in args else "query" if query else "columns"
    if mode == "urls" and query:
        raise ArgumentError(
            "query cannot be combined with url/urls_file: choose one mode "
            "(columns, url/urls_file or query)"
        )
    if mode != "columns" and "columns" in args:
        raise ArgumentError(
            f"columns cannot be combined with {'query' if query else 'url/urls_file'}: "
            "choose one mode (columns, url/urls_file or query)"
        )
    if mode == "urls":
        for name in ("since", "until", "max_pages"):
            if name in args:
                raise ArgumentError(
                    f"{name} applies to columns and query, not to url/urls_file "
                    "(the URLs given are fetched as they are)"
                )

    since = parse_date(args["since"], "since") if "since" in args else None
    until = parse_date(args["until"], "until") if "until" in args else None
    if since and until and since > until:
        raise ArgumentError(f"since ({since}) is after until ({until})")

    return CrawlArguments(
        mode=mode,
        columns=parse_columns(args["columns"]) if "columns" in args else None,
        since=since,
        until=until,
        urls=tuple(dict.fromkeys(urls)),
        query=query,
        max_articles=(
            parse_positive(args["max_articles"], "max_articles") if "max_articles" in args else None
        ),
        # 0: no limit, as for NEWSBOT_MAX_LIST_PAGES (whose default limit it lifts).
        max_pages=parse_count(args["max_pages"], "max_pages") if "max_pages" in args else None,
        full=parse_flag(args["full"], "full") if "full" in args else False,
        recheck_days=(
            parse_count(args["recheck_days"], "recheck_days") if "recheck_days" in args else None
        ),
        retry_failed=(
            parse_flag(args["retry_failed"], "retry_failed") if "retry_failed" in args else False
        ),
        feed_params=extra,
        given=dict(kwargs),
    )
