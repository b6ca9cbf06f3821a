"""The test site's server core itself (testsite/): fault plans in turn, kept-alive and closed
connections, a held answer, refusing and listening again, loopback only."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest

from testsite import Hold, Normal, Server, SiteCopy, Status
from testsite.synthetic import SyntheticSite

ROBOTS = "/robots.txt"


def ask(conn: http.client.HTTPConnection, path: str) -> tuple[int, str | None, bytes]:
    conn.request("GET", path)
    answer = conn.getresponse()
    return answer.status, answer.getheader("Connection"), answer.read()


def test_a_plan_answers_its_faults_in_turn_the_last_for_ever() -> None:
    with SiteCopy() as site:
        site.plan(ROBOTS, Status(503), Normal(), Status(429, headers={"Retry-After": "1"}))
        conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
        statuses = [ask(conn, ROBOTS)[0] for _ in range(5)]
        assert statuses == [503, 200, 429, 429, 429]
        assert [(h.status, h.fault) for h in site.hits] == [
            (503, "Status(503)"),
            (200, "Normal"),
            *[(429, "Status(429)")] * 3,
        ]
        assert ask(conn, "/columns/3/")[0] == 200  # other paths: the site's own answer


def test_connections_are_kept_alive_unless_told() -> None:
    with SiteCopy() as site, SiteCopy(keep_alive=False) as closing:
        kept = http.client.HTTPConnection(site.host, site.port, timeout=10)
        first = [ask(kept, ROBOTS) for _ in range(2)]
        assert [(s, c) for s, c, _ in first] == [(200, "keep-alive")] * 2
        assert kept.sock is not None  # the same connection answered both
        once = http.client.HTTPConnection(closing.host, closing.port, timeout=10)
        assert ask(once, ROBOTS)[:2] == (200, "close")


def test_a_held_answer_waits_for_its_gate() -> None:
    gate = threading.Event()
    with SiteCopy() as site:
        site.plan(ROBOTS, Normal(), Hold(gate))
        conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
        assert ask(conn, ROBOTS)[0] == 200
        answers: list[int] = []
        waiting = threading.Thread(target=lambda: answers.append(ask(conn, ROBOTS)[0]))
        waiting.start()
        assert site.wait_hits(2)
        waiting.join(0.3)
        assert answers == []  # held
        gate.set()
        waiting.join(10)
        assert answers == [200]


def test_refused_then_listening_again_on_the_same_port() -> None:
    with Server() as server:
        server.refuse()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, server.port), timeout=5)
        server.listen()
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        assert ask(conn, "/anything")[0] == 404  # a bare server: a trap that records
        assert server.paths() == ["/anything"]


def test_the_synthetic_site_serves_its_column() -> None:
    with SyntheticSite(120, per_page=50, record=False) as site:
        conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
        status, _, page = ask(conn, "/columns/3/page/3")
        assert status == 200 and page.count(b'class="u-news-title"') == 20
        assert ask(conn, "/columns/3/page/4")[0] == 404
        assert site.hits == []


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Server("0.0.0.0")
