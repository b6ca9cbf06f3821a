"""The delivery service: everything a component may ask of delivery state, typed.

Two layers, both :class:`typing.Protocol`:

- :class:`StateBackend` is what a state store answers. One implementation per backend:
  :class:`~newsbot.state.store.StateStore` (SQLite, one machine) and
  :class:`~newsbot.state.redis_store.RedisStateStore` (Redis, a distributed crawl). mypy checks
  that both satisfy it (see ``_check_backends`` below) and ``tests/test_state_contract.py`` runs
  the same behavioural tests against both, so the backends cannot drift.
- :class:`DeliveryService` is what the crawl's components (spider, pipelines, feeds, exporters,
  the delivery middleware, the run reporter, the distributed worker) ask during a run. The
  state extension implements it; a component finds it with :func:`delivery_service`, which is
  ``crawler.get_extension(StateExtension)`` -- a call to follow, not an attribute set on the
  crawler behind the reader's back.

A method missing from a backend is a type error (and a contract-test failure), never a silent
skip at run time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newsbot.state.errors import StateUnavailable
    from newsbot.state.model import ArticleState, Delivery, PublishEntry, Recovery


class StateBackend(Protocol):
    """What every state store answers (SQLite and Redis alike)."""

    @property
    def directory(self) -> str | os.PathLike[str]:
        """Where the record is, for messages (a directory, or a redacted Redis URL)."""
        ...

    # -- reading ----------------------------------------------------------------------------

    def state_of(self, article_id: str | int) -> str | None: ...

    def is_settled(self, article_id: str | int) -> bool: ...

    def get(self, article_id: str | int) -> ArticleState | None: ...

    def counts(self) -> dict[str, int]: ...

    def reasons(self, state: str) -> dict[str, int]: ...

    def open_articles(self, max_attempts: int) -> Iterator[tuple[str, str | None, str | None]]: ...

    def failed_articles(self) -> Iterator[ArticleState]: ...

    def files_published_since(self, since: int) -> list[tuple[str, int]]: ...

    def exported_since(
        self, since: dt.datetime
    ) -> Iterator[tuple[str, str | None, str | None]]: ...

    def delivered(self, article_id: str | int) -> tuple[int, bytes | None] | None: ...

    def high_water_mark(self, column: str) -> dt.datetime | None: ...

    def destination_revision(self, destination: str, article_id: str | int) -> int | None:
        """The revision of the article a destination (feed target) was given; None: never."""
        ...

    def columns_with_marks(self) -> list[str]: ...

    # -- transitions ------------------------------------------------------------------------

    def discovered(
        self,
        article_id: str | int,
        *,
        url_date: str | None = None,
        column: str | None = None,
        now: int | None = None,
    ) -> bool: ...

    def failed(self, article_id: str | int, reason: str, *, url_date: str | None = None) -> str: ...

    def dropped(
        self, article_id: str | int, reason: str, *, url_date: str | None = None
    ) -> str: ...

    def first_with_text(self, text_hash: int, article_id: str | int) -> str | None: ...

    def set_high_water_mark(self, column: str, mark: int) -> None: ...

    def bulk_exported(self, deliveries: Iterable[tuple[Delivery, str]]) -> int: ...

    def note_destination(self, destination: str, deliveries: Iterable[Delivery]) -> None:
        """Record that a destination newsbot cannot watch (stdout, remote) was given these."""
        ...

    def files_adoptable(self) -> None:
        """Let a destination seen for the first time adopt what the files published so far
        hold (a rebuilt store: the files say nothing of destinations)."""
        ...

    def adopt(self, destination: str, pattern: str) -> int:
        """A destination never seen takes what files published before the store kept
        destinations (an upgraded store) hold, when their path matches ``pattern``."""
        ...

    # -- publishing -------------------------------------------------------------------------

    def register_temp(self, path: str) -> None: ...

    def forget_temp(self, path: str) -> None: ...

    def begin_publish(self, entries: Iterable[PublishEntry]) -> int: ...

    def finish_publish(self, intent_id: int, entries: Iterable[PublishEntry]) -> int: ...

    def abandon_publish(self, intent_id: int, temps: Iterable[str]) -> None: ...

    # -- life -------------------------------------------------------------------------------

    #: Told once when the store can no longer be written (a full disk, a lock held elsewhere,
    #: an unreachable Redis): the run then fails and stops.
    on_write_error: Callable[[StateUnavailable], None] | None

    def recover(self) -> Recovery: ...

    def wait_for_others(self, ids: Iterable[str], timeout: float | None = None) -> int:
        """Before the books close, wait while other workers publish articles of ``ids``;
        how many are still held elsewhere (always 0 on one machine)."""
        ...

    def commit(self) -> None: ...

    def maybe_commit(self) -> None: ...

    def close(self) -> None: ...


class DeliveryService(Protocol):
    """What a crawl's components ask of delivery state (the state extension answers)."""

    @property
    def store(self) -> StateBackend: ...

    # the spider's and the delivery middleware's incremental decisions
    def is_delivered(self, article_id: str) -> bool: ...

    def high_water_mark(self, column: str) -> dt.datetime | None: ...

    # the delivery pipeline
    def delivered(self, article_id: str) -> tuple[int, bytes | None] | None: ...

    def all_have(self, article_id: str, revision: int) -> bool:
        """Every destination of the run has this revision of the article (or a later one)."""
        ...

    # the feeds' item filters (newsbot.state.destinations)
    def lacks(self, destination: str, article_id: str, revision: int) -> bool: ...

    def first_with_text(self, text_hash: int, article_id: str) -> str | None: ...

    # feed storages and exporters
    def register_temp(self, path: str) -> None: ...

    def forget_temp(self, path: str) -> None: ...

    def note_written(self, delivery: Delivery, *, tracked: bool) -> None: ...

    def publishing(self, entries: list[PublishEntry]) -> int | None: ...

    def published(self, token: int | None, entries: list[PublishEntry]) -> None: ...

    def publish_failed(
        self, token: int | None, entries: list[PublishEntry], error: BaseException
    ) -> None: ...


def delivery_service(crawler: Crawler) -> DeliveryService | None:
    """The run's delivery service, or None when delivery state is off
    (``NEWSBOT_STATE_ENABLED``) or the command is not a crawl.

    Only once the extensions are built (a component's ``from_crawler`` in a middleware or
    pipeline, or any signal handler); an extension's own ``from_crawler`` is too early.
    """
    from newsbot.state.extension import StateExtension

    return crawler.get_extension(StateExtension)


if TYPE_CHECKING:

    def _check_backends() -> None:
        """mypy proves each backend is a :class:`StateBackend` (never called)."""
        from newsbot.state.extension import StateExtension
        from newsbot.state.redis_store import RedisStateStore
        from newsbot.state.store import StateStore

        sqlite: StateBackend = StateStore("x")
        redis: StateBackend = RedisStateStore("x")
        service: DeliveryService = StateExtension.__new__(StateExtension)
        del sqlite, redis, service
