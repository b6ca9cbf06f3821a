"""The tests' Redis server (tests/redis_server.py) is ready when it answers, not when its socket
file appears: Redis binds the socket before it listens, and a client in between is refused."""

from __future__ import annotations

import socket
import sys
import textwrap
from pathlib import Path

from tests.redis_server import RedisServer

#: Stands in for redis-server: binds the socket it is given, waits, then listens and answers
#: PING, so the window between the file appearing and connections being taken is a second long.
LATE_LISTENER = """
import socket, sys, time
path = sys.argv[sys.argv.index("--unixsocket") + 1]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
time.sleep(1.0)
server.listen(8)
while True:
    conn, _ = server.accept()
    with conn:
        if conn.recv(64).startswith(b"PING"):
            conn.sendall(b"+PONG\\r\\n")
"""


def test_start_returns_once_the_server_takes_connections(tmp_path: Path) -> None:
    fake = tmp_path / "late-redis-server"
    fake.write_text(f"#!{sys.executable}\n" + textwrap.dedent(LATE_LISTENER))
    fake.chmod(0o755)
    server = RedisServer(str(fake)).start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(str(server.socket))  # refused if start() returned at bind
            client.sendall(b"PING\r\n")
            assert client.recv(64) == b"+PONG\r\n"
    finally:
        server.stop()
