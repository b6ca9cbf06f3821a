"""Local feed storage that publishes whole files or nothing.

:class:`AtomicFileFeedStorage` replaces Scrapy's ``FileFeedStorage`` for ``file:`` URIs and
plain paths. Everything Scrapy documents about feeds keeps working (``-o``/``-O``, ``FEEDS``,
``%(name)s``/``%(time)s``, batches, post-processing), but:

- records go to a temporary file beside the target, which is flushed, fsync'ed and renamed over
  the target only when the feed closes without error, then the directory is fsync'ed: a reader
  sees the old file or the new one, never half of one;
- a write error (a full disk) or a crash leaves the earlier file as it was, and the run fails;
- an empty run never replaces an existing file, nor does an interrupted one in overwrite
  (``-O``) mode; ``-o`` (append) copies the existing file and the new records into one new file
  under a lock, so two appending runs cannot lose each other's records;
- a symbolic link at the target is refused, never followed;
- publishing is recorded in the state store before and after the rename (see
  :mod:`newsbot.state.store`), so a record counts as exported once the file holding it is.

Formats whose exporter sets ``writes_directory = True`` (the Hexo exporter) get a staging
directory instead of a file, and each staged file is published the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy.utils.misc import load_object
from w3lib.url import file_uri_to_path

from newsbot.idset import DeliveryLog
from newsbot.outcome import fail_and_stop, fail_run, running_engine
from newsbot.state.files import fsync_dir, temp_beside
from newsbot.state.model import Delivery, PublishEntry
from newsbot.state.service import delivery_service

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

    from newsbot.state.service import DeliveryService

logger = logging.getLogger(__name__)

#: Close reasons after which an overwrite feed may replace the previous file: the run did all
#: it was asked to do (``closespider_*`` are limits the user set).
COMPLETE_REASONS = ("finished",)


#: Formats whose files stay valid when one is added after another (``-o`` appends): JSON
#: lines, and the pickle and marshal streams (read back one object after the other).
APPENDABLE_FORMATS = ("jsonlines", "jsonl", "pickle", "marshal")


class FeedTargetError(OSError):
    """The feed target cannot be written safely (symlink, not a regular file, torn file)."""


class FeedTracker:
    """The records written to one feed file, in order."""

    def __init__(self) -> None:
        self.deliveries = DeliveryLog()
        self.error: BaseException | None = None
        #: Set by newsbot's exporters: the record count below is then the whole truth.
        self.tracked = False
        #: Records written that carry no article id (not newsbot articles).
        self.untracked = 0

    def is_empty(self) -> bool:
        return self.tracked and not self.deliveries and not self.untracked

    def add(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)


def tracker_of(file: Any) -> FeedTracker | None:
    """The tracker of a feed file, looking through post-processing wrappers."""
    seen = 0
    while file is not None and seen < 10:
        tracker = getattr(file, "newsbot_tracker", None)
        if isinstance(tracker, FeedTracker):
            return tracker
        file = getattr(file, "file", None)
        seen += 1
    return None


class AtomicFile(io.BufferedWriter):
    """A temporary feed file that remembers its first write error.

    After that error the file is lost (the storage will not publish it), so further writes are
    dropped quietly instead of failing once per record; ``on_error`` hears of the first one.
    """

    def __init__(
        self,
        raw: io.FileIO,
        temp: str,
        target: str,
        on_error: Callable[[OSError], None] | None = None,
    ) -> None:
        super().__init__(raw)
        self.temp = temp
        self.target = target
        self.newsbot_tracker = FeedTracker()
        self._on_error = on_error

    def _failed(self, exc: OSError) -> None:
        if self.newsbot_tracker.error is None:
            self.newsbot_tracker.error = exc
            if self._on_error is not None:
                self._on_error(exc)

    def write(self, data: Any) -> int:
        if self.newsbot_tracker.error is not None:
            return len(data)
        try:
            return super().write(data)
        except OSError as exc:
            self._failed(exc)
            raise

    def flush(self) -> None:
        if self.newsbot_tracker.error is not None:
            return
        try:
            super().flush()
        except OSError as exc:
            self._failed(exc)
            raise


class StagingDir:
    """Where a directory format stages its files before they are published one by one.

    It stands in for the feed file; exporters that write directories call :meth:`add`.
    """

    def __init__(self, path: str, target: str) -> None:
        self.path = path
        self.target = target
        self.newsbot_tracker = FeedTracker()
        self.files: list[tuple[str, str, Collection[Delivery]]] = []  # (staged, relative, held)
        self.closed = False

    def target_path(self, relative: str) -> Path:
        return Path(self.target) / relative

    def add(
        self, relative: str, data: bytes, delivery: Delivery | Collection[Delivery] | None
    ) -> None:
        """Stage ``data`` to be published at ``target/relative``, holding the record(s)
        ``delivery`` (a feed file of many records, such as an Atom feed, holds several)."""
        deliveries: Collection[Delivery] = (
            [delivery] if isinstance(delivery, Delivery) else delivery or []
        )
        rel = Path(relative)
        if rel.is_absolute() or ".." in rel.parts:
            raise FeedTargetError(f"staged path escapes the feed directory: {relative!r}")
        staged = os.path.join(self.path, f"{len(self.files):08d}.part")
        try:
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self.newsbot_tracker.error = self.newsbot_tracker.error or exc
            raise
        self.files.append((staged, relative, deliveries))
        for each in deliveries:
            self.newsbot_tracker.add(each)

    # the feed slot treats this object as a file
    def write(self, data: bytes) -> int:
        raise FeedTargetError("a directory feed format wrote bytes instead of staging files")

    def close(self) -> None:
        self.closed = True


def unwritable(directory: Path) -> str | None:
    """Why files cannot be created in ``directory`` (or in the nearest existing folder above
    it, where it would be created), or None. (Tested on a read-only mount in
    tests/test_reliability_process.py.)"""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return f"{existing} is on a read-only filesystem"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user"
    return None


def sanitize_param(value: str) -> str:
    """A spider argument made safe to use as one path component.

    >>> [sanitize_param(v) for v in ("../x", "..", "a/b\\\\c", "ok")]
    ['.._x', '_', 'a_b_c', 'ok']
    >>> sanitize_param("x\\x00y\\n")
    'xy'
    """
    cleaned = "".join(ch for ch in value if ch.isprintable())
    for sep in ("/", "\\", os.sep):
        cleaned = cleaned.replace(sep, "_")
    if cleaned in ("", ".", ".."):
        return "_" if value else ""
    return cleaned


def safe_uri_params(params: dict[str, Any], spider: Spider) -> dict[str, Any]:
    """``FEED_URI_PARAMS`` function: every string value (spider arguments are strings) becomes a
    single path component, so ``-a category=../x`` cannot leave the output directory.

    >>> safe_uri_params({"category": "../../etc", "batch_id": 1}, None)
    {'category': '.._.._etc', 'batch_id': 1}
    """
    return {
        k: sanitize_param(v) if isinstance(v, str) and k not in _TRUSTED_PARAMS else v
        for k, v in params.items()
    }


#: Parameters Scrapy itself computes; they never contain a separator.
_TRUSTED_PARAMS = frozenset({"time", "batch_time"})


def _exporter_class(crawler: Crawler | None, fmt: str | None) -> Any:
    if crawler is None or not fmt:
        return None
    path = crawler.settings.getwithbase("FEED_EXPORTERS").get(fmt)
    return load_object(path) if path else None


class AtomicFileFeedStorage:
    """Feed storage for local files: temp file, fsync, atomic rename (see module docs)."""

    def __init__(
        self,
        uri: str,
        *,
        feed_options: dict[str, Any] | None = None,
        crawler: Crawler | None = None,
    ) -> None:
        self.path: str = file_uri_to_path(uri) if uri.startswith("file:") else uri
        if "\x00" in self.path:
            raise FeedTargetError(f"feed path contains a NUL byte: {self.path!r}")
        self.feed_options = feed_options or {}
        self.overwrite: bool = bool(self.feed_options.get("overwrite", False))
        self.format: str | None = self.feed_options.get("format")
        self.crawler = crawler
        self._exporter_cls = _exporter_class(crawler, self.format)
        self.directory_mode = bool(getattr(self._exporter_cls, "writes_directory", False))
        if self.directory_mode and "postprocessing" in self.feed_options:
            raise FeedTargetError(f"the {self.format} format does not support postprocessing")
        self.close_reason: str | None = None
        if crawler is not None:
            crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        self._check_target()

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> AtomicFileFeedStorage:
        try:
            return cls(uri, feed_options=feed_options, crawler=crawler)
        except OSError as exc:
            # Refuse before the first record: a run whose output cannot be written must not
            # fetch anything (its articles would be owed to a file that can never exist).
            fail_run(crawler, "feed_refused", str(exc))
            if running_engine(crawler) is None:
                raise  # the crawl is being set up: it fails to start, with this message
            raise CloseSpider("feed_refused") from exc

    def _spider_closed(self, reason: str) -> None:
        self.close_reason = reason

    def _write_failed(self, exc: OSError) -> None:
        """The feed cannot be written: fail the run, and stop it (nothing more can be
        delivered to this feed, so fetching more would only cost the site)."""
        crawler = self.crawler
        if crawler is None:
            return
        fail_and_stop(
            crawler,
            "storage_failed",
            f"writing {self.path} failed ({exc}); the previous file is untouched, and this "
            "run's records stay pending",
        )

    @property
    def ledger(self) -> DeliveryService | None:
        return delivery_service(self.crawler) if self.crawler is not None else None

    def _check_target(self) -> None:
        target = Path(self.path)
        if target.is_symlink():
            raise FeedTargetError(
                f"feed target {target} is a symbolic link; newsbot does not write through links"
            )
        if self.directory_mode:
            if target.exists() and not target.is_dir():
                raise FeedTargetError(f"feed target {target} exists and is not a directory")
            # The format's own checks of what is there (the Hexo blog's _config.yml).
            check = getattr(self._exporter_cls, "check_target", None)
            if check is not None:
                check(target)
        elif target.exists() and not target.is_file():
            raise FeedTargetError(f"feed target {target} exists and is not a regular file")
        elif not self.overwrite and target.is_file() and target.stat().st_size:
            self._check_appendable(target)
        # Scrapy opens a feed at its first record: a folder that cannot be written would only
        # show after the run has fetched (and so owes) its articles.
        why = unwritable(target if self.directory_mode else target.parent)
        if why:
            raise FeedTargetError(f"feed target {target} cannot be written: {why}")

    def _check_appendable(self, target: Path) -> None:
        """``-o`` adds to an existing file only in formats whose files can follow each other:
        a second JSON document, a second XML root or a second CSV header would give a file no
        reader accepts."""
        if self.format in APPENDABLE_FORMATS:
            return
        raise FeedTargetError(
            f"feed target {target} exists and cannot be appended to in the {self.format} format "
            "(the result would not be one valid file): use -O to replace it, a file per run "
            "(-o 'out/%(time)s.json'), or jsonlines, which appends"
        )

    # -- open -----------------------------------------------------------------------------

    def open(self, spider: Spider) -> IO[bytes]:
        self._check_target()
        target = Path(self.path)
        parent = target if self.directory_mode else target.parent
        parent.mkdir(parents=True, exist_ok=True)
        if self.directory_mode:
            staging = str(parent / f".newsbot-staging-{os.getpid()}-{secrets.token_hex(4)}")
            self._register(staging)
            os.mkdir(staging, 0o700)
            return cast("IO[bytes]", StagingDir(staging, str(target)))
        temp = self._temp_name(target)
        self._register(temp)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        return AtomicFile(io.FileIO(fd, "wb"), temp, str(target), self._write_failed)

    @staticmethod
    def _temp_name(target: Path) -> str:
        return str(temp_beside(target))

    def _register(self, path: str) -> None:
        ledger = self.ledger
        if ledger is not None:
            ledger.register_temp(path)

    # -- store ----------------------------------------------------------------------------

    def store(self, file: IO[bytes]) -> None:
        """Publish the feed file, or leave the earlier one untouched and raise."""
        if isinstance(file, StagingDir):
            self._store_directory(file)
            return
        atomic = cast("AtomicFile", file)
        try:
            self._store_file(atomic)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                if not atomic.closed:
                    atomic.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(atomic.temp)
            self._failed(exc, atomic.newsbot_tracker)
            raise

    def _failed(self, exc: BaseException, tracker: FeedTracker) -> None:
        if self.crawler is not None:
            fail_run(
                self.crawler,
                "storage_failed",
                f"could not publish {self.path} ({exc}); the previous file is untouched and its "
                f"{len(tracker.deliveries)} new records stay pending",
            )

    def _store_file(self, file: AtomicFile) -> None:
        tracker = file.newsbot_tracker
        if tracker.error is not None:
            raise OSError(f"writing the feed failed earlier: {tracker.error}") from tracker.error
        file.flush()
        os.fsync(file.fileno())
        file.close()
        target = Path(self.path)
        if not self.overwrite:
            # Whether the target exists is only known under the append lock: two appending
            # runs that both saw no file would both publish theirs, and one would vanish.
            with self._append_lock(target):
                self._store_appending(file, target, tracker)
            return
        size = os.stat(file.temp).st_size
        exists = os.path.lexists(target)
        if exists and (size == 0 or tracker.is_empty()):
            logger.info("Nothing new for %s: the existing file is kept as it was", target)
            self._discard(file.temp)
            return
        if exists and not self._complete():
            logger.warning(
                "Run ended early (%s): %s is kept as it was; %d records stay pending",
                self.close_reason,
                target,
                len(tracker.deliveries),
            )
            self._discard(file.temp)
            if self.crawler is not None and self.crawler.stats is not None:
                self.crawler.stats.inc_value("newsbot/feed/withheld", len(tracker.deliveries))
            return
        self._publish([self._entry(file.temp, target, tracker.deliveries)])

    def _store_appending(self, file: AtomicFile, target: Path, tracker: FeedTracker) -> None:
        """``-o``: the run's file as the target if there is none yet, else the old records and
        the new ones as one new file. Called under the append lock."""
        exists = os.path.lexists(target)
        if exists and (os.stat(file.temp).st_size == 0 or tracker.is_empty()):
            logger.info("Nothing new for %s: the existing file is kept as it was", target)
            self._discard(file.temp)
            return
        if not exists:
            self._publish([self._entry(file.temp, target, tracker.deliveries)])
            return
        self._check_appendable(target)  # made since the run started (by another run)
        merged = self._temp_name(target)
        self._register(merged)
        try:
            self._merge(target, file.temp, merged)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(merged)
            raise
        os.unlink(file.temp)
        self._publish([self._entry(merged, target, tracker.deliveries)])

    def _complete(self) -> bool:
        if self.close_reason is None:
            engine = running_engine(self.crawler)
            return bool(engine is None or engine.running)
        return self.close_reason in COMPLETE_REASONS or self.close_reason.startswith("closespider_")

    def _discard(self, temp: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        ledger = self.ledger
        if ledger is not None:
            ledger.forget_temp(temp)

    @staticmethod
    @contextlib.contextmanager
    def _append_lock(target: Path) -> Iterator[None]:
        """The lock two appending runs (any state directory) share: ``.NAME.lock`` beside the
        target, removed again by its holder (a file per run would otherwise leave one lock file
        per run). Whoever locked a file that was removed meanwhile locks the new one instead."""
        lock_path = target.parent / f".{target.name}.lock"
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                st = os.stat(lock_path, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            held = os.fstat(fd)
            if st is not None and (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino):
                break
            os.close(fd)  # its holder removed it as we waited: take the one there now
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock_path)  # still holding it: nobody locks a removed file for good
            os.close(fd)

    def _merge(self, target: Path, new: str, merged: str) -> None:
        line_format = self.format in ("jsonlines", "jsonl") and "postprocessing" not in (
            self.feed_options
        )
        try:
            src_fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise FeedTargetError(f"cannot read {target} to append to it: {exc}") from exc
        with (
            os.fdopen(src_fd, "rb") as old,
            open(new, "rb") as added,
            open(merged, "xb") as out,
        ):
            st = os.fstat(old.fileno())
            if line_format and st.st_size:
                old.seek(-1, os.SEEK_END)
                if old.read(1) != b"\n":
                    raise FeedTargetError(
                        f"{target} does not end with a newline: its last line is torn (written "
                        "by something other than newsbot?). Repair or move it; nothing was added."
                    )
                old.seek(0)
            shutil.copyfileobj(old, out, 1 << 20)
            shutil.copyfileobj(added, out, 1 << 20)
            out.flush()
            os.fchmod(out.fileno(), st.st_mode & 0o7777)
            os.fsync(out.fileno())

    @staticmethod
    def _entry(temp: str, target: Path, deliveries: Collection[Delivery]) -> PublishEntry:
        st = os.stat(temp)
        return PublishEntry(
            temp, str(target.absolute()), st.st_dev, st.st_ino, st.st_size, deliveries
        )

    def _publish(self, entries: list[PublishEntry]) -> None:
        """Intent, rename, directory fsync, done: see :mod:`newsbot.state.store`."""
        ledger = self.ledger
        token = ledger.publishing(entries) if ledger is not None else None
        done: list[PublishEntry] = []
        try:
            for entry in entries:
                if os.path.islink(entry.target):
                    raise FeedTargetError(
                        f"feed target {entry.target} became a symbolic link; not followed"
                    )
                os.replace(entry.temp, entry.target)
                done.append(entry)
            for parent in {os.path.dirname(e.target) for e in entries}:
                fsync_dir(parent)
        except BaseException as exc:
            if ledger is not None:
                if done:
                    ledger.published(token, done)
                ledger.publish_failed(token, [e for e in entries if e not in done], exc)
            raise
        if ledger is not None:
            ledger.published(token, entries)
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value("newsbot/feed/files_published", len(entries))

    # -- directory formats ------------------------------------------------------------------

    def _store_directory(self, staging: StagingDir) -> None:
        try:
            if staging.newsbot_tracker.error is not None:
                err = staging.newsbot_tracker.error
                raise OSError(f"staging the feed failed earlier: {err}") from err
            if not staging.files:
                logger.info("Nothing new for %s", staging.target)
                return
            if self.overwrite and not self._complete():
                logger.warning(
                    "Run ended early (%s): nothing published to %s", self.close_reason, self.path
                )
                return
            fsync_dir(staging.path)
            entries: list[PublishEntry] = []
            for staged, relative, deliveries in staging.files:
                final = staging.target_path(relative)
                final.parent.mkdir(parents=True, exist_ok=True)
                entries.append(self._entry(staged, final, deliveries))
            self._publish(entries)
        except BaseException as exc:
            self._failed(exc, staging.newsbot_tracker)
            raise
        finally:
            shutil.rmtree(staging.path, ignore_errors=True)
            ledger = self.ledger
            if ledger is not None:
                ledger.forget_temp(staging.path)
