"""``-o -``: records on standard output, and a reader that goes away counts as a failed feed.

Scrapy's ``StdoutFeedStorage`` ignores write errors: piped into ``head``, a run whose reader has
exited reports every record as delivered, though the reader got only the first ones and the
rest (and whatever sat in the pipe's buffer) went nowhere. Here the first write error (a broken
pipe) fails the feed: none of its records count as exported (which of them the reader took
cannot be known, so they are all delivered again by the next run rather than lost), and the run
fails with ``storage_failed`` and stops fetching.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from newsbot.logsafe import shown
from newsbot.outcome import fail_and_stop

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from typing_extensions import Self


class GuardedStream(io.RawIOBase):
    """Writes through to ``stream`` (flushed each time, so an error shows at once), and after
    the first error drops everything quietly (one reason, not a traceback per record)."""

    def __init__(self, stream: IO[bytes], on_error: Any) -> None:
        super().__init__()
        self.stream = stream
        self.error: OSError | None = None
        self.records = 0
        self._on_error = on_error

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(data)
        if self.error is not None:
            return size
        try:
            self.stream.write(data)
            self.stream.flush()
        except OSError as exc:
            self.error = exc
            # Nothing more can reach the reader; keep Python's exit from failing on the
            # buffered rest ("Exception ignored ... BrokenPipeError").
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stream.fileno())
                os.close(devnull)
            self._on_error(exc)
            return size
        self.records += bytes(data).count(b"\n")
        return size

    def close(self) -> None:
        # Standard output stays open for whatever else writes to it.
        super().close()


class StdoutFeedStorage:
    """Feed storage for ``-o -`` (Scrapy's ``stdout:`` scheme); see module docs."""

    def __init__(
        self,
        uri: str,
        *,
        feed_options: dict[str, Any] | None = None,
        crawler: Crawler | None = None,
        stream: IO[bytes] | None = None,
    ) -> None:
        self.crawler = crawler
        self.stream = stream if stream is not None else sys.stdout.buffer
        self.file: GuardedStream | None = None

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> Self:
        return cls(uri, feed_options=feed_options, crawler=crawler)

    def open(self, spider: Spider) -> IO[bytes]:
        self.file = GuardedStream(self.stream, self._failed)
        return self.file  # type: ignore[return-value]

    def _failed(self, exc: OSError) -> None:
        if self.crawler is None or self.file is None:
            return
        fail_and_stop(
            self.crawler,
            "storage_failed",
            f"writing to standard output failed after {self.file.records} records were written "
            f"({shown(exc.strerror or exc)}: its reader went away?); none of this feed's records "
            "count as delivered, so the next run writes them again",
        )

    def store(self, file: IO[bytes]) -> None:
        guarded = file if isinstance(file, GuardedStream) else self.file
        if guarded is not None and guarded.error is not None:
            # Scrapy counts the feed failed: its records are not exported (state extension).
            raise OSError(f"standard output failed: {guarded.error}") from None
