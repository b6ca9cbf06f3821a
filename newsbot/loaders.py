"""Which processor applies to which field of :class:`~newsbot.items.ArticleItem`.

The page object decides *where* each value is on the page; this loader decides *how* raw values
become record values, using the pure functions of :mod:`newsbot.processors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from itemloaders.processors import Identity, MapCompose, TakeFirst
from itemloaders.utils import arg_to_iter, get_func_args

from newsbot.items import ArticleItem
from newsbot.processors import BEIJING, normalize_space, parse_time, strip_point_marker


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


def time_in_context(value: str | datetime, loader_context: dict[str, Any]) -> str | None:
    """``parse_time`` relative to the fetch time, for dates such as ``3小时前``; a time the page
    already read is taken as Beijing wall time to the second, as its text would be read back.

    >>> time_in_context(datetime(2021, 4, 10, 23, 49, 51, 5, tzinfo=BEIJING), {})
    '2021-04-10T23:49:51+08:00'
    >>> time_in_context(" 2021年4月10日 9:05 ", {})
    '2021-04-10T09:05:00+08:00'
    """
    if isinstance(value, datetime):
        if value.year >= 1000:
            # Formatting the time only for parse_time to read it back cost as much as reading
            # it from the page.
            return value.replace(tzinfo=BEIJING, microsecond=0).isoformat()
        value = value.strftime("%Y-%m-%d %H:%M:%S")  # strftime does not pad such a year
    now: datetime | None = loader_context.get("fetched_at")
    return parse_time(value, now=now)


class ArticleLoader:
    """Makes the typed item from a page's raw values, one value (or list) per field
    (:meth:`load`).

    Each field has an input processor (``<field>_in``, applied to its values) and an output
    processor (``<field>_out``, applied to what the input processor gave), with Scrapy's
    ItemLoader semantics: values are made lists (None is no value), ``MapCompose`` functions
    may take the ``loader_context``, and the defaults strip strings and take the first
    non-empty value. Not an ItemLoader: its per-value lookups cost more than the rest of the
    extraction (benchmarks/extract.py).

    >>> item = ArticleLoader().load({"title": "某公司发布年报 | 每经网",
    ...     "source": [" ", "每经"], "reporters": ["王某", " 李某 ", "王某"],
    ...     "byline": None, "body": ["一", "", "二"]})
    >>> item.title, item.source, item.reporters, item.byline, item.body
    ('某公司发布年报', '每经', ['王某', '李某'], None, '一\\n二')
    """

    default_input_processor: Any = MapCompose(str.strip)
    default_output_processor: Any = TakeFirst()

    title_in = MapCompose(site_title)
    source_in = MapCompose(normalize_space)
    published_at_raw_in = MapCompose(normalize_space)
    published_at_in = MapCompose(time_in_context)
    reporters_out = staticmethod(unique)
    editors_out = staticmethod(unique)
    byline_in = MapCompose(normalize_space)
    abstract_in = MapCompose(strip_point_marker)
    abstract_out = staticmethod(join_lines)
    body_out = staticmethod(join_lines)
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

    def __init__(self, **context: Any) -> None:
        self.context = context

    def load(self, values: dict[str, Any]) -> ArticleItem:
        """The item from one raw value (or list of values) per field. A field whose input is
        one plain function and whose output is ``TakeFirst`` (most of them) stops at its first
        non-empty value."""
        loaded = {}
        plans = _plans(type(self))
        context = self.context
        for name, value in values.items():
            if value is None:
                continue
            plan = plans.get(name)
            if plan is None:
                plan = plans[name] = _plan(type(self), name)
            first, output, as_is = plan
            cls = value.__class__
            batch = [value] if cls is str else value if cls is list else arg_to_iter(value)
            if first is not None:  # MapCompose(first) then TakeFirst: stop at the first value
                for v in batch:
                    result = first(v)
                    if result is not None and result != "":
                        loaded[name] = result
                        break
                continue
            if not as_is:  # an Identity input gives back what arg_to_iter already gave
                batch = _apply_input(_input_processor(type(self), name), batch, context)
            if batch:
                # An Identity output is the list itself.
                result = list(batch) if output is None else output(list(batch))
                if result is not None:
                    loaded[name] = result
        return ArticleItem(**loaded)


_INPUT_PROCESSORS: dict[type, dict[str, Any]] = {}
_OUTPUT_PROCESSORS: dict[type, dict[str, Any]] = {}


def _input_processor(cls: type, name: str) -> Any:
    """A field's input processor; a MapCompose as its functions, each with whether it takes the
    loader context (found once, not at every value as MapCompose does)."""
    known = _INPUT_PROCESSORS.get(cls)
    if known is None:
        known = _INPUT_PROCESSORS[cls] = {}
    found = known.get(name)
    if found is None:
        processor = getattr(cls, f"{name}_in", cls.default_input_processor)  # type: ignore[attr-defined]
        if isinstance(processor, MapCompose):
            found = [(f, "loader_context" in get_func_args(f)) for f in processor.functions]
        else:
            found = processor
        known[name] = found
    return found


def _apply_input(processor: Any, values: Any, context: dict[str, Any]) -> Any:
    """``values`` through a field's input processor (as :func:`_input_processor` gives it: a
    MapCompose unrolled into its functions, without MapCompose's per-value lookups)."""
    if not isinstance(processor, list):
        return arg_to_iter(processor(values))
    for function, wants_context in processor:
        mapped: list[Any] = []
        for v in values:
            result = function(v, loader_context=context) if wants_context else function(v)
            if result is None:
                continue
            if result.__class__ is str:
                mapped.append(result)
            else:
                mapped.extend(arg_to_iter(result))
        values = mapped
    return values


_PLANS: dict[type, dict[str, tuple[Any, Any, bool]]] = {}


def _plans(cls: type) -> dict[str, tuple[Any, Any, bool]]:
    return _PLANS.setdefault(cls, {})


def _plan(cls: type, name: str) -> tuple[Any, Any, bool]:
    """How :meth:`ArticleLoader.load` reads a field: (the input function, None, False) for a
    field read as ``MapCompose(f)`` then ``TakeFirst`` with ``f`` taking no loader context;
    else (None, the output processor or None for ``Identity``, whether the input processor is
    ``Identity``)."""
    processor = _input_processor(cls, name)
    output = _output_processor(cls, name)
    if (
        isinstance(processor, list)
        and isinstance(output, TakeFirst)
        and len(processor) == 1
        and not processor[0][1]
    ):
        return processor[0][0], None, False
    as_is = type(processor) is Identity
    return None, None if type(output) is Identity else output, as_is


def _output_processor(cls: type, name: str) -> Any:
    """A field's output processor, looked up once per loader class and field."""
    known = _OUTPUT_PROCESSORS.get(cls)
    if known is None:
        known = _OUTPUT_PROCESSORS[cls] = {}
    found = known.get(name)
    if found is None:
        found = known[name] = getattr(cls, f"{name}_out", cls.default_output_processor)  # type: ignore[attr-defined]
    return found
