"""The site copy made changeable, for the delivery tests.

:class:`DeliverySite` serves the site copy with a generated column (``9000``) that a test fills
with synthetic articles and can then change: add new articles, edit one (for recheck),
republish an article's text under a new id (near duplicates), and hold article responses after
the n-th one (a fault plan), so that a crawl can be killed or interrupted at a chosen point.
The hand-written columns and the fixture column (``1161``: every fixture page variant) are
served as usual.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from newsbot.processors import BEIJING
from testsite.faults import Hold, Normal, Plan
from testsite.sitecopy import FIXTURE_COLUMN, Article, SiteCopy, render_article
from testsite.wire import Hit, Reply

COLUMN = "9000"

__all__ = ["COLUMN", "FIXTURE_COLUMN", "DeliverySite"]


class DeliverySite(SiteCopy):
    """A site copy with a changeable generated column of ``n`` articles, ``per_page`` a list
    page (see module docs). Use as a context manager; other options are SiteCopy's."""

    def __init__(self, n: int = 0, *, per_page: int = 4, **options: Any) -> None:
        super().__init__(volume=0, volume_column=COLUMN, volume_page_size=per_page, **options)
        self._next_id = 4_700_000
        self._overrides: dict[str, bytes] = {}
        self._gate = threading.Event()
        self._held: Plan | None = None
        now = dt.datetime.now(BEIJING).replace(microsecond=0)
        self.add(n, newest=now - dt.timedelta(minutes=10))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        self.stop()

    # -- the generated column ------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        """Ids of the column's articles, newest first."""
        return list(self.volume_ids)

    def article(self, ident: str) -> Article:
        return self.articles[ident]

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
            self.articles[ident] = article
            added.append(article)
        self.volume_ids[:0] = [a.id for a in reversed(added)]
        return added

    def edit(self, ident: str, title: str) -> None:
        """Change an article (its title, and so the lead paragraph that quotes it)."""
        self.articles[ident].title = title

    def change_page(self, ident: str, change: Callable[[str], str]) -> None:
        """Serve article ``ident``'s page as ``change`` makes it from the generated one (for
        markup the generator does not write, such as a lead image)."""
        article = self.articles[ident]
        self._overrides[article.path] = change(render_article(article)).encode("utf-8")

    def republish(self, ident: str, title: str) -> Article:
        """The text of article ``ident`` published again under a new id (and a new title)."""
        original = self.articles[ident]
        self._next_id += 1
        new = Article(str(self._next_id), original.date, original.time, title)
        page = render_article(original)
        page = page.replace(original.url, new.url).replace(original.path, new.path)
        # The <title> and the h1 change; the text (which quotes the old title) stays the same.
        self._overrides[new.path] = page.replace(original.title, title, 2).encode("utf-8")
        self.articles[new.id] = new
        self.volume_ids.insert(0, new.id)
        return new

    def respond(self, hit: Hit) -> Reply:
        page = self._overrides.get(hit.route)
        return Reply(200, page) if page is not None else super().respond(hit)

    # -- the gate -------------------------------------------------------------------------

    def hold_after(self, n: int) -> None:
        """Serve n more article pages, then hold every further one until :meth:`release`."""
        self._gate = threading.Event()
        self._held = self.plan(r"/articles/.*", *[Normal()] * n, Hold(self._gate))

    def release(self) -> None:
        self._gate.set()

    def wait_served(self, n: int, timeout: float = 60) -> None:
        """Wait until n article pages have been asked for since :meth:`hold_after`."""
        end = time.monotonic() + timeout
        while (served := self._held.served if self._held else 0) < n:
            if time.monotonic() > end:
                raise TimeoutError(f"only {served} of {n} article pages were asked for")
            time.sleep(0.01)
