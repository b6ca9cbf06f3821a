"""Delivery state: what became of every article, across runs and crashes.

:mod:`~newsbot.state.store` is the SQLite store itself, :mod:`~newsbot.state.extension` wires it
to a crawl, :mod:`~newsbot.state.middleware` uses it to decide what to fetch. See
README.md, Delivery.
"""
