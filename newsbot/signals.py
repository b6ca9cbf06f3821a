"""newsbot's own signals, so that accounting components never need to know spider internals.

Send them with ``crawler.signals.send_catch_log(signal, ...)``; every receiver gets keyword
arguments only.
"""

#: An article URL was found (list page, search answer, URL list). Arguments:
#: ``article_id: str``, ``url: str`` (canonical), ``meta: dict`` (list metadata), ``spider``.
article_discovered = object()

#: An article could not become a record. Arguments: ``article_id: str | None``,
#: ``url: str``, ``reason: str`` (``http_404``, ``timeout``, ``blocked``, ``not_article`` …),
#: ``spider``.
article_failed = object()

#: A 200-status challenge page came instead of content (crawling: the spider sends it, the
#: BlockedGuard extension slows down and stops). Arguments: ``response``, ``kind``
#: (``article``, ``list`` or ``search``), ``spider``.
page_blocked = object()
