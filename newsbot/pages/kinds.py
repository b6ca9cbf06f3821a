"""What an article is, from its markup and wording: the record's ``kind``.

The first rule that holds decides (README, "Article kinds"). Pure function of what the article
page already read; no selectors here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from newsbot.pages.boilerplate import Removed

KINDS = (
    "original",
    "ai_flash",
    "compiled",
    "roundup",
    "commentary",
    "advertorial",
    "repost",
    "video",
)

# 每经8点, 每经午时, 早财经, 一目了然: the desks' roundup columns.
_ROUNDUP_TITLE = re.compile(r"^(?:每经(?:\d{1,2}点|午时|早间|晚间)|早财经|一目了然)")
_ROUNDUP_ITEM = re.compile(r"^\d{1,2}\s*丨")
_ROUNDUP_CLASSES = frozenset({"n-on-h-block-title", "n-on-h-desc"})
_FLASH_CLASSES = frozenset({"m-original-right", "global-market-pic"})
_COMMENTARY = re.compile(r"评论员|^(?:每经)?(?:热评|社评|时评|评论)[｜|丨：:]")
# Sponsored pieces carry the company's own disclaimer, a 文/X credit or a bare 记者 X byline.
_ADVERTORIAL_WORDING = re.compile(r"信息披露内容以公司公告为准|本文为(?:企业|商业)?(?:推广|广告)")
_OWN_OUTLETS = ("每日经济新闻", "每经网", "每经")
_COMPILED_SOURCE = re.compile(r"^(?:每日经济(?:新闻)?|每经)?综合")
_DOCUMENT = re.compile(r"(?:全文如下|公告全文|原文如下|通知全文|决定全文)[:：]?$")
_OWN_REPORTER = re.compile(r"^(?:稿件来源[:：]\s*)?(?:每经|本报|特约|实习)")


@dataclass
class Signals:
    """What the page object read, as far as the kind needs it."""

    title: str
    source: str | None
    byline: str | None
    reporters: Sequence[str]
    editors: Sequence[str]
    lines: Sequence[str]
    sourced_from: str | None = None
    classes: set[str] = field(default_factory=set)
    removed: Sequence[Removed] = ()
    videos: int = 0


def article_kind(s: Signals) -> str:
    """The kind of the article ``s`` describes.

    >>> base = dict(title="标题", source="每日经济新闻", byline="每经记者 王某 每经编辑 李某",
    ...             reporters=["王某"], editors=["李某"], lines=["正文。"])
    >>> article_kind(Signals(**base))
    'original'
    >>> article_kind(Signals(**dict(base, lines=["每经AI快讯，某公司公告。"], byline=None)))
    'ai_flash'
    >>> article_kind(Signals(**dict(base, reporters=[], byline="每经编辑 李某",
    ...                             sourced_from="每日经济新闻综合某报")))
    'compiled'
    >>> article_kind(Signals(**dict(base, source="某某日报")))
    'repost'
    >>> article_kind(Signals(**dict(base, title="每经9点丨要闻")))
    'roundup'
    >>> article_kind(Signals(**dict(base, byline="每经评论员 王某")))
    'commentary'
    >>> article_kind(Signals(**dict(base, byline=None, reporters=[], editors=[])))
    'advertorial'
    >>> article_kind(Signals(**dict(base, lines=["一段描述。"], videos=1)))
    'video'
    """
    text = "".join(s.lines)
    if s.videos and len(text) < 300:
        return "video"
    if (
        _ROUNDUP_TITLE.match(s.title)
        or s.classes & _ROUNDUP_CLASSES
        # The lines are matched one by one only when the text holds the item mark at all: one
        # scan in C spares most pages a match per line.
        or ("丨" in text and sum(1 for line in s.lines if _ROUNDUP_ITEM.match(line)) >= 3)
    ):
        return "roundup"
    first = s.lines[0] if s.lines else ""
    if first.startswith("每经AI快讯") or s.classes & _FLASH_CLASSES:
        return "ai_flash"
    byline = s.byline or ""
    if _COMMENTARY.search(byline) or _COMMENTARY.match(s.title):
        return "commentary"
    removed_text = "".join(r.text for r in s.removed if r.kind == "disclaimer")
    if (
        _ADVERTORIAL_WORDING.search(removed_text)
        or (not s.reporters and not s.editors and not s.byline)
        or (s.reporters and not _OWN_REPORTER.match(byline))
    ):
        return "advertorial"
    source = (s.source or "").strip()
    if source and not source.startswith(_OWN_OUTLETS):
        return "repost"
    compiled_line = bool(s.sourced_from and _COMPILED_SOURCE.match(s.sourced_from))
    if s.reporters and not compiled_line:
        return "original"
    if compiled_line:
        return "compiled"
    if s.sourced_from or any(_DOCUMENT.search(line) for line in s.lines):
        return "repost"
    if s.editors:
        return "compiled"
    return "original"
