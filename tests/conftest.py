"""Shared fixtures: the local copy of the site (testsite.SiteCopy) on 127.0.0.x."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import distkit
from tests.redis_server import RedisServer
from testsite import SiteCopy

#: Rounds of the slow fault loops (``@pytest.mark.slow``) when --slow-rounds is not given: a few,
#: which is what CI runs. ``pytest -m slow --slow-rounds=20`` runs them all (README: Reliability).
DEFAULT_SLOW_ROUNDS = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow-rounds",
        type=int,
        default=None,
        help="rounds of the slow fault-injection loops (default: NEWSBOT_SLOW_ROUNDS, else "
        f"{DEFAULT_SLOW_ROUNDS})",
    )
    parser.addoption(
        "--slow-seed",
        type=int,
        default=None,
        help="seed of the random kill points (default: NEWSBOT_SLOW_SEED, else a new one, "
        "shown in failure messages)",
    )


@pytest.fixture
def slow_rounds(request: pytest.FixtureRequest) -> int:
    """Rounds a slow loop runs: ``--slow-rounds=N``, else NEWSBOT_SLOW_ROUNDS, else a few."""
    value = request.config.getoption("--slow-rounds") or os.environ.get("NEWSBOT_SLOW_ROUNDS")
    return int(value) if value else DEFAULT_SLOW_ROUNDS


@pytest.fixture
def slow_seed(request: pytest.FixtureRequest) -> int:
    """Seed for random fault points: ``--slow-seed=N``, else NEWSBOT_SLOW_SEED, else new."""
    value = request.config.getoption("--slow-seed") or os.environ.get("NEWSBOT_SLOW_SEED")
    return int(value) if value else random.randrange(1 << 32)


@pytest.fixture
def trap() -> Iterator[SiteCopy]:
    """A second host (127.0.0.2) that serves nothing and records every hit: the site copy's
    off-site links and redirects point here, so its hit log proves what left the perimeter."""
    with SiteCopy("127.0.0.2", serve_site=False) as server:
        yield server


@pytest.fixture
def site_factory(trap: SiteCopy) -> Iterator[Callable[..., SiteCopy]]:
    """``site_factory(**options)``: a started SiteCopy on 127.0.0.1 with those options (see
    its docstring: volume, search_shape, latency …), off-site links pointing at ``trap``; all
    are stopped at the end of the test. Faults are planned on it: ``site.plan(...)``."""
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
    ``site.hits`` the hit log, ``site.plan(path, *faults)`` its faults (testsite.faults)."""
    return site_factory()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server (unix socket) for the distributed tests; skips where there is none,
    except in CI."""
    yield from distkit.serve_redis()


@pytest.fixture
def crawl(redis_server: RedisServer) -> distkit.Crawl:
    """A distributed crawl of this test's own on ``redis_server`` (its own key prefix)."""
    return distkit.new_crawl(redis_server)
