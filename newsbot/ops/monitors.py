"""The rules that turn a run red, as spidermon monitors.

Each monitor checks one rule on the finished run and, when it does not hold, records a failure
code and a one-line message; :class:`FailRunAction` (the suite's failed action) hands them to
:func:`newsbot.outcome.fail_run`, which makes ``scrapy crawl`` exit 1 with the first one as its
last log line. The monitors run in this order, so the first failure is the likeliest cause:

1. ``site_unreachable``: robots.txt could not be read (nothing may be fetched), or not one page
   of the site answered while requests failed;
2. ``blocked`` / ``search_failed`` / ``search_answer_invalid``: the spider stopped for that
   reason (challenge pages past ``NEWSBOT_BLOCKED_LIMIT``; the search API);
3. ``storage_failed``: a feed, the archive or the state store could not be written (usually
   already recorded by the component that failed; this monitor also catches Scrapy's own feed
   storages);
4. ``list_failed`` / ``layout_changed`` (list pages): a column's list page could not be
   fetched, or could not be read, or its first page listed no article link;
5. ``layout_changed`` (article pages): fewer than ``NEWSBOT_MIN_FULL_RECORD_SHARE`` of the
   article pages gave a full record (title, time, body; and a byline in
   ``NEWSBOT_BYLINE_COLUMNS``), once at least ``NEWSBOT_LAYOUT_MIN_PAGES`` were read;
6. ``too_many_failures``: more failed articles than ``NEWSBOT_FAILURES_TOLERATED`` (1) and over
   ``NEWSBOT_MAX_FAILED_SHARE`` of those discovered, or every article discovered failed at its
   first try (an earlier failure failing again is already on the dead-letter list) (reasons
   in ``NEWSBOT_FAILURES_NOT_COUNTED`` are refusals by newsbot's own rules, listed in the report
   but not counted here);
7. ``too_many_drops``: the same for records dropped by validation (``NEWSBOT_MAX_DROPPED_SHARE``);
8. ``interrupted`` / ``pending_left``: the run ended early (a signal, a memory limit …; the
   ``closespider_*`` limits a user sets are not failures), or left discovered articles pending.

Why the suite is run by newsbot's own extension rather than spidermon's ``Spidermon``
extension: that extension runs its close monitors from a synchronous ``spider_closed`` handler,
which in Scrapy 2.19 runs before newsbot's feeds have published (feed storages publish in
asynchronous ``spider_closed`` handlers), so it would judge a run whose deliveries are not yet
known. newsbot runs this suite with spidermon's runner once the state store has recorded the
publishing. Other spidermon suites can still be enabled the usual way (``SPIDERMON_ENABLED``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from spidermon import Action, Monitor, MonitorSuite, monitors

from newsbot.outcome import FAILURE_KEY, fail_run, failed_feeds

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newsbot.ops.ledger import RunLedger, Totals

#: Close reasons that are limits the user set: the run stopped early on purpose.
LIMIT_PREFIX = "closespider_"
#: Failure codes recorded by the components that write (feeds, archive, state store).
STORAGE_CODES = ("storage_failed", "feed_refused", "state_failed", "archive_failed")


@dataclass
class Thresholds:
    """The documented limits (``NEWSBOT_*`` settings) the monitors apply."""

    max_failed_share: float = 0.1
    max_dropped_share: float = 0.1
    tolerated: int = 1
    min_full_record_share: float = 0.8
    layout_min_pages: int = 5
    not_counted: frozenset[str] = frozenset()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Thresholds:
        s = crawler.settings
        return cls(
            max_failed_share=s.getfloat("NEWSBOT_MAX_FAILED_SHARE", 0.1),
            max_dropped_share=s.getfloat("NEWSBOT_MAX_DROPPED_SHARE", 0.1),
            tolerated=s.getint("NEWSBOT_FAILURES_TOLERATED", 1),
            min_full_record_share=s.getfloat("NEWSBOT_MIN_FULL_RECORD_SHARE", 0.8),
            layout_min_pages=s.getint("NEWSBOT_LAYOUT_MIN_PAGES", 5),
            not_counted=frozenset(s.getlist("NEWSBOT_FAILURES_NOT_COUNTED")),
        )


@dataclass
class RunFacts:
    """What the monitors judge (passed to spidermon's runner as the ``newsbot`` data)."""

    ledger: RunLedger
    totals: Totals
    close_reason: str
    thresholds: Thresholds
    stats: dict[str, Any]
    failures: list[tuple[str, str]] = field(default_factory=list)
    """``(code, message)`` of the rules that did not hold, in order."""
    recorded: set[str] = field(default_factory=set)
    """Codes some component already recorded with fail_run (not recorded twice)."""
    checks: list[dict[str, Any]] = field(default_factory=list)
    """Every rule checked, with its outcome (for the report)."""


class RunMonitor(Monitor):
    """One rule (see the module docs). Subclasses implement ``test_rule``."""

    code = ""

    @property
    def facts(self) -> RunFacts:
        facts: RunFacts = self.data.newsbot
        return facts

    def fail_run(self, code: str, message: str, *, recorded: bool = False) -> None:
        self.facts.failures.append((code, message))
        if recorded:
            self.facts.recorded.add(code)
        self.facts.checks.append({"rule": self.monitor_name, "ok": False, "code": code})
        self.fail(f"{code}: {message}")

    def fail_all(self, failures: list[tuple[str, str]]) -> None:
        """Record every ``(code, message)`` (a rule may find several things wrong), failing
        the check with the first; nothing when the list is empty."""
        if not failures:
            return
        for code, message in failures:
            self.facts.failures.append((code, message))
            self.facts.checks.append({"rule": self.monitor_name, "ok": False, "code": code})
        code, message = failures[0]
        self.fail(f"{code}: {message}")

    def passed(self) -> None:
        self.facts.checks.append({"rule": self.monitor_name, "ok": True, "code": None})

    def too_many(self, bad: int, first_tries: int) -> bool:
        """Over the share limit and more than the few tolerated; or every article discovered
        was bad at its first try (``first_tries``: bad ones not tried before)."""
        limits, discovered = self.facts.thresholds, self.facts.totals.discovered
        if not bad:
            return False
        share = limits.max_dropped_share
        if self.code == "too_many_failures":
            share = limits.max_failed_share
        return first_tries == discovered or (bad > limits.tolerated and bad / discovered > share)


@monitors.name("site reachable")
class SiteReachableMonitor(RunMonitor):
    def test_rule(self) -> None:
        stats = self.facts.stats
        unreachable = {
            k.rsplit("/", 1)[1]: v
            for k, v in stats.items()
            if k.startswith("newsbot/robots/unreachable/")
        }
        if unreachable:
            host, why = next(iter(unreachable.items()))
            self.fail_run(
                "site_unreachable",
                f"robots.txt of {host} could not be read ({why}), so nothing may be fetched "
                "(RFC 9309); is the site down or NEWSBOT_SITE_ROOT wrong?",
            )
        # Download errors, not newsbot's own refusals (perimeter, robots.txt: IgnoreRequest).
        kinds = Counter(
            {
                k.rsplit(".", 1)[-1]: int(v)
                for k, v in stats.items()
                if k.startswith("downloader/exception_type_count/")
                and not k.endswith((".Refused", ".IgnoreRequest"))
            }
        )
        errors = sum(kinds.values())
        if self.facts.ledger.site_responses == 0 and errors:
            shown = ", ".join(f"{name} ×{n}" for name, n in kinds.most_common(3))
            self.fail_run(
                "site_unreachable",
                f"not one page of the site answered ({errors} requests failed: {shown})",
            )
        self.passed()


@monitors.name("not stopped by the site")
class StopReasonMonitor(RunMonitor):
    MESSAGES: ClassVar[dict[str, str]] = {
        "blocked": "the site answered with challenge pages (NEWSBOT_BLOCKED_LIMIT reached): "
        "it is blocking this crawler; try later, more slowly",
        "search_failed": "the search API failed",
        "search_answer_invalid": "the search API answered in a shape newsbot cannot read "
        "(has the API changed?)",
    }

    def test_rule(self) -> None:
        reason = self.facts.close_reason
        if reason in self.MESSAGES:
            pages = int(self.facts.stats.get("newsbot/blocked/pages", 0))
            extra = f" ({pages} challenge pages)" if reason == "blocked" else ""
            self.fail_run(reason, self.MESSAGES[reason] + extra)
        self.passed()


@monitors.name("storage written")
class StorageMonitor(RunMonitor):
    def test_rule(self) -> None:
        stats = self.facts.stats
        first = str(stats.get(FAILURE_KEY) or "")
        for code in STORAGE_CODES:
            if stats.get(f"newsbot/failures/{code}"):
                message = first.split(": ", 1)[1] if first.startswith(code + ":") else code
                self.fail_run(code, message, recorded=True)
        failed = failed_feeds(stats)
        if failed:
            self.fail_run("storage_failed", f"{failed} feeds could not be stored (see the log)")
        self.passed()


@monitors.name("list pages read")
class ListPagesMonitor(RunMonitor):
    def test_rule(self) -> None:
        # Every column that failed is named (an unreachable site fails them all), in the
        # order the run was asked for them; one failure per code.
        changed: list[str] = []
        unfetched: dict[str, list[tuple[str, str]]] = {}  # reason -> [(column, url)]
        for column, book in sorted(self.facts.ledger.columns.items(), key=_column_order):
            for page, url, reason in book.list_failures:
                if reason == "unreadable":
                    changed.append(
                        f"column {column} page {page} ({url}) is not a list page newsbot can "
                        "read: the site's list markup may have changed"
                    )
                if reason != "blocked" and page == 1:
                    unfetched.setdefault(reason, []).append((column, url))
            if book.empty_first_page:
                changed.append(
                    f"column {column}: its list page {book.empty_first_page} lists no article "
                    "link: the site's list markup or link form may have changed"
                )
        failures = [("layout_changed", "; ".join(changed))] if changed else []
        if unfetched:
            failures.append(("list_failed", _unfetched_columns(unfetched)))
        self.fail_all(failures)
        self.passed()


def _column_order(entry: tuple[str, Any]) -> tuple[int, str]:
    """Columns in numeric order (``3`` before ``332`` before ``1161``)."""
    column = entry[0]
    return (int(column), column) if column.isdigit() else (1 << 62, column)


def _unfetched_columns(unfetched: dict[str, list[tuple[str, str]]]) -> str:
    """The ``list_failed`` message naming every column whose first list page failed.

    >>> _unfetched_columns({"robots_forbidden": [("4", "http://x/columns/4/")]})
    'column 4: its list page http://x/columns/4/ could not be fetched (robots_forbidden)'
    >>> both = {"robots_unreachable": [("3", "u3"), ("332", "u332")], "http_500": [("9", "u9")]}
    >>> for part in _unfetched_columns(both).split("; "): print(part + ";")
    columns 3, 332: their list pages could not be fetched (robots_unreachable);
    column 9: its list page u9 could not be fetched (http_500);
    """
    parts = []
    for reason, failed in unfetched.items():
        if len(failed) == 1:
            column, url = failed[0]
            parts.append(f"column {column}: its list page {url} could not be fetched ({reason})")
        else:
            names = ", ".join(column for column, _ in failed)
            parts.append(f"columns {names}: their list pages could not be fetched ({reason})")
    return "; ".join(parts)


@monitors.name("article pages give full records")
class FullRecordsMonitor(RunMonitor):
    def test_rule(self) -> None:
        ledger, limits = self.facts.ledger, self.facts.thresholds
        pages = ledger.pages_parsed
        if pages >= max(1, limits.layout_min_pages):
            share = ledger.full_records / pages
            if share < limits.min_full_record_share:
                why = []
                if ledger.unreadable:
                    reasons = ", ".join(f"{k} {v}" for k, v in ledger.unreadable.most_common())
                    why.append(f"{sum(ledger.unreadable.values())} gave no record ({reasons})")
                if ledger.missing:
                    why.append(
                        "lacking: " + ", ".join(f"{k} {v}" for k, v in ledger.missing.most_common())
                    )
                self.fail_run(
                    "layout_changed",
                    f"only {ledger.full_records} of {pages} article pages ({share:.0%}) gave a "
                    f"full record (NEWSBOT_MIN_FULL_RECORD_SHARE={limits.min_full_record_share})"
                    f"; {'; '.join(why)}",
                )
        self.passed()


@monitors.name("failures under the threshold")
class FailuresMonitor(RunMonitor):
    code = "too_many_failures"

    def test_rule(self) -> None:
        limits, totals = self.facts.thresholds, self.facts.totals
        reasons = self.facts.ledger.failed_reasons()
        counted = Counter({r: n for r, n in reasons.items() if r not in limits.not_counted})
        total = sum(counted.values())
        fresh = sum(n for r, n in self.facts.ledger.fresh_failures.items() if r in counted)
        if self.too_many(total, fresh):
            shown = ", ".join(f"{r} {n}" for r, n in counted.most_common())
            refused = sum(reasons.values()) - total
            also = f" (and {refused} refused by newsbot's own rules)" if refused else ""
            self.fail_run(
                "too_many_failures",
                f"{total} of {totals.discovered} articles failed "
                f"({total / totals.discovered:.0%} > NEWSBOT_MAX_FAILED_SHARE="
                f"{limits.max_failed_share}): {shown}{also}",
            )
        self.passed()


@monitors.name("drops under the threshold")
class DropsMonitor(RunMonitor):
    code = "too_many_drops"

    def test_rule(self) -> None:
        limits, totals = self.facts.thresholds, self.facts.totals
        if self.too_many(totals.dropped, totals.dropped):
            reasons = self.facts.ledger.dropped_reasons()
            shown = ", ".join(f"{r} {n}" for r, n in reasons.most_common())
            self.fail_run(
                "too_many_drops",
                f"{totals.dropped} of {totals.discovered} records were dropped "
                f"({totals.dropped / totals.discovered:.0%} > NEWSBOT_MAX_DROPPED_SHARE="
                f"{limits.max_dropped_share}): {shown}",
            )
        self.passed()


@monitors.name("nothing left pending")
class PendingMonitor(RunMonitor):
    #: Close reasons other monitors explain.
    EXPLAINED = ("finished", *StopReasonMonitor.MESSAGES, *STORAGE_CODES)

    def test_rule(self) -> None:
        reason, totals = self.facts.close_reason, self.facts.totals
        if reason.startswith(LIMIT_PREFIX):
            self.passed()  # a limit the user set: what is pending is fetched next run
            return
        left = int(self.facts.stats.get("scheduler/enqueued", 0)) - int(
            self.facts.stats.get("scheduler/dequeued", 0)
        )
        tail = f"; {left} requests were still queued" if left > 0 else ""
        if reason not in self.EXPLAINED:
            self.fail_run(
                "interrupted",
                f"the run stopped early ({reason}) with {totals.pending} articles pending "
                f"(the next run fetches them){tail}",
            )
        if totals.pending:
            self.fail_run(
                "pending_left",
                f"{totals.pending} discovered articles were neither exported, unchanged, "
                f"dropped nor failed (the next run fetches them){tail}",
            )
        self.passed()


class FailRunAction(Action):
    """Record each broken rule with :func:`newsbot.outcome.fail_run`."""

    def run_action(self) -> None:
        facts: RunFacts = self.data.newsbot
        crawler = self.data.crawler
        for code, message in facts.failures:
            if code not in facts.recorded:
                fail_run(crawler, code, message)


class RunSuite(MonitorSuite):
    """newsbot's exit-code rules, in the order their failures are reported."""

    monitors = [  # noqa: RUF012 (spidermon's declarative form)
        SiteReachableMonitor,
        StopReasonMonitor,
        StorageMonitor,
        ListPagesMonitor,
        FullRecordsMonitor,
        FailuresMonitor,
        DropsMonitor,
        PendingMonitor,
    ]
    monitors_failed_actions = [FailRunAction]  # noqa: RUF012

    def __init__(self, *args: Any, crawler: Crawler | None = None, **kwargs: Any) -> None:
        # The user's alerts (NEWSBOT_ALERT_ACTIONS, spidermon actions), after FailRunAction.
        from newsbot.ops.alerts import alert_actions

        extra = [*(kwargs.pop("monitors_failed_actions", None) or ()), *alert_actions(crawler)]
        super().__init__(*args, monitors_failed_actions=extra, crawler=crawler, **kwargs)
