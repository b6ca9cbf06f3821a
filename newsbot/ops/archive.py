"""The raw archive: every fetched article page kept in a WARC file, and read back.

With ``NEWSBOT_ARCHIVE = True`` each run writes ``<NEWSBOT_STATE_DIR>/archive/<run id>.warc.gz``
(or under ``NEWSBOT_ARCHIVE_DIR``): a ``warcinfo`` record, then for every response to an
article request (any status: the 404s and challenge pages too) a ``request`` and a
``response`` record, written with warcio, one gzip member per record and flushed after each, so
a crash loses at most the page being written. ``scrapy reparse`` (:func:`iter_captures`)
rebuilds records from these files with the current extractor, without fetching anything.

What is stored is the response as Scrapy handed it over: its body already decompressed, so the
stored headers drop ``Content-Encoding`` and ``Transfer-Encoding`` and carry the body's real
``Content-Length``. Besides the standard headers, each response record names the article:
``Newsbot-Article-Id``, ``Newsbot-Canonical-URL`` and ``Newsbot-Column`` (when it was listed on a
column). ``WARC-Target-URI`` is the URL fetched (the configured site root's).

A write error (a full disk) fails the run (``archive_failed``); the crawl goes on, delivering.
"""

from __future__ import annotations

import datetime as dt
import http
import io
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbot import EXTRACTOR_VERSION, __version__
from newsbot.ops.run import run_context
from newsbot.outcome import fail_run
from newsbot.requestmeta import ArticleMeta, article_meta

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

_DROPPED_HEADERS = {b"content-encoding", b"transfer-encoding", b"content-length"}


def archive_dir(settings: Any) -> Path:
    """Where the WARC files are: ``NEWSBOT_ARCHIVE_DIR``, else ``<NEWSBOT_STATE_DIR>/archive``."""
    explicit = settings.get("NEWSBOT_ARCHIVE_DIR")
    if explicit:
        return Path(explicit)
    return Path(settings.get("NEWSBOT_STATE_DIR") or "state") / "archive"


