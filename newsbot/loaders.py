"""Which processor applies to which field of :class:`~newsbot.items.ArticleItem`.

The page object decides *where* each value is on the page; this loader decides *how* raw values
become record values, using the pure functions of :mod:`newsbot.processors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from itemloaders.processors import Identity, MapCompose, TakeFirst
from scrapy.loader import ItemLoader

from newsbot.items import ArticleItem
from newsbot.processors import normalize_space, parse_time, strip_point_marker


def unique(values: Iterable[Any]) -> list[Any]:
    """Values in first-seen order, each once.

    >>> unique(["王某", "李某", "王某"])
    ['王某', '李某']
    """
    return list(dict.fromkeys(values))


def join_lines(values: list[str]) -> str | None:
    """Non-empty lines joined with newlines, or None when there are none.

    >>> join_lines(["第一点", "", "第二点"])
    '第一点\\n第二点'
    >>> join_lines([]) is None
    True
    """
    return "\n".join(v for v in values if v) or None


def site_title(value: str) -> str:
    """A ``<title>`` without the site's suffix.

    >>> site_title("某公司发布年报 | 每经网")
    '某公司发布年报'
    """
    for suffix in ("| 每经网", "|每经网", "- 每经网", "_每经网"):
        value = value.removesuffix(suffix)
    return normalize_space(value)


def time_in_context(value: str, loader_context: dict[str, Any]) -> str | None:
    """``parse_time`` relative to the fetch time, for dates such as ``3小时前``."""
    now: datetime | None = loader_context.get("fetched_at")
    return parse_time(value, now=now)


class ArticleLoader(ItemLoader):
    """Loads a plain dict; :meth:`load_article` makes the typed item from it.

    Loading into the dataclass directly makes itemadapter look up the dataclass's fields on
    every value added, which costs more than the rest of the extraction.
    """

    default_item_class = dict
    default_input_processor = MapCompose(str.strip)
    default_output_processor = TakeFirst()

    title_in = MapCompose(site_title)
    source_in = MapCompose(normalize_space)
    published_at_raw_in = MapCompose(normalize_space)
    published_at_in = MapCompose(time_in_context)
    reporters_out = unique
    editors_out = unique
    byline_in = MapCompose(normalize_space)
    abstract_in = MapCompose(strip_point_marker)
    abstract_out = join_lines
    body_out = join_lines
    images_in = Identity()
    images_out = Identity()
    image_credit_in = MapCompose(normalize_space)
    tags_in = Identity()
    tags_out = Identity()
    body_in = Identity()
    fetched_at_in = Identity()
    extractor_version_in = Identity()
    kind_in = Identity()
    sourced_from_in = MapCompose(normalize_space)
    figures_in = Identity()
    figures_out = Identity()
    videos_in = Identity()
    videos_out = Identity()

    def load_article(self) -> ArticleItem:
        return ArticleItem(**self.load_item())
