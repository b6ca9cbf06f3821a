"""newsbot's own signals, so that accounting components never need to know spider internals.

Send them with ``crawler.signals.send_catch_log(signal, ...)``; every receiver gets keyword
arguments only.
"""

#: An article URL was found (list page, search answer, URL list). Arguments:
#: ``article_id: str``, ``url: str`` (canonical), ``meta: dict`` (list metadata), ``spider``.
article_discovered = object()

#: An article found in this run is not fetched: an earlier run delivered it (incremental runs;
#: the spider and the delivery middleware send it). Arguments: ``article_id: str``, ``url: str``,
#: ``meta: dict`` (as for article_discovered), ``spider``. Accounting counts it as discovered and
#: unchanged, whichever component skipped it (list pages, search answers, URL lists alike).
article_skipped = object()

#: An article could not become a record. Arguments: ``article_id: str | None``,
#: ``url: str``, ``reason: str`` (``http_404``, ``timeout``, ``blocked``, ``not_article`` …),
#: ``spider``.
article_failed = object()

#: A 200-status challenge page came instead of content (crawling: the spider sends it, the
#: BlockedGuard extension slows down and stops). Arguments: ``response``, ``kind``
#: (``article``, ``list`` or ``search``), ``spider``.
page_blocked = object()

#: A list page was read (crawling: the spider sends it). Arguments: ``column: str``,
#: ``page: int``, ``url: str``, ``article_ids: list[str]`` (the article links it listed, in the
#: perimeter, in order), ``spider``.
list_page_read = object()

#: A list page could not be read. Arguments: ``column: str``, ``page: int``, ``url: str``,
#: ``reason: str`` (a download failure reason such as ``http_500`` or ``robots_forbidden``;
#: ``unreadable`` for markup the spider cannot read, ``blocked`` for a challenge page),
#: ``spider``.
list_page_failed = object()

#: The spider is done with a list page it read: the requests of the articles it listed are out,
#: and the next page's too unless ``last``. ``last`` is true when the column's listing ends there
#: (no next link, a page or item limit, ``since`` or an earlier run's articles reached, an empty,
#: repeated or unreadable page). Arguments: ``column: str``, ``page: int``, ``last: bool``,
#: ``spider``. A list page that fails to download sends :data:`list_page_failed` instead.
list_page_done = object()

#: An article link of a column led to a redirect the perimeter refused (off the site, a spam
#: host…): the article fails with that reason, and the run report counts these per column so
#: that a column that suddenly redirects everything shows. Arguments: ``column: str | None``,
#: ``url: str`` (the article's canonical URL), ``target: str`` (where it redirected),
#: ``why: str``, ``spider``.
redirect_refused = object()

#: An article page's time sources disagree by more than a minute (the record keeps the visible
#: time). Arguments: ``article_id: str``, ``url: str``, ``visible: str`` and ``other: str`` (ISO
#: 8601), ``other_source: str`` (``script.pubDate``, ``json-ld`` or ``meta``), ``spider``.
time_disagreement = object()

#: The state store has recorded everything the run did and is about to close (delivery: the
#: state extension sends it after the feeds published). Arguments: ``store``
#: (a :class:`newsbot.state.service.StateBackend`, open), ``reason`` (the close reason).
state_closing = object()