def warc_date(when: dt.datetime) -> str:
    """A WARC 1.1 date (UTC, microseconds).

    >>> warc_date(dt.datetime(2026, 11, 24, 8, 0, 5, 120, tzinfo=dt.timezone.utc))
    '2026-11-24T08:00:05.000120Z'
    """
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_warc_date(text: str) -> dt.datetime:
    """
    >>> parse_warc_date("2026-11-24T08:00:05.000120Z").isoformat()
    '2026-11-24T08:00:05.000120+00:00'
    >>> parse_warc_date("2026-11-24T08:00:05Z").isoformat()
    '2026-11-24T08:00:05+00:00'
    """
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class WarcArchive:
    """Extension: see the module docs."""

    def __init__(self, crawler: Crawler, directory: Path) -> None:
        self.crawler = crawler
        self.directory = directory
        self.path: Path | None = None
        self._fh: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._broken = False
        self.records = 0
        self.info: dict[str, Any] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchive:
        if not crawler.settings.getbool("NEWSBOT_ARCHIVE", False):
            # Off by default: a reason would be logged as a WARNING on every clean run.
            raise NotConfigured
        ext = cls(crawler, archive_dir(crawler.settings))
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def _open(self) -> WARCWriter:
        if self._writer is not None:
            return self._writer
        context = run_context(self.crawler)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{context.run_id}.warc.gz"
        self._fh = open(self.path, "xb")  # noqa: SIM115 (open for the whole crawl)
        self._writer = WARCWriter(self._fh, gzip=True, warc_version="1.1")
        info = {
            "software": f"newsbot/{__version__} (extractor {EXTRACTOR_VERSION})",
            "format": "WARC File Format 1.1",
            "run-id": context.run_id,
            "site-root": self.crawler.settings.get("NEWSBOT_SITE_ROOT"),
        }
        self._writer.write_record(self._writer.create_warcinfo_record(self.path.name, info))
        #: For the run report: the archive file and how many pages it holds (None until the
        #: archive is open).
        self.info = {"path": str(self.path), "records": 0}
        return self._writer

    def response_received(self, response: Response, request: Request) -> None:
        meta = article_meta(request)
        if self._broken or meta is None:
            return
        try:
            self._write(response, request, meta)
        except OSError as exc:
            self._broken = True
            fail_run(
                self.crawler,
                "archive_failed",
                f"writing the archive {self.path or self.directory} failed ({exc}); "
                "the crawl goes on without it",
            )

    def _write(self, response: Response, request: Request, meta: ArticleMeta) -> None:
        writer = self._open()
        when = warc_date(dt.datetime.now(dt.timezone.utc))
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, values in response.headers.items()
            if k.lower() not in _DROPPED_HEADERS
            for v in values
        ]
        headers.append(("Content-Length", str(len(response.body))))
        http_headers = StatusAndHeaders(
            f"{response.status} {_reason(response.status)}", headers, protocol="HTTP/1.1"
        )
        extra = {
            "WARC-Date": when,
            "Newsbot-Article-Id": str(meta["article_id"]),
            "Newsbot-Canonical-URL": str(meta.get("url") or ""),
        }
        if meta.get("column"):
            extra["Newsbot-Column"] = str(meta["column"])
        record = writer.create_warc_record(
            response.url,
            "response",
            payload=io.BytesIO(response.body),
            length=len(response.body),
            http_headers=http_headers,
            warc_headers_dict=extra,
        )
        path = request.url.split("/", 3)[3] if request.url.count("/") >= 3 else ""
        sent = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, values in request.headers.items()
            for v in values
        ]
        request_record = writer.create_warc_record(
            request.url,
            "request",
            http_headers=StatusAndHeaders(
                f"{request.method} /{path} HTTP/1.1", sent, is_http_request=True
            ),
            warc_headers_dict={
                "WARC-Date": when,
                "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        writer.write_record(request_record)
        writer.write_record(record)
        assert self._fh is not None
        self._fh.flush()
        self.records += 1
        if self.info is not None:
            self.info["records"] = self.records
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("newsbot/archive/pages")

    def spider_closed(self) -> None:
        if self._fh is None:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            if not self._broken:
                fail_run(self.crawler, "archive_failed", f"closing {self.path} failed ({exc})")
        finally:
            self._fh.close()
            self._fh = None
        logger.info("Archived %d article pages in %s", self.records, self.path)


# -- reading ----------------------------------------------------------------------------------


@dataclass
class Capture:
    """One archived article response."""

    url: str
    """The URL fetched (``WARC-Target-URI``)."""
    article_id: str | None
    canonical_url: str | None
    column: str | None
    fetched_at: dt.datetime
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    where: str
    """``file#offset`` of the record, for messages."""


def warc_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The WARC files named, and those inside the folders named, oldest name first (names
    that do not exist are left out)."""
    out: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out += sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith((".warc", ".warc.gz"))
            )
        elif path.exists():
            out.append(path)
    return out


def iter_captures(path: Path) -> Iterator[Capture]:
    """The response records of one WARC file, in file order."""
    with open(path, "rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            if record.rec_type != "response" or record.http_headers is None:
                continue
            rec = record.rec_headers
            status = int(record.http_headers.get_statuscode() or 0)
            body = record.content_stream().read()
            yield Capture(
                url=rec.get_header("WARC-Target-URI"),
                article_id=rec.get_header("Newsbot-Article-Id"),
                canonical_url=rec.get_header("Newsbot-Canonical-URL"),
                column=rec.get_header("Newsbot-Column"),
                fetched_at=parse_warc_date(rec.get_header("WARC-Date")),
                status=status,
                headers=list(record.http_headers.headers),
                body=body,
                where=f"{path}#{records.get_record_offset()}",
            )
