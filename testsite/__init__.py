"""The test site: one loopback HTTP/1.1 server for the tests, the benchmarks and
``tools/sitecopy.py``.

- :mod:`testsite.server`: the core, :class:`Server` (a thread running an asyncio loop, keep-alive,
  a hit log in ``server.hits``, custom answers with ``server.route``);
- :mod:`testsite.faults`: fault plans, ``server.plan(path, *faults)``: which request for a path
  gets which fault (statuses, Retry-After, late, reset, cut short, dribbled, hung, oversized,
  a gzip bomb, a challenge page, a redirect, held until a gate opens);
- the sites: :class:`SiteCopy` (the copy of 每经网 in fixtures/site and fixtures/articles),
  :class:`DeliverySite` (the copy with a column the delivery tests change),
  :class:`testsite.synthetic.SyntheticSite` (generated pages by the thousand, for the
  benchmarks; ``python -m testsite.synthetic`` serves it from the command line);
- :mod:`testsite.tls`: a throwaway certificate, to serve https.

::

    with SiteCopy() as site:                       # 127.0.0.1, a free port
        site.plan(A, Status(503), Status(503), Normal())   # 5xx twice, then the page
        run_crawl(site.root, ...)
        site.hits                                  # every request, in order

Only loopback addresses can be bound.
"""

from testsite.delivery import DeliverySite
from testsite.faults import (
    BrokenChunked,
    Challenge,
    Fault,
    GzipBomb,
    HangAfterHeaders,
    Hold,
    Huge,
    Late,
    Normal,
    Page,
    Plan,
    Redirect,
    ResetAfter,
    ResetBefore,
    ShortBody,
    SlowBody,
    SlowHeaders,
    Status,
)
from testsite.server import Server
from testsite.sitecopy import Article, SiteCopy, render_article
from testsite.wire import Hit, Reply

__all__ = [
    "Article",
    "BrokenChunked",
    "Challenge",
    "DeliverySite",
    "Fault",
    "GzipBomb",
    "HangAfterHeaders",
    "Hit",
    "Hold",
    "Huge",
    "Late",
    "Normal",
    "Page",
    "Plan",
    "Redirect",
    "Reply",
    "ResetAfter",
    "ResetBefore",
    "Server",
    "ShortBody",
    "SiteCopy",
    "SlowBody",
    "SlowHeaders",
    "Status",
    "render_article",
]
