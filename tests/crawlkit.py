"""Running real crawls in tests: the unmodified spider through the real engine, against the
site copy, with the project's settings.

- :func:`run_crawl` runs ``nbd`` with politeness delays off, ``NEWSBOT_SITE_ROOT`` pointing at a
  local server and the state store in a temporary directory, and returns the records, the stats
  (a dict), the log and the exit status the crawl command would have given. By default the crawl
  runs in this process, on a reactor that runs in a thread of its own for the whole test session
  (a Twisted reactor cannot be started twice): nothing is paid for starting Python and importing
  Scrapy again. ``process=True`` runs ``scrapy crawl`` in a subprocess instead, for the tests of
  the process itself (its exit status as cron sees it, signals, kills).
- :class:`LoopbackResolver` is the DNS of those crawls: ``localhost`` resolves, every other name
  fails, so even a perimeter bug cannot make a test reach beyond 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.util
import io
import ipaddress
import itertools
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from logging.config import dictConfig
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import UsageError
from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

PROJECT = Path(__file__).resolve().parents[1]

#: Settings every test crawl runs with: fast, and unable to leave the machine.
TEST_SETTINGS: dict[str, str] = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "DOWNLOAD_TIMEOUT": "10",
    "NEWSBOT_RETRY_BACKOFF": "0.05",
    "NEWSBOT_RETRY_BACKOFF_MAX": "0.2",
    "NEWSBOT_BLOCKED_PAUSE": "0.1",
    "NEWSBOT_BLOCKED_PAUSE_MAX": "0.2",
    "NEWSBOT_BLOCKED_DELAY": "0",
    "DNS_RESOLVER": "tests.crawlkit.LoopbackResolver",
    "LOG_LEVEL": "INFO",
    "LOGSTATS_INTERVAL": "0",
}

#: The extension a subprocess crawl gets (``-s EXTENSIONS=...``, which newsbot's add-on adds to
#: its own) to hand its stats over as JSON.
STATS_FILE_EXTENSION = "tests.crawlkit.StatsFile"


@dataclass
class CrawlResult:
    """What a crawl left behind."""

    returncode: int
    records: list[dict[str, Any]]
    stats: dict[str, Any]
    log: str
    command: list[str]
    stdout: str = ""
    """What a subprocess crawl wrote to stdout (records sent to ``-o -``); in-process, nothing."""

    @property
    def stderr(self) -> str:
        """The log, which is what ``scrapy crawl`` writes to stderr."""
        return self.log

    def ids(self) -> list[str]:
        """Article ids of the records, in output order."""
        return [r["article_id"] for r in self.records]

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0))

    def prefixed(self, prefix: str) -> dict[str, Any]:
        """Stats under ``prefix`` (keys without it)."""
        return {k[len(prefix) :]: v for k, v in self.stats.items() if k.startswith(prefix)}

    def explain(self) -> str:
        return f"$ {' '.join(self.command)}\nexit {self.returncode}\n{self.log[-6000:]}"


def run_crawl(
    root: str,
    *arguments: str,
    tmp_path: Path,
    settings: dict[str, str] | None = None,
    spider: str = "nbd",
    runspider: Path | None = None,
    timeout: float = 120,
    process: bool = False,
) -> CrawlResult:
    """``scrapy crawl nbd -a ARG ... -o records.jsonl`` against ``root``: :func:`scrapy_crawl`
    with :data:`TEST_SETTINGS`, and the records it wrote.

    ``arguments`` are ``name=value`` spider arguments. ``runspider`` runs a spider file with
    ``scrapy runspider`` instead (still with the project's settings).
    """
    out = tmp_path / "records.jsonl"
    out.unlink(missing_ok=True)
    merged = {
        **TEST_SETTINGS,
        "NEWSBOT_SITE_ROOT": root,
        "NEWSBOT_STATE_DIR": str(tmp_path / "state"),
        **(settings or {}),
    }
    what = ["runspider", str(runspider)] if runspider else ["crawl", spider]
    command = [sys.executable, "-m", "scrapy", *what, "-o", f"{out}:jsonlines"]
    for name, value in merged.items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    result = scrapy_crawl(command, timeout=timeout, process=process)
    if out.exists():
        result.records = [json.loads(x) for x in out.read_text("utf-8").splitlines() if x]
    return result


def scrapy_crawl(
    command: Sequence[str], *, timeout: float = 120, process: bool = False
) -> CrawlResult:
    """``command``, a ``python -m scrapy crawl|runspider ...`` command line (as
    :func:`run_crawl` and ``tests.deliverykit.crawl_command`` make it): in this process, its
    options read by newsbot's command itself, or with ``process=True`` in a subprocess (cwd: the
    project). The result has no records (they are wherever ``-o`` said)."""
    assert list(command[1:3]) == ["-m", "scrapy"], command
    argv = list(command[3:])
    if process:
        return _run_process(argv, timeout)
    return _run_here(argv, timeout)


# -- in a subprocess -------------------------------------------------------------------------


def _run_process(argv: list[str], timeout: float) -> CrawlResult:
    with tempfile.TemporaryDirectory(prefix="crawlkit-") as tmp:
        stats_file = Path(tmp) / "stats.json"
        command = [
            sys.executable, "-m", "scrapy", *argv,
            "-s", f"EXTENSIONS={json.dumps({**_extensions(argv), STATS_FILE_EXTENSION: 0})}",
            "-s", f"CRAWLKIT_STATS_FILE={stats_file}",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
        env.pop("http_proxy", None)
        env.pop("https_proxy", None)
        done = subprocess.run(
            command, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, env=env
        )
        stats = read_stats(stats_file)
    log = done.stderr + done.stdout
    return CrawlResult(done.returncode, [], stats, log, command, stdout=done.stdout)


def _extensions(argv: list[str]) -> dict[str, Any]:
    """The ``-s EXTENSIONS=...`` of ``argv`` (the last one wins, as on the command line)."""
    found: dict[str, Any] = {}
    for option, value in itertools.pairwise(argv):
        if option == "-s" and value.startswith("EXTENSIONS="):
            found = json.loads(value.split("=", 1)[1])
    return found


class StatsFile:
    """Writes the crawl's final stats to ``CRAWLKIT_STATS_FILE`` as JSON (datetimes tagged, so
    :func:`read_stats` gives back the very dict ``crawler.stats.get_stats()`` held): how a test
    reads the stats of a crawl that ran in another process."""

    def __init__(self, crawler: Crawler, path: str) -> None:
        self.crawler = crawler
        self.path = Path(path)
        crawler.signals.connect(self.write, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFile:
        return cls(crawler, crawler.settings["CRAWLKIT_STATS_FILE"])

    def write(self) -> None:
        assert self.crawler.stats is not None
        text = json.dumps(self.crawler.stats.get_stats(), default=_tag, ensure_ascii=False)
        self.path.write_text(text, "utf-8")


def _tag(value: object) -> dict[str, str]:
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"a stat of type {type(value).__name__}: teach crawlkit.StatsFile")


def _untag(obj: dict[str, Any]) -> Any:
    if obj.keys() == {"$datetime"}:
        return datetime.datetime.fromisoformat(obj["$datetime"])
    return obj


def read_stats(path: Path) -> dict[str, Any]:
    """The stats a :class:`StatsFile` wrote; ``{}`` when the crawl wrote none (it never
    started, or it was killed)."""
    if not path.exists():
        return {}
    stats: dict[str, Any] = json.loads(path.read_text("utf-8"), object_hook=_untag)
    return stats


# -- in this process -------------------------------------------------------------------------

_ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class _ReactorThread:
    """The one reactor of the test session, running in a daemon thread from the first
    in-process crawl on. Crawls are started in it with ``callFromThread``; the test's thread
    waits for the crawl to end."""

    lock = threading.Lock()
    thread: threading.Thread | None = None

    @classmethod
    def reactor(cls) -> Any:
        with cls.lock:
            if cls.thread is None:
                cls.thread = cls._start()
        from twisted.internet import reactor

        return reactor

    @classmethod
    def ident(cls) -> int | None:
        cls.reactor()
        assert cls.thread is not None
        return cls.thread.ident

    @staticmethod
    def _start() -> threading.Thread:
        from scrapy.utils.log import DEFAULT_LOGGING
        from scrapy.utils.reactor import (
            install_reactor,
            is_reactor_installed,
            verify_installed_reactor,
        )
        from twisted.python import log as twisted_log

        if not is_reactor_installed():
            install_reactor(_ASYNCIO_REACTOR)
        verify_installed_reactor(_ASYNCIO_REACTOR)  # the project's TWISTED_REACTOR
        from twisted.internet import reactor

        loop = reactor._asyncioEventloop  # type: ignore[attr-defined]
        # The loop runs in the reactor's thread; this thread must not pick it up as its own.
        asyncio.set_event_loop(None)
        # What scrapy.utils.log.configure_logging does for a crawl process: Twisted's errors
        # (an unhandled error in a Deferred) go to the log, Scrapy's and Twisted's loggers get
        # their levels. Warnings stay with pytest.
        twisted_log.PythonLoggingObserver("twisted").start()
        dictConfig(DEFAULT_LOGGING)

        def run() -> None:
            asyncio.set_event_loop(loop)
            # The thread pool now, not in a crawl (its "during shutdown" trigger is the
            # reactor's, not a crawl's: _ShutdownTriggers).
            reactor.getThreadPool()
            reactor.run(installSignalHandlers=False)

        thread = threading.Thread(target=run, name="crawlkit-reactor", daemon=True)
        thread.start()
        return thread


class _CrawlLog(logging.StreamHandler):  # type: ignore[type-arg]
    """The log of one crawl, formatted as Scrapy's root handler formats it.

    It takes the records of the test's thread (which waits while the crawl runs), the reactor's
    and the reactor's thread pool: not those of the servers the test runs in threads of its own
    (a subprocess crawl's log has nothing of them either).
    """

    def __init__(self, settings: Settings, threads: set[int | None]) -> None:
        from scrapy.utils.log import TopLevelFormatter

        super().__init__(io.StringIO())
        self.addFilter(
            lambda record: (
                record.thread in threads
                or record.threadName.startswith("PoolThread-twisted.internet.reactor")
            )
        )
        self.setFormatter(
            logging.Formatter(
                fmt=settings.get("LOG_FORMAT"), datefmt=settings.get("LOG_DATEFORMAT")
            )
        )
        self.setLevel(settings.get("LOG_LEVEL"))
        if settings.getbool("LOG_SHORT_NAMES"):
            self.addFilter(TopLevelFormatter(["scrapy"]))

    def text(self) -> str:
        stream = self.stream
        assert isinstance(stream, io.StringIO)
        return stream.getvalue()


@contextlib.contextmanager
def _crawl_log(settings: Settings) -> Iterator[_CrawlLog]:
    """The crawl's handler on the root logger while it runs (one in-process crawl at a time:
    :data:`_ONE_AT_A_TIME`), the root level lowered to the crawl's ``LOG_LEVEL`` if needed."""
    handler = _CrawlLog(settings, {threading.get_ident(), _ReactorThread.ident()})
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, handler.level) if level else handler.level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextlib.contextmanager
def _environment() -> Iterator[None]:
    """What a subprocess crawl gets: the project as its working directory (relative ``-o``
    paths), no ``SCRAPY_*`` variables, no proxy."""
    hidden = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("SCRAPY_") or k in ("http_proxy", "https_proxy")
    }
    for name in hidden:
        del os.environ[name]
    try:
        with contextlib.chdir(PROJECT):
            yield
    finally:
        os.environ.update(hidden)


