"""Reading files a user names as input (``-a urls_file=``, ``scrapy extract PATH``), safely.

Only regular files are read, and at most ``NEWSBOT_MAX_INPUT_BYTES`` of them: a FIFO would block
the command for ever, ``/dev/zero`` (or a link to it) would fill the memory, a sparse file of
gigabytes would take minutes to read and then fail. Anything else is refused with a reason
before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: ``NEWSBOT_MAX_INPUT_BYTES``'s default (see newsbot/settings.py).
DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024


class InputRefused(OSError):
    """A file named as input that is not read: ``reason`` is a short code (``missing``,
    ``not_a_file``, ``too_large``, ``unreadable``), ``detail`` says what it is, in words."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def size_text(size: int) -> str:
    """A byte count as people read it.

    >>> size_text(512), size_text(3 * 1024 * 1024), size_text(2 * 1024**3)
    ('512 bytes', '3.0 MiB', '2.0 GiB')
    """
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words.

    >>> kind_of(stat.S_IFIFO), kind_of(stat.S_IFCHR), kind_of(stat.S_IFDIR)
    ('a FIFO (named pipe)', 'a character device', 'a directory')
    """
    for test, words in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def _check(st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputRefused("not_a_file", f"is {kind_of(st.st_mode)}, not a regular file")
    if st.st_size > limit:
        raise InputRefused(
            "too_large",
            f"is {size_text(st.st_size)}, over NEWSBOT_MAX_INPUT_BYTES ({size_text(limit)})",
        )


def read_input_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` (symbolic links followed) if it is a regular file of at most
    ``limit`` bytes; :class:`InputRefused` otherwise."""
    try:
        # Looked at before it is opened: opening some devices does something (a tape rewinds).
        _check(os.stat(path), limit)
        # Non-blocking: were it swapped for a FIFO since, the open must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputRefused("missing", "does not exist") from None
    except InputRefused:
        raise
    except OSError as e:
        raise InputRefused("unreadable", f"cannot be read: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as file:
        try:
            _check(os.fstat(fd), limit)
            data = file.read(limit + 1)
        except InputRefused:
            raise
        except OSError as e:
            raise InputRefused("unreadable", f"cannot be read: {e.strerror or e}") from None
    if len(data) > limit:  # it grew while it was read
        raise InputRefused("too_large", f"is over NEWSBOT_MAX_INPUT_BYTES ({size_text(limit)})")
    return data
