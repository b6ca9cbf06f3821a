"""Delivery state: what became of every article, across runs and crashes.

Follow a record from response to published file by reading calls:
:mod:`~newsbot.state.service` says what components may ask (``StateBackend``, the stores;
``DeliveryService``, the crawl's view) and how they find it (``delivery_service(crawler)``);
:mod:`~newsbot.state.extension` implements the service over one backend --
:mod:`~newsbot.state.store` (SQLite) or :mod:`~newsbot.state.redis_store` (Redis), chosen by
:mod:`~newsbot.state.backends` -- with the data model in :mod:`~newsbot.state.model`, the
errors in :mod:`~newsbot.state.errors` and the filesystem helpers in
:mod:`~newsbot.state.files`. :mod:`~newsbot.state.incremental` is the incremental rule and
:mod:`~newsbot.state.middleware` applies it and adds owed and recheck requests. See
README.md, Delivery.
"""
