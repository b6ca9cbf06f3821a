"""Shared fixtures: the local copy of the site (tools/sitecopy.py) on 127.0.0.x."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from sitecopy import SiteCopy


@pytest.fixture
def trap() -> Iterator[SiteCopy]:
    """A second host (127.0.0.2) that serves nothing and records every hit: the site copy's
    off-site links and redirects point here, so its hit log proves what left the perimeter."""
    with SiteCopy("127.0.0.2", serve_site=False) as server:
        yield server


@pytest.fixture
def site_factory(trap: SiteCopy) -> Iterator[Callable[..., SiteCopy]]:
    """``site_factory(**options)``: a started SiteCopy on 127.0.0.1 with those options (see
    its docstring: robots_status, robots_delay, challenge_articles, search_shape, volume …),
    off-site links pointing at ``trap``; all are stopped at the end of the test."""
    started: list[SiteCopy] = []

    def make(**options: Any) -> SiteCopy:
        options.setdefault("offsite_root", trap.root)
        server = SiteCopy(**options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def site(site_factory: Callable[..., SiteCopy]) -> SiteCopy:
    """The site copy with default options; ``site.root`` is the NEWSBOT_SITE_ROOT to crawl,
    ``site.hits`` the hit log."""
    return site_factory()