_ONE_AT_A_TIME = threading.Lock()


class _ShutdownTriggers:
    """What a crawl leaves for the end of its process: a ``before shutdown`` trigger (Scrapy's
    ``MailSender`` waits so for the e-mail it is sending: spidermon's alerts). A subprocess
    crawl runs them when its reactor stops; in-process, they are caught while the crawl runs and
    run when it ends, and the crawl is over when they are."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.caught: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

    def catch(self) -> None:
        add = self.reactor.addSystemEventTrigger

        def caught(phase: str, event: str, f: Any, *args: Any, **kwargs: Any) -> Any:
            if (phase, event) != ("before", "shutdown"):
                return add(phase, event, f, *args, **kwargs)
            self.caught.append((f, args, kwargs))
            return ("crawlkit", len(self.caught))

        self.reactor.addSystemEventTrigger = caught

    def run(self) -> defer.Deferred[Any]:
        if "addSystemEventTrigger" in vars(self.reactor):
            del self.reactor.addSystemEventTrigger  # the reactor's own again
        return defer.DeferredList(
            [defer.maybeDeferred(f, *args, **kwargs) for f, args, kwargs in self.caught]
        )


def _command(argv: list[str]) -> tuple[Any, Settings, list[str], argparse.Namespace]:
    """newsbot's command for ``argv`` with its options processed, as ``scrapy.cmdline`` does
    it (the project's settings, the command's defaults, then the command line)."""
    from scrapy.cmdline import ScrapyArgumentParser
    from scrapy.settings import Settings

    from newsbot.commands import crawl, runspider

    commands = {"crawl": crawl.Command, "runspider": runspider.Command}
    cmd = commands[argv[0]]()
    settings = Settings()
    settings.setmodule("newsbot.settings", priority="project")
    settings.setdict(cmd.default_settings, priority="command")
    cmd.settings = settings
    parser = ScrapyArgumentParser(conflict_handler="resolve")
    cmd.add_options(parser)
    opts, args = parser.parse_known_args(args=argv[1:])
    cmd.process_options(args, opts)
    return cmd, settings, args, opts


def _spider_class(command: str, settings: Settings, name: str) -> Any:
    if command == "crawl":
        from scrapy.spiderloader import get_spider_loader

        return get_spider_loader(settings).load(name)
    from scrapy.utils.spider import iter_spider_classes

    path = Path(name)
    spec = importlib.util.spec_from_file_location(f"crawlkit_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (found,) = iter_spider_classes(module)
    return found


def _run_here(argv: list[str], timeout: float) -> CrawlResult:
    with _ONE_AT_A_TIME, _environment():
        return _crawl_here(argv, timeout)


def _crawl_here(argv: list[str], timeout: float) -> CrawlResult:
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.log import log_scrapy_info
    from scrapy.utils.misc import build_from_crawler, load_object

    from newsbot.commands.crawl import check_settings
    from newsbot.verdict import conclude

    _, settings, args, opts = _command(argv)
    (name,) = args
    spidercls = _spider_class(argv[0], settings, name)
    # The crawl command's checks (newsbot.commands.crawl): a refusal there is exit status 2, a
    # matter of the process: test it with process=True.
    check_settings(settings)
    check = getattr(spidercls, "check_arguments", None)
    if check is not None:
        try:
            check(settings, dict(opts.spargs))
        except ValueError as e:
            raise UsageError(f"{name}: {e}") from e

    reactor = _ReactorThread.reactor()
    ended = threading.Event()
    outcome: dict[str, Any] = {}
    shutdown = _ShutdownTriggers(reactor)

    def start() -> None:
        # As AsyncCrawlerProcess sets the reactor up for its crawl: the crawl's DNS resolver.
        resolver = build_from_crawler(  # type: ignore[call-overload]
            load_object(settings["DNS_RESOLVER"]), runner, reactor=reactor
        )
        resolver.install_on_reactor()
        shutdown.catch()
        crawler = runner.create_crawler(spidercls)
        outcome["crawler"] = crawler
        task = runner.crawl(crawler, **opts.spargs)
        task.add_done_callback(finished)

    def finished(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            outcome["failure"] = task.exception()
        shutdown.run().addBoth(lambda _: ended.set())

    def start_or_fail() -> None:
        try:
            start()
        except Exception as e:  # noqa: BLE001 -- handed to the test's thread, which raises it
            outcome["error"] = e
            shutdown.run().addBoth(lambda _: ended.set())

    with _crawl_log(settings) as log:
        log_scrapy_info(settings)
        runner = AsyncCrawlerRunner(settings)
        reactor.callFromThread(start_or_fail)
        if not ended.wait(timeout):
            reactor.callFromThread(lambda: asyncio.ensure_future(runner.stop()))
            ended.wait(60)
            raise TimeoutError(f"the crawl ran over {timeout} s\n{log.text()[-6000:]}")
        if "error" in outcome:
            raise outcome["error"]
        if "failure" in outcome:
            failure = outcome["failure"]
            logging.getLogger("tests.crawlkit").error(
                "The crawl failed: %s", failure, exc_info=failure
            )
        crawler = outcome["crawler"]
        returncode = conclude(crawler, 1 if runner.bootstrap_failed else 0)
        try:
            stats = dict(crawler.stats.get_stats())
        except RuntimeError:  # no stats: the crawl never started
            stats = {}
        return CrawlResult(returncode, [], stats, log.text(), ["(in-process)", "scrapy", *argv])


@implementer(IResolverSimple)
class LoopbackResolver:
    """``DNS_RESOLVER`` for tests: ``localhost`` is 127.0.0.1, loopback addresses are
    themselves, every other name or address fails."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> LoopbackResolver:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if name.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
            return defer.succeed("127.0.0.1")
        try:
            if ipaddress.ip_address(name).is_loopback:
                return defer.succeed(name)
        except ValueError:
            pass
        return defer.fail(DNSLookupError(f"tests reach loopback addresses only, not {name!r}"))
