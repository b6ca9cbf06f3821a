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


class ArticleLoader:
    """Collects a page's raw values field by field; :meth:`load_article` makes the typed item.

    Each field has an input processor (``<field>_in``, applied to each batch of values as it is
    added) and an output processor (``<field>_out``, applied to all of them at the end), with
    Scrapy's ItemLoader semantics: values are made lists (None is no value), ``MapCompose``
    functions may take the ``loader_context``, and the defaults strip strings and take the first
    non-empty value. Not an ItemLoader: its per-value lookups cost more than the rest of the
    extraction (benchmarks/extract.py).

    >>> loader = ArticleLoader()
    >>> loader.add_value("title", "某公司发布年报 | 每经网")
    >>> loader.add_value("reporters", ["王某", " 李某 ", "王某"])
    >>> loader.add_value("source", None)
    >>> loader.get_output_value("title"), loader.get_output_value("reporters")
    ('某公司发布年报', ['王某', '李某'])
    >>> loader.get_output_value("source") is None
    True
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
        self._values: dict[str, list[Any]] = {}

    def add_value(self, name: str, value: Any) -> None:
        if value is None:
            return
        # arg_to_iter for the two kinds of value a page object adds, without its class lookups
        cls = value.__class__
        values = [value] if cls is str else value if cls is list else arg_to_iter(value)
        processor = _input_processor(type(self), name)
        if isinstance(processor, list):  # a MapCompose, unrolled
            for function, wants_context in processor:
                mapped: list[Any] = []
                for v in values:
                    result = (
                        function(v, loader_context=self.context) if wants_context else function(v)
                    )
                    if result is None:
                        continue
                    if result.__class__ is str:
                        mapped.append(result)
                    else:
                        mapped.extend(arg_to_iter(result))
                values = mapped
        else:
            values = arg_to_iter(processor(values))
        if values:
            found = self._values.get(name)
            if found is None:
                self._values[name] = list(values)
            else:
                found.extend(values)

    def load(self, values: dict[str, Any]) -> ArticleItem:
        """The item from one raw value (or list of values) per field: the same as one
        :meth:`add_value` per field and :meth:`load_article`, without their per-call lookups.
        A field whose input is one plain function and whose output is ``TakeFirst`` (most of
        them) is read in one short loop.

        >>> item = ArticleLoader().load({"title": "某公司发布年报 | 每经网",
        ...     "source": [" ", "每经"], "reporters": ["王某", " 李某 ", "王某"],
        ...     "byline": None, "body": ["一", "", "二"]})
        >>> item.title, item.source, item.reporters, item.byline, item.body
        ('某公司发布年报', '每经', ['王某', '李某'], None, '一\\n二')
        """
        loaded = {}
        plans = _plans(type(self))
        context = self.context
        for name, value in values.items():
            if value is None:
                continue
            plan = plans.get(name)
            if plan is None:
                plan = plans[name] = _plan(type(self), name)
            first, functions, output = plan
            cls = value.__class__
            batch = [value] if cls is str else value if cls is list else arg_to_iter(value)
            if first is not None:  # MapCompose(first) then TakeFirst: stop at the first value
                for v in batch:
                    result = first(v)
                    if result is not None and result != "":
                        loaded[name] = result
                        break
                continue
            if functions is None:  # not a MapCompose: the processor takes the whole batch
                batch = arg_to_iter(_input_processor(type(self), name)(batch))
            else:
                for function, wants_context in functions:
                    mapped: list[Any] = []
                    for v in batch:
                        result = (
                            function(v, loader_context=context) if wants_context else function(v)
                        )
                        if result is None:
                            continue
                        if result.__class__ is str:
                            mapped.append(result)
                        else:
                            mapped.extend(arg_to_iter(result))
                    batch = mapped
            if batch:
                result = output(list(batch))
                if result is not None:
                    loaded[name] = result
        return ArticleItem(**loaded)

    def get_output_value(self, name: str) -> Any:
        return _output_processor(type(self), name)(self._values.get(name, []))

    def load_article(self) -> ArticleItem:
        cls = type(self)
        loaded = {}
        for name, values in self._values.items():
            value = _output_processor(cls, name)(values)
            if value is not None:
                loaded[name] = value
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


_PLANS: dict[type, dict[str, tuple[Any, Any, Any]]] = {}


def _plans(cls: type) -> dict[str, tuple[Any, Any, Any]]:
    known = _PLANS.get(cls)
    if known is None:
        known = _PLANS[cls] = {}
    return known


def _plan(cls: type, name: str) -> tuple[Any, Any, Any]:
    """How :meth:`ArticleLoader.load` reads a field: (the input function, None, None) for a
    field read as ``MapCompose(f)`` then ``TakeFirst`` with ``f`` taking no loader context;
    else (None, the MapCompose's functions or None, the output processor)."""
    processor = _input_processor(cls, name)
    output = _output_processor(cls, name)
    if isinstance(processor, list):
        if isinstance(output, TakeFirst) and len(processor) == 1 and not processor[0][1]:
            return processor[0][0], None, None
        return None, processor, output
    return None, None, output


def _output_processor(cls: type, name: str) -> Any:
    """A field's output processor, looked up once per loader class and field."""
    known = _OUTPUT_PROCESSORS.get(cls)
    if known is None:
        known = _OUTPUT_PROCESSORS[cls] = {}
    found = known.get(name)
    if found is None:
        found = known[name] = getattr(cls, f"{name}_out", cls.default_output_processor)  # type: ignore[attr-defined]
    return found
