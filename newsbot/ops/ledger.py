"""The books of one run: what became of each article it discovered, column by column.

Nothing here knows about Scrapy. The operations extension (:mod:`newsbot.ops.extension`) feeds
a :class:`RunLedger` with the crawl's events and, at the end, asks the state store what became
of the articles whose fate the events alone cannot tell (a record handed to the feeds is
exported only once its file is published). :meth:`RunLedger.close` then sorts every discovered
article into exactly one bucket, so that

    discovered = exported + unchanged + dropped + failed + pending

holds by construction; ``pending`` is what an interrupted (or failed) run leaves for the next.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from newsbot.idset import IdSet
from newsbot.items import EXTRACTED_FIELDS

#: Reasons of article failures that say the page is not readable as an article (as opposed to
#: a download failure): these pages count against the layout check.
PAGE_REASONS = frozenset({"not_article", "empty_body", "bad_encoding", "no_url", "not_text"})

#: What a full record has (the byline only in the columns that have one).
FULL_RECORD_PARTS = ("title", "published_at", "body")


def missing_parts(record: Mapping[str, Any], *, byline: bool) -> list[str]:
    """The parts of a full record that ``record`` lacks: title, time and body, and, where the
    column has bylines, a byline or a reporter.

    >>> missing_parts({"title": "t", "published_at": "2021-04-10T23:49:51+08:00", "body": "b"},
    ...               byline=False)
    []
    >>> missing_parts({"title": " ", "body": "b", "reporters": []}, byline=True)
    ['title', 'published_at', 'byline']
    >>> missing_parts({"title": "t", "published_at": "x", "body": "b", "reporters": ["陈默"]},
    ...               byline=True)
    []
    """
    missing = [name for name in FULL_RECORD_PARTS if not _filled(record.get(name))]
    if byline and not (_filled(record.get("byline")) or _filled(record.get("reporters"))):
        missing.append("byline")
    return missing


def _filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != [] and value != {}


@dataclass
class ColumnBook:
    """One column's part of the run (or the URL list's, or the search's)."""

    listed: IdSet = field(default_factory=IdSet)
    """Article ids its list pages listed."""
    ids: IdSet = field(default_factory=IdSet)
    """Article ids discovered in it (each article in the first column it was found in)."""
    list_pages: int = 0
    list_failures: list[tuple[int, str, str]] = field(default_factory=list)
    """``(page, url, reason)`` of list pages that could not be read."""
    empty_first_page: str | None = None
    """URL of its first list page when that listed no article link."""
    blocked: int = 0
    """Challenge pages met while crawling it."""
    redirects_refused: int = 0
    """Its article links that redirected where newsbot does not go (off the site, spam)."""
    discovered: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    pending: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "listed": len(self.listed),
            "list_pages": self.list_pages,
            "discovered": self.discovered,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dropped": dict(sorted(self.dropped.items())),
            "failed": dict(sorted(self.failed.items())),
            "pending": self.pending,
            "blocked": self.blocked,
            "redirects_refused": self.redirects_refused,
            "list_failures": [{"page": p, "url": u, "reason": r} for p, u, r in self.list_failures],
        }


@dataclass
class Totals:
    """The accounting line."""

    discovered: int = 0
    exported: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dropped: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def balanced(self) -> bool:
        return self.discovered == (
            self.exported + self.unchanged + self.dropped + self.failed + self.pending
        )

    def line(self) -> str:
        """
        >>> Totals(10, 6, 5, 1, 1, 1, 2, 0).line()
        'discovered 10 = exported 6 (new 5, updated 1) + unchanged 1 + dropped 1 + failed 2 + pending 0'
        """  # noqa: E501
        return (
            f"discovered {self.discovered} = exported {self.exported} (new {self.new}, "
            f"updated {self.updated}) + unchanged {self.unchanged} + dropped {self.dropped} + "
            f"failed {self.failed} + pending {self.pending}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "discovered": self.discovered,
            "exported": self.exported,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dropped": self.dropped,
            "failed": self.failed,
            "pending": self.pending,
            "balanced": self.balanced,
        }


#: What the state store says of an article at the end: ``(state, reason, revision, attempts)``.
StoreLookup = Callable[[str], "tuple[str, str | None, int, int] | None"]


