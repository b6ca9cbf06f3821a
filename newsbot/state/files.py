"""Filesystem helpers of the state directory: the run lock, durable renames, files replaced
whole (:func:`atomic_file`), telling a filesystem problem from a damaged store, and removing the
temporary files a crashed run left (ours only: they were registered before being written).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from newsbot.state.errors import StateBusy, StateLocked, StateUnavailable

LOCK_NAME = "newsbot.lock"


def lock_directory(directory: Path) -> int:
    """Take the state directory's run lock (held until the descriptor is closed or the process
    ends, however it ends); raise :class:`StateLocked` if another process holds it."""
    fd = os.open(
        directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise StateLocked(
            f"state directory {directory} is in use by {holder}; two runs on one state "
            "directory would deliver articles twice, so this run stops. Wait for the other run "
            "to end, or give this one its own NEWSBOT_STATE_DIR."
        ) from None
    os.ftruncate(fd, 0)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    os.pwrite(fd, f"pid {os.getpid()} since {stamp}\n".encode(), 0)
    return fd


def existing(path: Path) -> Path:
    """``path``, or the nearest folder above it that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_beside(target: Path) -> Path:
    """A temporary name in ``target``'s folder (so that renaming it over ``target`` is atomic),
    hidden, and unique to this process and call (two writers never share one)."""
    return target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A new file that replaces ``path`` whole when the block ends without error: it is written
    beside it (:func:`temp_beside`), fsync'ed, and renamed over it, so a reader sees the old file
    or the new one, never a part. Whatever is raised, in the block or in the writing, removes
    the temporary file and leaves ``path`` as it was. (The folder is not fsync'ed: a crash right
    after the rename may bring back the old file, whole.)

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_file(target) as fh:
    ...     _ = fh.write(b"new\\n")
    >>> try:
    ...     with atomic_file(target) as fh:
    ...         _ = fh.write(b"torn")
    ...         raise ValueError("changed its mind")
    ... except ValueError:
    ...     pass
    >>> target.read_bytes(), [p.name for p in target.parent.iterdir()]
    (b'new\\n', ['out.txt'])
    """
    temp = temp_beside(path)
    try:
        with open(temp, "xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_temp(path: str) -> bool:
    """Remove a leftover temporary file or staging directory of ours."""
    p = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if p.is_symlink() or p.is_file():
            p.unlink()
            return True
        if p.is_dir():
            shutil.rmtree(p)
            return True
    return False


#: SQLite errors that come from the filesystem under the store, not from its contents.
_ENVIRONMENT_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")


def _errorname(message: str) -> str:
    """The SQLite error name behind a message, for Pythons before 3.11 (no sqlite_errorname).

    >>> _errorname("database or disk is full"), _errorname("no such table: x")
    ('SQLITE_FULL', '')
    """
    for words, name in (
        ("disk is full", "SQLITE_FULL"),
        ("disk I/O error", "SQLITE_IOERR"),
        ("readonly database", "SQLITE_READONLY"),
        ("unable to open", "SQLITE_CANTOPEN"),
    ):
        if words in message:
            return name
    return ""


def busy_error(exc: BaseException, path: Path, waited: float) -> StateBusy | None:
    """A :class:`StateBusy` explaining ``exc``, when it is SQLite's "database is locked"."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    if not (name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in str(exc)):
        return None
    return StateBusy(
        f"state store {path} is busy: another process holds a lock on it (not a newsbot run: "
        f"the run lock was free), and this run waited {waited:g} s (NEWSBOT_STATE_BUSY_TIMEOUT) "
        "for it. The store is not damaged: end what holds it (a sqlite3 shell, a backup or "
        "copy tool, a script) and run again; do not rebuild or replace it."
    )


def environment_error(exc: BaseException, directory: Path) -> StateUnavailable | None:
    """A :class:`StateUnavailable` explaining ``exc``, when it is a filesystem problem."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or _errorname(str(exc))
        if not name.startswith(_ENVIRONMENT_ERRORS):
            return None
        what = f"{exc} ({name})"
    elif isinstance(exc, OSError):
        what = exc.strerror or str(exc)
    else:
        return None
    try:
        st = os.statvfs(existing(directory))
        room = f"{st.f_bavail * st.f_frsize} bytes free"
        if st.f_flag & os.ST_RDONLY:
            room += ", read-only"
    except OSError:
        room = "free space unknown"
    return StateUnavailable(
        f"state store in {directory} cannot be used: {what}; its filesystem has {room}. This "
        "is not a damaged store: free space (or make it writable) and run again; do not "
        "rebuild or replace it."
    )
