"""Untrusted text in messages, shown so that it cannot pass for something else.

File names, links, titles and exception texts come from outside (a page, a folder, a command
line). Printed raw, a line break in one starts a forged line (``newsbot: …``, ``[newsbot] INFO:
Run OK``) and an ANSI escape rewrites the terminal. :func:`shown` escapes them; the crawl's log
gets the same for every argument of every newsbot message from :class:`EscapeLogArguments`, a
filter the :class:`SafeLog` extension puts on the log handlers.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.logformatter import LogFormatter as _ScrapyLogFormatter

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.logformatter import LogFormatterResult
    from twisted.python.failure import Failure
    from typing_extensions import Self

#: Escapes that read better than their code point.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _harmless(ch: str) -> bool:
    # Printable, or a space of another width (U+3000 and U+00A0 are common in Chinese text);
    # line and paragraph separators, controls and format characters (bidi, zero width) are not.
    return ch.isprintable() or unicodedata.category(ch) == "Zs"


def shown(value: object, limit: int = 500) -> str:
    """``value`` as one line of plain text: every control, format or line-separating character
    escaped, and at most ``limit`` characters of the original (then ``…``).

    >>> shown("a.html\\n2026-01-01 [newsbot] INFO: Run OK\\x1b[31m")
    'a.html\\\\n2026-01-01 [newsbot] INFO: Run OK\\\\x1b[31m'
    >>> shown("要闻\\u3000第一\\u202e页"), shown(42), shown("x" * 8, limit=3)
    ('要闻\\u3000第一\\\\u202e页', '42', 'xxx…')
    """
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(ch if _harmless(ch) else _escape(ch) for ch in text)
    return text + "…" if cut else text


def shown_lines(lines: Iterable[object]) -> Block:
    """Several lines of text made into one :class:`Block`, each line :func:`shown`."""
    return Block("\n".join(shown(line, limit=4000) for line in lines))


class Block(str):
    """Text whose line breaks are its own (a report made of :func:`shown` lines): the log
    filter leaves it as it is."""


def _safe_argument(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, Block)):
        return value
    text = value if isinstance(value, str) else str(value)
    return value if text.isprintable() else shown(text, limit=len(text))


class EscapeLogArguments(logging.Filter):
    """Escapes the arguments of the records of some loggers (``newsbot`` and its children,
    the spiders' loggers): the format string is the program's, the arguments are data."""

    def __init__(self, prefixes: Iterable[str] = ("newsbot",)) -> None:
        super().__init__()
        self.prefixes = set(prefixes)

    def applies(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self.prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.args or not self.applies(record.name):
            return True
        if isinstance(record.args, Mapping):
            record.args = {k: _safe_argument(v) for k, v in record.args.items()}
        else:
            record.args = tuple(_safe_argument(v) for v in record.args)
        return True


class SafeLog:
    """Puts :class:`EscapeLogArguments` on every handler of the root logger (Scrapy's, a
    ``LOG_FILE``'s), once per handler, for ``newsbot`` and the running spider's logger.

    Scrapy replaces its root handler after the extensions are built (to apply the spider's
    settings), so the filter goes on again when the spider opens, before anything is fetched.
    """

    def __init__(self, prefixes: Iterable[str]) -> None:
        self.prefixes = set(prefixes)
        self.install()

    def install(self) -> None:
        for handler in logging.getLogger().handlers:
            found = [f for f in handler.filters if isinstance(f, EscapeLogArguments)]
            if found:
                found[0].prefixes |= self.prefixes
            else:
                handler.addFilter(EscapeLogArguments(self.prefixes))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        names = {"newsbot"}
        name = crawler.spidercls.name
        if isinstance(name, str) and name:
            names.add(name)
        extension = cls(names)
        crawler.signals.connect(extension.install, signal=signals.spider_opened)
        return extension


class LogFormatter(_ScrapyLogFormatter):
    """``LOG_FORMATTER``: Scrapy's messages, but the two it has for every response ("Crawled
    (200) …") and every record ("Scraped from …"), both DEBUG, are not made at all when
    ``LOG_LEVEL`` is above DEBUG. Scrapy's root logger lets every level through to its handler,
    which filters, so each was built as a log record (the caller's frame looked up, the time
    taken) and thrown away: 1–2 % of a crawl's CPU. With ``-s LOG_LEVEL=DEBUG`` they are there.

    >>> LogFormatter.for_level("INFO").debug, LogFormatter.for_level(10).debug
    (False, True)
    """

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    @classmethod
    def for_level(cls, level: str | int | None) -> Self:
        if isinstance(level, str):
            level = logging.getLevelNamesMapping().get(level.upper(), logging.DEBUG)
        return cls(debug=level is None or level <= logging.DEBUG)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls.for_level(crawler.settings.get("LOG_LEVEL"))

    # Scrapy's own rule (its docs): a method that returns None omits the message.
    def crawled(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider
    ) -> LogFormatterResult | None:
        return super().crawled(request, response, spider) if self.debug else None

    def scraped(  # type: ignore[override]
        self, item: Any, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult | None:
        return super().scraped(item, response, spider) if self.debug else None
