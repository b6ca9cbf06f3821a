"""Which state store a run uses: SQLite in ``NEWSBOT_STATE_DIR`` (one machine, the default), or
Redis when ``NEWSBOT_REDIS_URL`` is set (the workers of a distributed crawl share it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsbot.state.store import StateStore

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from newsbot.state.service import StateBackend


def open_store(settings: BaseSettings) -> StateBackend:
    """The run's state store, opened (and locked, for SQLite); raises ``StateError``."""
    url = settings.get("NEWSBOT_REDIS_URL")
    if url:
        from newsbot.state.redis_store import RedisStateStore

        return RedisStateStore(
            url,
            prefix=settings.get("NEWSBOT_REDIS_PREFIX") or "newsbot",
            worker_id=settings.get("NEWSBOT_WORKER_ID") or None,
            lease=settings.getfloat("NEWSBOT_REDIS_LEASE", 30.0),
            # Where this machine remembers the state it worked with (never start over silently).
            marker_dir=settings.get("NEWSBOT_STATE_DIR") or "state",
        )
    return StateStore(
        settings.get("NEWSBOT_STATE_DIR") or "state",
        check=settings.get("NEWSBOT_STATE_CHECK", "light"),
        full_check_days=settings.getfloat("NEWSBOT_STATE_FULL_CHECK_DAYS", 7),
        batch_size=settings.getint("NEWSBOT_STATE_BATCH_SIZE", 500),
    )
