"""The redesign's wiring rules, checked on the source so a later change cannot quietly undo them.

Components find the delivery service with ``crawler.get_extension(...)``
(:func:`newsbot.state.service.delivery_service`), never through an attribute hung on the crawler
or a ``getattr`` on a store; the distributed scheduler and worker do not import each other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "newsbot"
HIDDEN_HUB = re.compile(r"newsbot_state|getattr\((self\.)?crawler\b|getattr\((self\.)?store\b")


def test_no_component_reaches_delivery_state_through_attributes() -> None:
    offending = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HIDDEN_HUB.search(line)
    ]
    assert offending == [], "\n".join(offending)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_distributed_scheduler_and_worker_do_not_import_each_other() -> None:
    scheduler = _imports(PACKAGE / "distributed" / "scheduler.py")
    worker = _imports(PACKAGE / "distributed" / "worker.py")
    assert "newsbot.distributed.scheduler" not in worker
    assert "newsbot.distributed.worker" in scheduler  # one way only


def test_no_spider_callback_is_a_generator_returning_a_value() -> None:
    """What Scrapy's WARN_ON_GENERATOR_RETURN_VALUE checks at every response (settings.py turns
    it off: it parsed the callback's source again most of the time), checked once here: a
    value returned from a generator callback would be lost."""
    import inspect

    from scrapy import Spider
    from scrapy.utils.misc import is_generator_with_return_value, walk_modules

    checked, offending = 0, []
    for module in walk_modules("newsbot.spiders"):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, Spider) or not cls.__module__.startswith("newsbot."):
                continue
            for name, func in inspect.getmembers(cls, inspect.isfunction):
                if inspect.isgeneratorfunction(func):
                    checked += 1
                    if is_generator_with_return_value(func):
                        offending.append(f"{cls.__name__}.{name}")
    assert checked >= 3  # parse, parse_article, parse_list, parse_search, ...
    assert offending == []
