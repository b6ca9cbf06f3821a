"""Destinations: "delivered" is a property of a feed target, not of the article.

A destination is named by its feed URI *template*, normalised (:func:`destination_name`), so a
``%(time)s`` series keeps one name from run to run while ``-o out.csv`` is a destination of its
own. The store keeps, per destination, the article ids and revisions published to it (written
when a file is published, and by crash recovery from the publish intent). A run:

- skips an article (and stops a column's paging) only when every destination of the run already
  has it (:meth:`~newsbot.state.extension.StateExtension.is_delivered`);
- fetches each article once, and each feed gets, through :class:`DestinationFilter` (Scrapy's
  ``FEEDS`` ``item_filter``), only the records its destination lacks.
"""

from __future__ import annotations

import glob
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from scrapy.extensions.feedexport import ItemFilter

if TYPE_CHECKING:
    from newsbot.state.service import DeliveryService

_PARAM = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[sdif]")


def is_local(uri: str) -> bool:
    """True for a plain path or a ``file://`` URI (a file newsbot publishes itself).

    >>> is_local("out/articles.jsonl"), is_local("file:///tmp/a.csv"), is_local("-")
    (True, True, False)
    >>> is_local("s3://bucket/a.jsonl"), is_local("stdout:")
    (False, False)
    """
    if uri in ("-", "stdout:"):
        return False
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def destination_name(uri_template: str, cwd: str | None = None) -> str:
    """The destination a feed URI template names: an absolute, normalised path for a local
    file (placeholders kept, so a series is one destination); the URI itself otherwise.

    >>> destination_name("out/./a-%(time)s.jsonl", cwd="/srv/nb")
    '/srv/nb/out/a-%(time)s.jsonl'
    >>> destination_name("file:///srv/nb/blog/", cwd="/x")
    '/srv/nb/blog'
    >>> destination_name("s3://b/a.jsonl")
    's3://b/a.jsonl'
    """
    uri = str(uri_template)
    if not is_local(uri):
        return uri
    path = urlparse(uri).path if uri.startswith("file:") else uri
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(cwd or os.getcwd(), path)
    return os.path.normpath(path)


def destination_pattern(name: str) -> str:
    """A glob (for SQLite ``GLOB`` and :func:`fnmatch.fnmatchcase`) matching every file a
    destination's template can render: each placeholder becomes ``*``.

    >>> destination_pattern("/srv/a-%(time)s[1].jsonl")
    '/srv/a-*[[]1].jsonl'
    """
    parts = _PARAM.split(name)
    return "*".join(glob.escape(p) for p in parts)


class DestinationFilter(ItemFilter):
    """The feed's item filter: a record goes to this feed only when its destination does not
    already have the article at this revision (and the user's own filter, if any, accepts it)."""

    def __init__(
        self,
        feed_options: dict[str, Any] | None,
        *,
        service: DeliveryService,
        destination: str,
        inner: ItemFilter,
    ) -> None:
        super().__init__(feed_options)
        self.service = service
        self.destination = destination
        self.inner = inner

    def accepts(self, item: Any) -> bool:
        if not self.inner.accepts(item):
            return False
        from newsbot.state.records import as_dict

        try:
            record = as_dict(item)
        except TypeError:
            return True
        ident = record.get("article_id")
        if not ident:
            return True
        return self.service.lacks(self.destination, str(ident), int(record.get("revision") or 1))