class RunLedger:
    """Collects a run's events (see module docs). ``byline_columns``: the columns whose
    articles carry a byline, for the full-record check."""

    def __init__(self, byline_columns: frozenset[str] = frozenset()) -> None:
        self.byline_columns = byline_columns
        self.columns: dict[str, ColumnBook] = {}
        # What last happened to each article, one kind each (per-run sets: see newsbot.idset).
        self._discovered = IdSet()
        self._scraped = IdSet()
        self._revisions: dict[str, int] = {}
        """Revisions above 1 of the records scraped."""
        self._unchanged = IdSet()
        self._dropped: dict[str, str] = {}
        """article id -> reason of the articles last dropped."""
        self._failed: dict[str, str] = {}
        """article id -> reason of the articles last failed."""
        self.failures_this_run: dict[str, tuple[str, str]] = {}
        """article id -> (reason, url) of the articles that failed in this run."""
        self.records = 0
        self.coverage: Counter[str] = Counter()
        self.pages_parsed = 0
        self.full_records = 0
        self.missing: Counter[str] = Counter()
        """Parts of a full record the records lacked."""
        self.unreadable: Counter[str] = Counter()
        """Article pages that gave no record, by reason."""
        self.site_responses = 0
        self.earliest: dt.datetime | None = None
        self.latest: dt.datetime | None = None
        self.totals: Totals | None = None
        self.fresh_failures: Counter[str] = Counter()
        """Failures of articles tried for the first time (not earlier failures tried again)."""
        self.time_disagreements: list[dict[str, str]] = []
        """``{article_id, url, visible, other, other_source}`` of the pages whose time sources
        disagree."""

    def book(self, column: str) -> ColumnBook:
        book = self.columns.get(column)
        if book is None:  # not setdefault: a ColumnBook built per event was a crawl's 0.3 %
            book = self.columns[column] = ColumnBook()
        return book

    # -- events ---------------------------------------------------------------------------

    def list_page_read(self, column: str, page: int, url: str, article_ids: list[str]) -> None:
        book = self.book(column)
        book.list_pages += 1
        book.listed.update(article_ids)
        if page == 1 and not article_ids:
            book.empty_first_page = url

    def list_page_failed(self, column: str, page: int, url: str, reason: str) -> None:
        self.book(column).list_failures.append((page, url, reason))

    def redirect_refused(self, column: str) -> None:
        self.book(column).redirects_refused += 1

    def time_disagreement(
        self, article_id: str, url: str, visible: str, other: str, source: str
    ) -> None:
        entry = {"article_id": article_id, "url": url, "visible": visible, "other": other,
                 "other_source": source}  # fmt: skip
        if entry not in self.time_disagreements:  # an article fetched again in the run
            self.time_disagreements.append(entry)

    def discovered(self, article_id: str, column: str) -> None:
        if article_id not in self._discovered:
            self._discovered.add(article_id)
            book = self.book(column)
            book.ids.add(article_id)
            book.discovered += 1

    def blocked(self, column: str | None) -> None:
        if column is not None:
            self.book(column).blocked += 1

    def failed(self, article_id: str, reason: str, url: str) -> None:
        self._happened(article_id)
        self._failed[article_id] = reason
        self.failures_this_run[article_id] = (reason, url)
        if reason in PAGE_REASONS:
            self.pages_parsed += 1
            self.unreadable[reason] += 1

    def record(self, record: Mapping[str, Any]) -> None:
        """An article page gave a record (whatever becomes of it next)."""
        self.records += 1
        self.pages_parsed += 1
        for name in EXTRACTED_FIELDS:
            if _filled(record.get(name)):
                self.coverage[name] += 1
        column = record.get("column")
        missing = missing_parts(record, byline=column in self.byline_columns)
        if missing:
            self.missing.update(missing)
        else:
            self.full_records += 1

    def scraped(self, article_id: str, revision: int, published_at: str | None) -> None:
        """The record passed the pipelines and went to the feeds."""
        self._happened(article_id)
        self._scraped.add(article_id)
        if revision > 1:
            self._revisions[article_id] = revision
        if published_at:
            try:
                when = dt.datetime.fromisoformat(published_at)
            except ValueError:
                return
            if self.earliest is None or when < self.earliest:
                self.earliest = when
            if self.latest is None or when > self.latest:
                self.latest = when

    def skipped(self, article_id: str, column: str) -> None:
        """Not fetched because an earlier run delivered it: unchanged, unless something already
        happened to it in this run (a recheck fetched it while its list page was read)."""
        self.discovered(article_id, column)
        if self._last_event(article_id)[0] == "":
            self.unchanged(article_id)

    def unchanged(self, article_id: str) -> None:
        self._happened(article_id)
        self._unchanged.add(article_id)

    def dropped(self, article_id: str, reason: str) -> None:
        self._happened(article_id)
        self._dropped[article_id] = reason

    def touched(self) -> IdSet:
        """Every article something happened to in this run (scraped, unchanged, dropped,
        failed): the only ones whose state in the store the run can have changed."""
        out = IdSet()
        for ident in (*self._scraped, *self._unchanged, *self._dropped, *self._failed):
            out.add(ident)
        return out

    def _happened(self, article_id: str) -> None:
        """Forget what happened to the article before: the last event is what counts."""
        self._scraped.discard(article_id)
        self._revisions.pop(article_id, None)
        self._unchanged.discard(article_id)
        self._dropped.pop(article_id, None)
        self._failed.pop(article_id, None)

    def _last_event(self, article_id: str) -> tuple[str, str, int]:
        """``(kind, reason, revision)`` of the last thing that happened to the article."""
        if article_id in self._scraped:
            return "scraped", "", self._revisions.get(article_id, 1)
        if article_id in self._unchanged:
            return "unchanged", "", 0
        if article_id in self._dropped:
            return "dropped", self._dropped[article_id], 0
        if article_id in self._failed:
            return "failed", self._failed[article_id], 0
        return "", "", 0

    # -- the end --------------------------------------------------------------------------

    def close(self, lookup: StoreLookup | None, *, feeds_ok: bool) -> Totals:
        """Sort every discovered article into one bucket. ``lookup`` asks the state store
        (None without one: then a record handed to the feeds counts as exported when no feed
        failed)."""
        totals = Totals()
        self.fresh_failures.clear()
        for book, ident in ((b, i) for b in list(self.columns.values()) for i in b.ids):
            totals.discovered += 1
            kind, reason, revision = self._last_event(ident)
            stored = lookup(ident) if lookup is not None else None
            if kind == "scraped":
                if lookup is None:
                    published = feeds_ok
                else:
                    published = bool(stored and stored[0] == "exported" and stored[2] >= revision)
                if published and revision > 1:
                    totals.updated += 1
                    book.updated += 1
                elif published:
                    totals.new += 1
                    book.new += 1
                else:
                    totals.pending += 1
                    book.pending += 1
            elif kind == "unchanged":
                totals.unchanged += 1
                book.unchanged += 1
            elif kind in ("dropped", "failed"):
                self._count(totals, book, kind, reason)
                if kind == "failed" and (stored is None or stored[3] <= 1):
                    self.fresh_failures[reason] += 1
            elif stored is not None and stored[0] == "exported":
                # Delivered by an earlier run, and not fetched again in this one.
                totals.unchanged += 1
                book.unchanged += 1
            elif stored is not None and stored[0] in ("dropped", "failed"):
                self._count(totals, book, stored[0], stored[1] or "?")
            else:
                totals.pending += 1
                book.pending += 1
        totals.exported = totals.new + totals.updated
        self.totals = totals
        return totals

    @staticmethod
    def _count(totals: Totals, book: ColumnBook, kind: str, reason: str) -> None:
        if kind == "dropped":
            totals.dropped += 1
            book.dropped[reason] += 1
        else:
            totals.failed += 1
            book.failed[reason] += 1

    def failed_reasons(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for book in self.columns.values():
            out.update(book.failed)
        return out

    def dropped_reasons(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for book in self.columns.values():
            out.update(book.dropped)
        return out

    def field_coverage(self) -> dict[str, float]:
        """Share of this run's records that have each extracted field filled."""
        if not self.records:
            return {}
        return {name: round(self.coverage[name] / self.records, 4) for name in EXTRACTED_FIELDS}
