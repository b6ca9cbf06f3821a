"""newsbot's components, installed by a Scrapy add-on so that a user's settings add to them.

``settings.py`` lists :class:`NewsbotAddon` in ``ADDONS``, and the nbd spider adds it to any
``ADDONS`` a user gives (:meth:`newsbot.spiders.nbd.NbdSpider.update_settings`). Scrapy runs
add-ons after every other source of settings (project, ``-s``, a script's, scrapyd's), so a
user's ``-s EXTENSIONS={"spidermon.contrib.scrapy.extensions.Spidermon": 500}`` no longer
replaces the state store, the run reporter, the progress log and the blocked guard: the add-on
puts them back beside it. A component the user names with ``None`` stays off (Scrapy's way of
turning one off), a feed format or storage the user maps to another class keeps the user's.

Two rules go with it:

- **Delivering needs the state store.** A run with feeds whose configuration turns the state
  store off without saying so (``StateExtension: None``, the delivery pipeline or middleware
  removed) would deliver without its exactly-once record: it is refused before anything is
  fetched, unless ``NEWSBOT_STATE_ENABLED=False`` says that is what is wanted.
- **User monitors read final stats.** Spidermon's extension is replaced by
  :class:`newsbot.ops.usermonitors.Spidermon`, whose close monitors run after the run's books
  are closed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.utils.misc import load_object

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: newsbot's add-ons and their order, as settings.py lists them: the nbd spider adds them to any
#: ``ADDONS`` a user gives, and the crawl command tries them on the settings first.
ADDONS: tuple[tuple[str, int], ...] = (
    ("newsbot.addon.NewsbotAddon", 0),
    ("newsbot.distributed.DistributedAddon", 10),
)

#: newsbot's components: (setting, import path, order). ``None`` turns off Scrapy's component
#: that newsbot's own replaces.
COMPONENTS: tuple[tuple[str, str, int | None], ...] = (
    # Before everything else, so nothing outside the perimeter is ever fetched (robots.txt
    # included); it also checks dont_filter start requests and redirects.
    ("DOWNLOADER_MIDDLEWARES", "newsbot.perimeter.PerimeterMiddleware", 40),
    ("DOWNLOADER_MIDDLEWARES", "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware", None),
    ("DOWNLOADER_MIDDLEWARES", "newsbot.perimeter.RobotsTxtMiddleware", 100),
    ("DOWNLOADER_MIDDLEWARES", "scrapy.downloadermiddlewares.retry.RetryMiddleware", None),
    ("DOWNLOADER_MIDDLEWARES", "newsbot.politeness.PoliteRetryMiddleware", 550),
    # First: the arguments of newsbot's log messages (links, titles, file names) are escaped,
    # so that no text from outside can forge a log line (newsbot.logsafe).
    ("EXTENSIONS", "newsbot.logsafe.SafeLog", 0),
    ("EXTENSIONS", "newsbot.state.extension.StateExtension", 10),
    ("EXTENSIONS", "newsbot.ops.extension.RunReporter", 20),
    # How the run's bodies end: its candidates go into the run reporter's report.
    ("EXTENSIONS", "newsbot.ops.tails.TailWatcher", 21),
    # After the run reporter (20): its report is what the metrics say.
    ("EXTENSIONS", "newsbot.ops.prometheus.PrometheusMetrics", 25),
    ("EXTENSIONS", "newsbot.ops.progress.ProgressLog", 30),
    ("EXTENSIONS", "newsbot.ops.archive.WarcArchive", 40),
    ("EXTENSIONS", "newsbot.politeness.BlockedGuard", 500),
    ("ITEM_PIPELINES", "newsbot.pipelines.ValidationPipeline", 100),
    ("ITEM_PIPELINES", "newsbot.pipelines.DeliveryPipeline", 800),
    # Before the delivery middleware's start (800): `-a retry_failed=1` replaces the whole start.
    ("SPIDER_MIDDLEWARES", "newsbot.ops.replay.RetryFailedMiddleware", 750),
    ("SPIDER_MIDDLEWARES", "newsbot.state.middleware.DeliveryMiddleware", 800),
)

#: Feed storages and formats (plain dicts): newsbot's publish atomically and record delivery.
FEED_STORAGES = {
    "": "newsbot.feeds.AtomicFileFeedStorage",
    "file": "newsbot.feeds.AtomicFileFeedStorage",
    # -o -: a reader that goes away (a broken pipe) fails the feed instead of losing records.
    "stdout": "newsbot.stdout_feed.StdoutFeedStorage",
}
FEED_EXPORTERS = {
    "jsonlines": "newsbot.exporters.JsonLinesExporter",
    "jsonl": "newsbot.exporters.JsonLinesExporter",
    "json": "newsbot.exporters.TrackedJsonItemExporter",
    "csv": "newsbot.exporters.TrackedCsvItemExporter",
    "xml": "newsbot.exporters.TrackedXmlItemExporter",
    "pickle": "newsbot.exporters.TrackedPickleItemExporter",
    "marshal": "newsbot.exporters.TrackedMarshalItemExporter",
    "hexo": "newsbot.exporters.HexoExporter",
    "atom": "newsbot.syndication_export.AtomExporter",
    "rss": "newsbot.syndication_export.RssExporter",
}

#: The delivery record's components: without any of them a delivering run has no exactly-once.
DELIVERY = (
    ("EXTENSIONS", "newsbot.state.extension.StateExtension"),
    ("ITEM_PIPELINES", "newsbot.pipelines.DeliveryPipeline"),
    ("SPIDER_MIDDLEWARES", "newsbot.state.middleware.DeliveryMiddleware"),
)

SPIDERMON = "spidermon.contrib.scrapy.extensions.Spidermon"
REMOTE_CONTROL = "scrapy.extensions.remote_control.RemoteControl"
USER_MONITORS = "newsbot.ops.usermonitors.Spidermon"


class ConfigurationError(ValueError):
    """Settings newsbot will not run with; the message says what to change."""


def _entry(settings: BaseSettings, name: str, path: str) -> tuple[bool, Any]:
    """Whether the component at ``path`` is named in the ``name`` dict (as a path or a class),
    and its value there."""
    target = load_object(path)
    for key, value in settings.getdict(name).items():
        if key == path or (not isinstance(key, str) and key is target):
            return True, value
        if isinstance(key, str) and key.startswith("newsbot.") and load_object(key) is target:
            return True, value
    return False, None


class NewsbotAddon:
    """Scrapy add-on: installs newsbot's components beside the user's (see the module docs)."""

    def update_settings(self, settings: BaseSettings) -> None:
        for name, path, order in COMPONENTS:
            named, value = _entry(settings, name, path)
            if named and (value is None) != (order is None):
                # One of newsbot's turned off, or the Scrapy component it replaces turned on, on
                # purpose (Scrapy's way): the user's word stands.
                continue
            if not named or order is None:
                settings.set_in_component_priority_dict(name, load_object(path), order)
        for name, defaults in (
            ("FEED_STORAGES", FEED_STORAGES),
            ("FEED_EXPORTERS", FEED_EXPORTERS),
        ):
            merged = {**defaults, **settings.getdict(name)}
            settings.set(name, merged, settings.getpriority(name) or "addon")
        if not settings.get("FEED_URI_PARAMS"):
            settings.set("FEED_URI_PARAMS", "newsbot.feeds.safe_uri_params", "addon")
        self._user_monitors(settings)
        skip_remote_control(settings)
        check_delivery(settings)

    @staticmethod
    def _user_monitors(settings: BaseSettings) -> None:
        extensions = settings.getdict("EXTENSIONS")
        for key, value in extensions.items():
            if value is not None and (key == SPIDERMON or _is_spidermon(key)):
                from newsbot.ops.usermonitors import Spidermon

                settings.replace_in_component_priority_dict(
                    "EXTENSIONS", load_object(SPIDERMON), Spidermon
                )
                logger.debug("Spidermon's close monitors run once newsbot's books are closed")
                return


def _is_spidermon(key: Any) -> bool:
    if isinstance(key, str):
        return False
    return f"{key.__module__}.{key.__qualname__}" == SPIDERMON


def skip_remote_control(settings: BaseSettings) -> None:
    """Leave Scrapy 2.19's remote control out of the extensions while it is off
    (``REMOTE_CONTROL_ENABLED``, off in newsbot's settings).

    Scrapy imports every extension it lists before the extension can say it is off, and this one
    imports aiohttp: a tenth of a second of every run's start, for nothing. Dropped from
    ``EXTENSIONS_BASE``, not named in ``EXTENSIONS``, so that the user's ``EXTENSIONS`` stays as
    given and nothing later imports the path to compare it with another component.

    >>> from scrapy.settings import Settings
    >>> from scrapy.utils.conf import build_component_list
    >>> def listed(**values):
    ...     settings = Settings(values)
    ...     skip_remote_control(settings)
    ...     return REMOTE_CONTROL in build_component_list(settings.getwithbase("EXTENSIONS"))
    >>> listed(REMOTE_CONTROL_ENABLED=False), listed(REMOTE_CONTROL_ENABLED=True)
    (False, True)
    """
    if settings.getbool("REMOTE_CONTROL_ENABLED"):
        return
    base = settings.getdict("EXTENSIONS_BASE")
    if base.pop(REMOTE_CONTROL, None) is not None:
        settings.set("EXTENSIONS_BASE", base, settings.getpriority("EXTENSIONS_BASE") or "addon")


def check_delivery(settings: BaseSettings) -> None:
    """Refuse to deliver without the state store unless the user asked for it
    (``NEWSBOT_STATE_ENABLED=False``).

    >>> from scrapy.settings import Settings
    >>> off = {"EXTENSIONS": {"newsbot.state.extension.StateExtension": None}}
    >>> try:
    ...     check_delivery(Settings({"FEEDS": {"a.jsonl": {}}, **off}))
    ... except ConfigurationError as e:
    ...     print(str(e)[:60])
    EXTENSIONS turns off newsbot.state.extension.StateExtension:
    >>> check_delivery(Settings({"FEEDS": {"a.jsonl": {}}, "NEWSBOT_STATE_ENABLED": False, **off}))
    """
    if not settings.getbool("NEWSBOT_STATE_ENABLED", True) or not settings.getdict("FEEDS"):
        return
    for name, path in DELIVERY:
        named, value = _entry(settings, name, path)
        if named and value is None:
            raise ConfigurationError(
                f"{name} turns off {path}: this run would deliver records without the state "
                "store (no exactly-once, no record of what was delivered); set "
                "NEWSBOT_STATE_ENABLED=False if that is what you want"
            )
