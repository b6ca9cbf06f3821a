"""From a record (a dict or an item) to what the state store keeps about its delivery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from itemadapter import ItemAdapter

from newsbot.items import ArticleItem
from newsbot.state.fingerprints import content_hash
from newsbot.state.model import Delivery, epoch, url_date_key
from newsbot.urls import article_path_parts


def as_dict(item: Any) -> dict[str, Any]:
    """The record's fields as a dict, to read: a dict is itself, an :class:`ArticleItem` (a
    plain dataclass) its instance dict (its fields, no copy), anything else a copy by
    itemadapter. Every pipeline, the exporter and the run reporter read each record, so the
    four deep copies ``ItemAdapter.asdict`` made per record were a measurable share of a crawl.

    >>> item = ArticleItem(article_id="7", title="标题")
    >>> record = as_dict(item)
    >>> record["title"], list(record)[:3]
    ('标题', ['url', 'article_id', 'title'])
    >>> item.title = "新标题"; record["title"]
    '新标题'
    """
    if isinstance(item, dict):
        return item
    if type(item) is ArticleItem:
        return vars(item)
    return ItemAdapter(item).asdict()


def url_date(record: Mapping[str, Any]) -> str | None:
    """The date in the record's URL.

    >>> url_date({"url": "https://www.nbd.com.cn/articles/2021-04-10/1712345.html"})
    '2021-04-10'
    """
    url = record.get("url")
    found = article_path_parts(url) if isinstance(url, str) else None
    return found[0] if found else None


def delivery_of(item: Any) -> Delivery | None:
    """What gets recorded when this record is published, or None without an article id.

    >>> d = delivery_of({"url": "https://www.nbd.com.cn/articles/2021-04-10/7.html",
    ...                  "article_id": "7", "published_at": "2021-04-10T23:49:51+08:00",
    ...                  "column": "3", "revision": 2, "title": "t", "body": "b"})
    >>> (d.article_id, d.revision, d.published_at, d.url_date, d.column)
    ('7', 2, 1618069791, 20210410, '3')
    """
    record = as_dict(item)
    ident = record.get("article_id")
    if not ident:
        return None
    try:
        published = epoch(record.get("published_at"))
    except ValueError:
        published = None
    return Delivery(
        article_id=str(ident),
        content_hash=content_hash(record),
        revision=int(record.get("revision") or 1),
        published_at=published,
        url_date=url_date_key(url_date(record)),
        column=record.get("column"),
    )
