"""The redesign's wiring rules, checked on the source so a later change cannot quietly undo them.

Components find the delivery service with ``crawler.get_extension(...)``
(:func:`newsbot.state.service.delivery_service`), never through an attribute hung on the crawler
or a ``getattr`` on a store; the distributed scheduler and worker do not import each other. The
spider only crawls: it reads no delivery state but through the incremental rule, knows nothing of
distributed crawls, and components read the run's arguments with ``run_arguments``.
"""

from __future__ import annotations

import ast
import inspect
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


SPIDER = PACKAGE / "spiders" / "nbd.py"
#: Words of a distributed crawl (its workers, queue, leases): none belongs in the spider.
DISTRIBUTED_WORDS = re.compile(
    r"distributed|worker|redis|lease|orphan|adopt|\bagain=", re.IGNORECASE
)
#: The spider's arguments read by attribute instead of with run_arguments.
ARGUMENTS_BY_ATTRIBUTE = re.compile(r"""getattr\([^()]*,\s*["'](args|raw_args|adopt_\w+)["']""")
SPIDER_BY_ATTRIBUTE = re.compile(r"getattr\((self\.)?(crawler\.)?spider\b")


def test_the_spider_knows_nothing_of_distributed_crawls() -> None:
    from newsbot.requestmeta import ArticleSource
    from newsbot.spiders.nbd import NbdSpider

    source = SPIDER.read_text(encoding="utf-8")
    mentions = [
        f"nbd.py:{n}: {line.strip()}"
        for n, line in enumerate(source.splitlines(), 1)
        if DISTRIBUTED_WORDS.search(line)
    ]
    assert mentions == [], "\n".join(mentions)
    assert not any(name.startswith("newsbot.distributed") for name in _imports(SPIDER))
    assert not hasattr(NbdSpider, "adopt_arguments")
    # Components ask for articles through requestmeta.request_article, with no say over the
    # spider's once-per-run rule.
    asked = inspect.signature(NbdSpider.article_request).parameters
    assert list(asked) == ["self", "url", "column"]
    assert list(inspect.signature(ArticleSource.article_request).parameters) == list(asked)


def test_the_spider_reads_no_delivery_state() -> None:
    """It asks the incremental rule (newsbot.state.incremental) and nothing else of the state."""
    state = {name for name in _imports(SPIDER) if name.startswith("newsbot.state")}
    assert state == {"newsbot.state.incremental"}
    source = SPIDER.read_text(encoding="utf-8")
    assert "delivery_service" not in source
    assert not re.search(r"\.store\b|is_delivered|high_water_mark|skipped/delivered", source)


def test_the_distributed_crawl_reads_the_run_like_every_component() -> None:
    offending = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "arguments.py"  # run_arguments itself: other spiders' -a attributes
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ARGUMENTS_BY_ATTRIBUTE.search(line)
        or (path.parent.name == "distributed" and SPIDER_BY_ATTRIBUTE.search(line))
    ]
    assert offending == [], "\n".join(offending)


def test_one_article_meta_builder_and_one_list_of_add_ons() -> None:
    from newsbot import settings
    from newsbot.addon import ADDONS

    builders = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "requestmeta.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""["']list_title["']\s*:""", line)
    ]
    assert builders == [], "\n".join(builders)
    assert dict(ADDONS) == settings.ADDONS


def test_no_spider_callback_is_a_generator_returning_a_value() -> None:
    """What Scrapy's WARN_ON_GENERATOR_RETURN_VALUE checks at every response (settings.py turns
    it off: it parsed the callback's source again most of the time), checked once here: a
    value returned from a generator callback would be lost."""
    import inspect

    from scrapy import Spider
    from scrapy.utils.misc import is_generator_with_return_value, walk_modules_iter

    checked, offending = 0, []
    for module in walk_modules_iter("newsbot.spiders"):
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
