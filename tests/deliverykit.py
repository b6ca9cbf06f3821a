"""The local site copy (tools/sitecopy.py) made changeable for the delivery tests, and helpers
to run crawls and read what they published.

:class:`DeliverySite` serves the site copy with a generated column (``9000``) that a test fills
with synthetic articles and can then change: add new articles, edit one (for recheck),
republish an article's text under a new id (near duplicates), and hold article responses after
the n-th one, so that a crawl can be killed or interrupted at a chosen point. The hand-written
columns and the fixture column (``1161``: every fixture page variant) are served as usual.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from sitecopy import Article, Hit, Reply, SiteCopy, render_article  # noqa: E402

from newsbot.processors import BEIJING  # noqa: E402
from tests.crawlkit import TEST_SETTINGS  # noqa: E402

COLUMN = "9000"
FIXTURE_COLUMN = "1161"


class DeliverySite:
    """A started site copy with a changeable generated column (see module docs)."""

    def __init__(self, n: int = 0, *, per_page: int = 4) -> None:
        self.copy = SiteCopy(volume=0, volume_column=COLUMN, volume_page_size=per_page)
        self._next_id = 4_700_000
        self._overrides: dict[str, bytes] = {}
        self._hold_after: int | None = None
        self._served = 0
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()
        self._served_changed = threading.Condition()
        self.copy.route(r"/articles/.*", self._article_route)
        now = dt.datetime.now(BEIJING).replace(microsecond=0)
        self.add(n, newest=now - dt.timedelta(minutes=10))

    def __enter__(self) -> DeliverySite:
        self.copy.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.copy.stop()

    @property
    def root(self) -> str:
        return self.copy.root

    # -- the generated column ------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        """Ids of the column's articles, newest first."""
        return list(self.copy.volume_ids)

    def article(self, ident: str) -> Article:
        return self.copy.articles[ident]

    def add(self, n: int, *, newest: dt.datetime | None = None) -> list[Article]:
        """Publish n new articles, ten minutes apart, the newest at ``newest`` (default: now)."""
        newest = newest or dt.datetime.now(BEIJING).replace(microsecond=0)
        added = []
        for k in range(n):
            self._next_id += 1
            when = (newest - dt.timedelta(minutes=10 * (n - 1 - k))).astimezone(BEIJING)
            ident = str(self._next_id)
            article = Article(
                ident, when.date().isoformat(), when.time().isoformat(), f"交付测试稿件{ident}号"
            )
            self.copy.articles[ident] = article
            added.append(article)
        self.copy.volume_ids[:0] = [a.id for a in reversed(added)]
        return added

    def edit(self, ident: str, title: str) -> None:
        """Change an article (its title, and so the lead paragraph that quotes it)."""
        self.copy.articles[ident].title = title

    def change_page(self, ident: str, change: Callable[[str], str]) -> None:
        """Serve article ``ident``'s page as ``change`` makes it from the generated one (for
        markup the generator does not write, such as a lead image)."""
        article = self.copy.articles[ident]
        self._overrides[article.path] = change(render_article(article)).encode("utf-8")

    def republish(self, ident: str, title: str) -> Article:
        """The text of article ``ident`` published again under a new id (and a new title)."""
        original = self.copy.articles[ident]
        self._next_id += 1
        new = Article(str(self._next_id), original.date, original.time, title)
        page = render_article(original)
        page = page.replace(original.url, new.url).replace(original.path, new.path)
        # The <title> and the h1 change; the text (which quotes the old title) stays the same.
        self._overrides[new.path] = page.replace(original.title, title, 2).encode("utf-8")
        self.copy.articles[new.id] = new
        self.copy.volume_ids.insert(0, new.id)
        return new

    def article_hits(self) -> list[str]:
        return self.copy.article_hits()

    # -- the gate -------------------------------------------------------------------------

    def hold_after(self, n: int) -> None:
        """Serve n more article pages, then hold every further one until :meth:`release`."""
        with self._lock:
            self._served = 0
            self._hold_after = n
            self._gate.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_after = None
        self._gate.set()

    def wait_served(self, n: int, timeout: float = 60) -> None:
        """Wait until n article pages have been answered since :meth:`hold_after`."""
        with self._served_changed:
            if not self._served_changed.wait_for(lambda: self._served >= n, timeout):
                raise TimeoutError(f"only {self._served} of {n} article pages were asked for")

    def _article_route(self, hit: Hit) -> Reply | None:
        with self._lock:
            holding = self._hold_after is not None and self._served >= self._hold_after
            if not holding:
                self._served += 1
        if holding:
            self._gate.wait(120)
        with self._served_changed:
            self._served_changed.notify_all()
        page = self._overrides.get(hit.route)
        return Reply(200, page) if page is not None else None


# -- crawls ----------------------------------------------------------------------------------


def crawl_command(root: str, state: Path, *outputs: str, args: dict[str, str] | None = None,
                  settings: dict[str, str] | None = None) -> list[str]:  # fmt: skip
    cmd = [sys.executable, "-m", "scrapy", "crawl", "nbd", *outputs]
    base = {
        **TEST_SETTINGS,
        "NEWSBOT_SITE_ROOT": root,
        "NEWSBOT_STATE_DIR": str(state),
        "RETRY_TIMES": "0",
        "DOWNLOAD_TIMEOUT": "20",
        "NEWSBOT_MAX_LIST_PAGES": "0",
    }
    base.update(settings or {})
    for name, value in base.items():
        cmd += ["-s", f"{name}={value}"]
    for name, value in (args or {}).items():
        cmd += ["-a", f"{name}={value}"]
    return cmd


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        out.pop(proxy, None)
    return out


def run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def start(cmd: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = log.open("wb")
    return subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=fh, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL, timeout: float = 60) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout)


def published_files(directory: Path, pattern: str = "*.jsonl") -> list[Path]:
    """Feed files in ``directory`` (recursively), leaving out newsbot's hidden temp files."""
    return sorted(p for p in directory.rglob(pattern) if not p.name.startswith("."))


def read_records(directory: Path, pattern: str = "*.jsonl") -> list[dict]:
    """Every record of every published file; fails on a line that is not a JSON object."""
    records = []
    for path in published_files(directory, pattern):
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), f"{path} ends in a torn line"
        for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise AssertionError(f"{path}:{n} is not JSON: {line[:80]!r}") from exc
            assert isinstance(obj, dict), f"{path}:{n} is not an object"
            records.append(obj)
    return records


@contextlib.contextmanager
def small_filesystem(path: Path, size_kb: int) -> Iterator[Path]:
    """A real, small filesystem (tmpfs) mounted at ``path``, to fill up for real.

    Mounting needs root (CI and the developers' machines run as root). Elsewhere the test is
    skipped, except in CI, where a missing mount is a failure.
    """
    import pytest

    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a small tmpfs in CI: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path, leave_bytes: int) -> None:
    """Fill ``disk`` up to all but about ``leave_bytes``."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler.bin"
    with filler.open("ab") as fh:
        fh.write(b"\0" * max(0, free - leave_bytes))
