"""The operations extension: keeps the run's books, judges the run, writes its report.

During the crawl it feeds a :class:`~newsbot.ops.ledger.RunLedger` with the spider's and the
pipelines' events. When the run's deliveries are settled (the state store's
:data:`~newsbot.signals.state_closing`; without a store, once the feeds closed) it

1. sorts every discovered article into one bucket (``discovered = exported + unchanged +
   dropped + failed + pending``);
2. runs the exit-code rules (:mod:`newsbot.ops.monitors`, a spidermon suite), which record
   failures with :func:`newsbot.outcome.fail_run`;
3. updates the dead-letter file (:mod:`newsbot.ops.deadletter`), writes ``runs/<run id>.json``
   and logs the summary table.

``scrapy crawl`` (:mod:`newsbot.commands.crawl`) then exits 1 with the first failure as its
last log line, or 0 with a one-line summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.extensions.feedexport import FeedExporter
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.spider import DefaultSpider
from spidermon.contrib.scrapy.runners import SpiderMonitorResult, SpiderMonitorRunner
from twisted.internet.defer import Deferred
from w3lib.url import file_uri_to_path

from newsbot import __version__
from newsbot import signals as nb_signals
from newsbot.logsafe import shown_lines
from newsbot.ops import deadletter
from newsbot.ops.ledger import RunLedger
from newsbot.ops.monitors import RunFacts, RunSuite, Thresholds
from newsbot.ops.report import REPORT_VERSION, render, to_json
from newsbot.ops.run import RunContext, run_context, write_atomically
from newsbot.ops.tails import TailWatcher
from newsbot.outcome import fail_run, failed_feeds, failure
from newsbot.requestmeta import article_meta, list_meta
from newsbot.spiders.arguments import run_arguments
from newsbot.spiders.nbd import NbdSpider
from newsbot.state.errors import StateError
from newsbot.state.records import as_dict
from newsbot.state.service import delivery_service

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

    from newsbot.state.service import StateBackend

logger = logging.getLogger(__name__)

MODE_LABELS = {"urls": "(urls)", "query": "(search)"}


class _QuietResult(SpiderMonitorResult):
    """spidermon's result, logging at DEBUG: newsbot logs each broken rule itself (fail_run)
    and the summary; a monitor that crashed is logged with its traceback."""

    def log_info(self, msg: Any) -> None:
        self.log(msg, level=logging.DEBUG)

    def log(self, msg: Any, level: int = logging.DEBUG) -> None:
        # Spider.log() is deprecated in Scrapy 2.19.
        self.spider.logger.log(level, "[Spidermon] %s", msg)

    def write_errors(self) -> None:
        for status in self.step.error_statuses:
            for item in self.step.items_for_status(status):
                if item.reason:
                    self.log(f"{status}: {item.item.name}: {item.reason}", level=logging.DEBUG)
                else:
                    self.log(f"{status}: {item.item.name}\n{item.error}", level=logging.ERROR)


class _Runner(SpiderMonitorRunner):
    def create_result(self) -> SpiderMonitorResult:
        return _QuietResult(self.spider)


class RunReporter:
    """See the module docs. Off with ``NEWSBOT_OPS_ENABLED = False``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.ledger = RunLedger(
            frozenset(str(c) for c in settings.getlist("NEWSBOT_BYLINE_COLUMNS"))
        )
        self.max_attempts = settings.getint("NEWSBOT_STATE_MAX_ATTEMPTS", 3)
        self.context: RunContext | None = None
        self.report: dict[str, Any] | None = None
        self._mode_label = "(urls)"
        self._close_reason: str | None = None
        self._feeds: list[dict[str, Any]] = []
        self._feeds_closed: Deferred[None] | None = None
        self._done = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReporter:
        if not crawler.settings.getbool("NEWSBOT_OPS_ENABLED", True):
            raise NotConfigured("NEWSBOT_OPS_ENABLED is off")
        if crawler.spidercls is DefaultSpider:
            raise NotConfigured  # shell, fetch, view: nothing to say
        ext = cls(crawler)
        connect = crawler.signals.connect
        connect(ext.spider_opened, signal=signals.spider_opened)
        connect(ext.spider_closed, signal=signals.spider_closed)
        connect(ext.engine_stopped, signal=signals.engine_stopped)
        connect(ext.response_received, signal=signals.response_received)
        connect(ext.item_scraped, signal=signals.item_scraped)
        connect(ext.item_dropped, signal=signals.item_dropped)
        connect(ext.item_error, signal=signals.item_error)
        connect(ext.feed_slot_closed, signal=signals.feed_slot_closed)
        connect(ext.feed_exporter_closed, signal=signals.feed_exporter_closed)
        connect(ext.article_discovered, signal=nb_signals.article_discovered)
        connect(ext.article_failed, signal=nb_signals.article_failed)
        connect(ext.article_skipped, signal=nb_signals.article_skipped)
        connect(ext.page_blocked, signal=nb_signals.page_blocked)
        connect(ext.list_page_read, signal=nb_signals.list_page_read)
        connect(ext.list_page_failed, signal=nb_signals.list_page_failed)
        connect(ext.redirect_refused, signal=nb_signals.redirect_refused)
        connect(ext.time_disagreement, signal=nb_signals.time_disagreement)
        connect(ext.state_closing, signal=nb_signals.state_closing)
        return ext

    # -- during the crawl -----------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        self.context = run_context(self.crawler)
        args = run_arguments(spider)
        self._mode_label = MODE_LABELS.get(args.mode, "(urls)")
        if args.mode == "columns" and not args.retry_failed and isinstance(spider, NbdSpider):
            # The report lists the columns in the order the run was asked for them.
            for column in spider.config.columns:
                self.ledger.book(str(column))
        if self.crawler.get_extension(FeedExporter) is not None:
            self._feeds_closed = Deferred()

    def _column(self, meta: dict[str, Any] | None) -> str:
        column = (meta or {}).get("column")
        return str(column) if column else self._mode_label

    def article_discovered(self, article_id: str, url: str, meta: dict[str, Any]) -> None:
        self.ledger.discovered(str(article_id), self._column(meta))

    def article_skipped(self, article_id: str, url: str, meta: dict[str, Any]) -> None:
        # Delivered by an earlier run: unchanged for this one, in every mode.
        self.ledger.skipped(str(article_id), self._column(meta))

    def article_failed(self, article_id: str | None, url: str, reason: str) -> None:
        if article_id:
            self.ledger.failed(str(article_id), reason, url)

    def list_page_read(self, column: str, page: int, url: str, article_ids: list[str]) -> None:
        self.ledger.list_page_read(column, page, url, article_ids)

    def list_page_failed(self, column: str, page: int, url: str, reason: str) -> None:
        self.ledger.list_page_failed(column, page, url, reason)

    def redirect_refused(self, column: str | None, url: str, target: str, why: str) -> None:
        self.ledger.redirect_refused(str(column) if column else self._mode_label)

    def time_disagreement(
        self, article_id: str, url: str, visible: str, other: str, other_source: str
    ) -> None:
        self.ledger.time_disagreement(article_id, url, visible, other, other_source)

    def page_blocked(self, response: Response, kind: str) -> None:
        request = response.request
        meta = (article_meta(request) or list_meta(request)) if request is not None else None
        column = meta["column"] if meta is not None else None
        self.ledger.blocked(str(column) if column else self._mode_label)

    def response_received(self, response: Response, request: Request) -> None:
        if not request.url.endswith("/robots.txt"):
            self.ledger.site_responses += 1

    def item_scraped(self, item: Any) -> None:
        record = as_dict(item)
        ident = record.get("article_id")
        if not ident:
            return
        self.ledger.record(record)
        self.ledger.scraped(
            str(ident), int(record.get("revision") or 1), record.get("published_at")
        )

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        record = as_dict(item)
        ident = record.get("article_id")
        reason = getattr(exception, "reason", None) or "dropped"
        if not getattr(exception, "settles", True) and reason != "unchanged":
            return  # a second record of an article within the run: the first one counts
        self.ledger.record(record)
        if not ident:
            return
        if reason == "unchanged":
            self.ledger.unchanged(str(ident))
        else:
            self.ledger.dropped(str(ident), reason)

    def item_error(self, item: Any) -> None:
        ident = ItemAdapter(item).get("article_id")
        if ident:
            self.ledger.failed(str(ident), "pipeline_error", str(ItemAdapter(item).get("url")))

    def feed_slot_closed(self, slot: Any) -> None:
        self._feeds.append(
            {"uri": str(slot.uri), "format": slot.format, "records": int(slot.itemcount)}
        )

    def feed_exporter_closed(self) -> None:
        if self._feeds_closed is not None and not self._feeds_closed.called:
            self._feeds_closed.callback(None)

    # -- the end --------------------------------------------------------------------------

    def state_closing(self, store: StateBackend, reason: str) -> None:
        self._close_reason = reason
        self._finish(store)

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        self._close_reason = self._close_reason or reason
        if delivery_service(self.crawler) is not None:
            return  # the state store's state_closing finishes the run
        if self._feeds_closed is not None and not self._feeds_closed.called:
            await maybe_deferred_to_future(self._feeds_closed)
        self._finish(None)

    def engine_stopped(self) -> None:
        # A crawl whose state extension never reached its end still gets its report.
        if not self._done and self.context is not None:
            self._finish(None)

    def _finish(self, store: StateBackend | None) -> None:
        if self._done:
            return
        self._done = True
        stats = self.crawler.stats
        assert stats is not None
        reason = self._close_reason or str(stats.get_value("finish_reason") or "finished")
        lookup = None
        if store is not None:
            get = store.get

            def lookup(ident: str) -> tuple[str, str | None, int, int] | None:
                row = get(ident)
                if row is None:
                    return None
                return (row.state, row.reason, row.revision, row.attempts)

        feeds_ok = not failed_feeds(stats.get_stats())
        try:
            totals = self.ledger.close(lookup, feeds_ok=feeds_ok)
        except (sqlite3.Error, StateError) as exc:  # the store broke: judge without it
            logger.error("Cannot read the state store for the report (%s)", exc)
            totals = self.ledger.close(None, feeds_ok=feeds_ok)
            store = None
        facts = RunFacts(
            ledger=self.ledger,
            totals=totals,
            close_reason=reason,
            thresholds=Thresholds.from_crawler(self.crawler),
            stats=dict(stats.get_stats()),
        )
        self._judge(facts)
        stats.set_value("newsbot/run/discovered", totals.discovered)
        stats.set_value("newsbot/run/pending", totals.pending)
        report = self._report(facts, store)
        self.report = report
        try:
            write_atomically(Path(report["report_path"]), to_json(report))
        except OSError as exc:
            fail_run(self.crawler, "storage_failed", f"cannot write the run report: {exc}")
        # Its lines hold paths and failure texts: each is escaped, the line breaks are its own.
        logger.info("%s", shown_lines(render(report).splitlines()))

    def _judge(self, facts: RunFacts) -> None:
        spider = self.crawler.spider
        runner = _Runner(spider=spider)
        result = runner.run(
            RunSuite(crawler=self.crawler),
            stats=facts.stats,
            stats_history=[],
            crawler=self.crawler,
            spider=spider,
            job=None,
            # spidermon's own extension passes the name too (its Slack, Telegram, Sentry
            # actions read it); newsbot's alerts are those actions.
            sc_spider_name=getattr(spider, "name", None),
            newsbot=facts,
        )
        crashed = [r for r in result.monitor_results if r.error and not r.reason]
        crashed += [a for a in result.monitors_failed_action_results if a.error]
        if crashed:
            fail_run(self.crawler, "monitor_error", "a run check crashed (see the log)")

    # -- the report -----------------------------------------------------------------------

    def _report(self, facts: RunFacts, store: StateBackend | None) -> dict[str, Any]:
        context = self.context or run_context(self.crawler)
        stats = self.crawler.stats
        assert stats is not None
        first = failure(self.crawler)
        spider = self.crawler.spider
        ledger, totals = facts.ledger, facts.totals
        report: dict[str, Any] = {
            "report_version": REPORT_VERSION,
            "run_id": context.run_id,
            "job": context.job,
            "spider": getattr(spider, "name", None),
            "newsbot_version": __version__,
            "arguments": dict(run_arguments(spider).given),
            "site_root": self.crawler.settings.get("NEWSBOT_SITE_ROOT"),
            "started_at": context.started_at.isoformat(timespec="milliseconds"),
            "finished_at": _now_iso(),
            "close_reason": facts.close_reason,
            "status": "failed" if first else "ok",
            "exit_code": 1 if first else 0,
            "failure": _split_failure(first) if first else None,
            "failures": [{"code": c, "message": m} for c, m in facts.failures],
            "checks": facts.checks,
            "accounting": totals.to_dict(),
            "columns": {name: book.to_dict() for name, book in ledger.columns.items()},
            "field_coverage": ledger.field_coverage(),
            "full_records": {
                "records": ledger.records,
                "pages": ledger.pages_parsed,
                "full": ledger.full_records,
                "lacking": dict(ledger.missing),
                "no_record": dict(ledger.unreadable),
            },
            "published": {
                "earliest": ledger.earliest.isoformat() if ledger.earliest else None,
                "latest": ledger.latest.isoformat() if ledger.latest else None,
            },
            "outputs": self._outputs(store, context),
            "time_disagreements": list(ledger.time_disagreements),
            "failed_articles": [
                {"article_id": i, "reason": r, "url": u}
                for i, (r, u) in sorted(ledger.failures_this_run.items())
            ],
            "dead_letter": self._dead_letter(store, context),
            "archive": self._archive_info(),
            "boilerplate_candidates": self._boilerplate_candidates(),
            "report_path": str(context.report_path),
        }
        report["stats"] = dict(stats.get_stats())
        return report

    def _archive_info(self) -> dict[str, Any] | None:
        from newsbot.ops.archive import WarcArchive  # optional: warcio

        archive = self.crawler.get_extension(WarcArchive)
        return archive.info if archive is not None else None

    def _boilerplate_candidates(self) -> list[dict[str, Any]]:
        watcher = self.crawler.get_extension(TailWatcher)
        return watcher.candidates() if watcher is not None else []

    def _outputs(self, store: StateBackend | None, context: RunContext) -> list[dict[str, Any]]:
        """Files this run published, with their new records: from the store when there is one
        (what was really renamed into place), grouped by feed; else what the feeds wrote."""
        feeds = []
        for feed in self._feeds:
            uri = feed["uri"]
            local = uri.startswith("file:") or "://" not in uri
            path = os.path.abspath(file_uri_to_path(uri) if uri.startswith("file:") else uri)
            feeds.append((path if local else uri, local, feed))
        if store is None:
            return [
                {"path": where, "format": feed["format"], "records": feed["records"], "files": 1}
                for where, _, feed in feeds
                if feed["records"]
            ]
        published = store.files_published_since(int(context.started_at.timestamp()))
        out: dict[str, dict[str, Any]] = {}
        for path, records in published:
            owner = next(
                (
                    (where, feed)
                    for where, local, feed in feeds
                    if local and (path == where or path.startswith(where + os.sep))
                ),
                None,
            )
            key = owner[0] if owner else path
            entry = out.setdefault(
                key,
                {"path": key, "format": owner[1]["format"] if owner else None, "records": 0,
                 "files": 0},
            )  # fmt: skip
            entry["records"] += records
            entry["files"] += 1
        for where, local, feed in feeds:
            if not local and feed["records"]:
                out[where] = {"path": where, "format": feed["format"],
                              "records": feed["records"], "files": 1}  # fmt: skip
        return list(out.values())

    def _dead_letter(
        self, store: StateBackend | None, context: RunContext
    ) -> dict[str, Any] | None:
        """Update ``dead-letter.jsonl`` (newsbot/ops/deadletter.py): every article the store
        holds as failed."""
        if store is None:
            return None
        path = context.dead_letter_path
        try:
            return deadletter.update(path, store, self.ledger.touched(), self.max_attempts)
        except OSError as exc:
            fail_run(self.crawler, "storage_failed", f"cannot write {path}: {exc}")
            return {"path": str(path), "count": store.counts()["failed"]}


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _split_failure(text: str) -> dict[str, str]:
    """``"code: message"`` → ``{"code", "message"}``.

    >>> _split_failure("storage_failed: disk full")
    {'code': 'storage_failed', 'message': 'disk full'}
    """
    code, _, message = text.partition(": ")
    return {"code": code, "message": message}
