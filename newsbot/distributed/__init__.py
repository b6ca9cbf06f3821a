"""Distributed crawling: several newsbot workers share one crawl through Redis (scrapy-redis).

Everything here is off unless ``NEWSBOT_REDIS_URL`` is set; then :class:`DistributedAddon`
(listed in ``ADDONS``) switches the run over: scrapy-redis's scheduler and dupefilter
(:mod:`newsbot.distributed.scheduler`), the delivery state in Redis
(:mod:`newsbot.state.redis_store`, chosen by :func:`newsbot.state.backends.open_store`), and the
worker's components (:mod:`newsbot.distributed.worker`). See README.md, Distributed crawling.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.utils.misc import load_object

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

WORKER_PARAM = "%(worker)s"


def with_worker(uri: str) -> str:
    """A local feed URI with the worker id in its file name (kept if it already has it).

    >>> with_worker("out/articles.jsonl")
    'out/articles-%(worker)s.jsonl'
    >>> with_worker("file:///data/%(name)s-%(time)s.jsonl")
    'file:///data/%(name)s-%(time)s-%(worker)s.jsonl'
    >>> with_worker("out/%(worker)s/a.jsonl"), with_worker("articles"), with_worker("-")
    ('out/%(worker)s/a.jsonl', 'articles-%(worker)s', '-')
    >>> with_worker("s3://bucket/a.jsonl")
    's3://bucket/a.jsonl'
    """
    if WORKER_PARAM in uri or uri == "-":
        return uri
    scheme = urlsplit(uri).scheme
    if scheme not in ("", "file") and not re.match(r"^[A-Za-z]:[\\/]", uri):
        return uri  # remote storages: the user's naming stands
    head, sep, name = uri.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    name = f"{stem}-{WORKER_PARAM}.{ext}" if dot and stem else f"{name}-{WORKER_PARAM}"
    return f"{head}{sep}{name}"


class DistributedAddon:
    """Scrapy add-on: with ``NEWSBOT_REDIS_URL`` set, make this run one worker of a shared
    crawl; without it, change nothing."""

    def update_settings(self, settings: BaseSettings) -> None:
        url = settings.get("NEWSBOT_REDIS_URL")
        if not url:
            return
        if not settings.getbool("NEWSBOT_STATE_ENABLED", True):
            raise ValueError(
                "NEWSBOT_REDIS_URL needs the delivery state (NEWSBOT_STATE_ENABLED): the "
                "workers share it to deliver each article once"
            )
        try:
            import redis  # noqa: F401
            import scrapy_redis  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                f"NEWSBOT_REDIS_URL is set but {exc.name} is not installed: "
                "pip install 'newsbot[distributed]'"
            ) from exc
        from newsbot.distributed.worker import (
            ClaimPipeline,
            LeaseDownloaderMiddleware,
            LeaseSpiderMiddleware,
            WorkerExtension,
        )

        # Whatever else says otherwise: a worker with another scheduler would not share the crawl.
        for name, value in (
            ("SCHEDULER", "newsbot.distributed.scheduler.RedisScheduler"),
            ("DUPEFILTER_CLASS", "newsbot.distributed.scheduler.JobDupeFilter"),
            # What scrapy-redis reads, for anyone looking; newsbot's scheduler never flushes.
            ("SCHEDULER_PERSIST", True),
            ("SCHEDULER_FLUSH_ON_START", False),
            ("REDIS_URL", url),
        ):
            settings.set(name, value, "cmdline")
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", LeaseSpiderMiddleware, 5)
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", LeaseDownloaderMiddleware, 5
        )
        settings.set_in_component_priority_dict("ITEM_PIPELINES", ClaimPipeline, 900)
        settings.set_in_component_priority_dict("EXTENSIONS", WorkerExtension, 20)
        self._name_feeds(settings)

    @staticmethod
    def _name_feeds(settings: BaseSettings) -> None:
        """Each worker writes its own files: ``%(worker)s`` goes into local feed file names."""
        feeds = settings.getdict("FEEDS")
        if not feeds:
            return
        exporters = settings.getwithbase("FEED_EXPORTERS")
        renamed: dict[str, Any] = {}
        for uri, options in feeds.items():
            fmt = (options or {}).get("format")
            path = exporters.get(fmt) if fmt else None
            directory = bool(path and getattr(load_object(path), "writes_directory", False))
            new = str(uri) if directory else with_worker(os.fspath(uri))
            if new != str(uri):
                logger.info("Distributed run: feed %s is written as %s", uri, new)
            renamed[new] = options
        settings.set("FEEDS", renamed, settings.getpriority("FEEDS") or "addon")
