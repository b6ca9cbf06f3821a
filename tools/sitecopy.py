#!/usr/bin/env python3
"""Serve the local copy of 每经网's URL tree (testsite.SiteCopy) on 127.0.0.x, for offline runs.

    python tools/sitecopy.py --port 8765            # then:
    scrapy crawl nbd -s NEWSBOT_SITE_ROOT=http://127.0.0.1:8765 -o articles.jsonl

What it serves is in testsite/sitecopy.py (and fixtures/site/README.md). ``--hit-log`` appends
every request to a JSON Lines file; ``--robots-status``, ``--robots-delay``, ``--latency`` and
``--challenge`` simulate trouble (fault plans, testsite/faults.py). Only loopback addresses can
be bound.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import sys
from pathlib import Path

# Run as a script from anywhere: the test site package is at the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testsite import Challenge, Late, Normal, SiteCopy, Status
from testsite.faults import Fault


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (127.0.0.x)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--volume", type=int, default=0, help="synthetic articles in column 9000")
    parser.add_argument("--offsite-root", default="http://127.0.0.2:9")
    parser.add_argument("--robots-status", type=int, default=200)
    parser.add_argument("--robots-delay", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--challenge", action="store_true", help="answer articles with a challenge")
    parser.add_argument("--hit-log", type=Path, help="append each request as a JSON line here")
    args = parser.parse_args(argv)
    try:
        site = SiteCopy(
            args.host,
            args.port,
            volume=args.volume,
            offsite_root=args.offsite_root,
            latency=args.latency,
            hit_log=args.hit_log,
        )
    except OSError as e:
        # A busy port is the usual case (a copy still running from before): one line, no
        # traceback, and what to do.
        busy = e.errno == errno.EADDRINUSE
        parser.exit(
            1,
            f"sitecopy: cannot listen on {args.host}:{args.port}: {e.strerror or e}"
            + (
                " (another site copy or server is using it: stop it, or choose another --port; "
                "--port 0 picks a free one)\n"
                if busy
                else "\n"
            ),
        )
    except ValueError as e:
        parser.exit(2, f"sitecopy: {e}\n")
    robots: Fault | None = None
    if args.robots_status != 200:
        robots = Status(args.robots_status, b"unavailable")
    if args.robots_delay:
        robots = Late(args.robots_delay, robots or Normal())
    if robots is not None:
        site.plan("/robots.txt", robots)
    if args.challenge:
        site.plan(r"/articles/.*", Challenge())
    site.start()
    print(
        f"Serving the site copy at {site.root} ({len(site.articles)} articles); "
        f"crawl it with: scrapy crawl nbd -s NEWSBOT_SITE_ROOT={site.root}",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        site.serve_forever()


if __name__ == "__main__":
    main()
