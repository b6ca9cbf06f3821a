"""The records newsbot produces.

Field names are a contract: scheduled jobs and analysts depend on them. Add fields at the end;
never rename one. :data:`RECORD_FIELDS` gives the order in which exporters write them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TypedDict


class Figure(TypedDict):
    """One image of the body with what is written under it."""

    url: str
    """Absolute URL of the image, as in ``images``."""
    caption: str | None
    """The caption under the image without its credit, or null."""
    credit: str | None
    """Who the picture is from (``摄图网``, ``每经记者 X 摄``), or null."""


class Video(TypedDict):
    """One video of the page."""

    url: str
    """Absolute URL of the video file or player (``data-video-download-url``, ``<video src>``)."""
    poster: str | None
    """Absolute URL of its poster image, or null when the page names none."""


class Tag(TypedDict):
    """One live ``div.typeTags`` link."""

    name: str
    """Tag text without the price change: ``中泰化学``."""
    type: str
    """``stock``, ``industry``, ``province`` or ``concept``."""
    code: str | None
    """Stock code for stock tags (``002092``), else null."""


@dataclass
class ArticleItem:
    """One 每经网 article page, extracted."""

    url: str | None = None
    """Canonical URL: ``https://www.nbd.com.cn/articles/2021-04-10/1712345.html``, whatever
    host, scheme or query the page was fetched with."""

    article_id: str | None = None
    """The numeric id from the URL, as a string: ``"1712345"``."""

    title: str | None = None
    """The h1 headline, whitespace normalised (never the commented-out leftover link)."""

    source: str | None = None
    """The outlet named in ``span.source`` (``每日经济新闻``), or null when the page leaves it
    empty."""

    published_at: str | None = None
    """Publication time, ISO 8601 with offset, Beijing time: ``2021-04-10T23:49:51+08:00``."""

    published_at_raw: str | None = None
    """The publication time as the page wrote it: ``2021-04-10 23:49:51``."""

    reporters: list[str] = field(default_factory=list)
    """Names credited as writers (每经记者, 实习记者, 特约记者, 评论员, ``(记者 X)``, ``记者|X``,
    ``文/X``), in page order, each once."""

    editors: list[str] = field(default_factory=list)
    """Names credited as editors (每经编辑, ``编辑|X``), in page order, each once."""

    byline: str | None = None
    """The byline paragraph as written, whitespace normalised, or null when there is none."""

    abstract: str | None = None
    """``div.g-article-abstract``: one point per line, without the leading ●/◎; null if absent."""

    body: str | None = None
    """Article text, one block (paragraph, subhead, list item) per line, in page order; no
    byline, captions, credits, disclaimers or promotions."""

    images: list[str] = field(default_factory=list)
    """Absolute URLs of the images in the body, in page order (lead image first)."""

    image_credit: str | None = None
    """Credit of the cover or lead image (``摄图网``, ``视觉中国``), or null."""

    tags: list[Tag] = field(default_factory=list)
    """Live ``div.typeTags`` links as ``{"name", "type", "code"}`` objects."""

    fetched_at: str | None = None
    """When the page was fetched, ISO 8601 UTC: ``2026-11-23T08:00:00+00:00`` (for saved pages:
    when the file was read)."""

    extractor_version: str | None = None
    """Version of the extraction rules that produced the record (``newsbot.__version__``)."""

    column: str | None = None
    """Id of the column list the article was found on (``"3"``), or null (URL lists, search,
    saved pages)."""

    revision: int = 1
    """1 for the first delivery; n for the n-th changed version found by a recheck."""

    duplicate_of: str | None = None
    """``article_id`` of an earlier article with the same text, or null."""

    kind: str | None = None
    """What the article is: ``original``, ``ai_flash``, ``compiled``, ``roundup``,
    ``commentary``, ``advertorial``, ``repost`` or ``video`` (rules in the README)."""

    sourced_from: str | None = None
    """The sourcing line at the end of the body, as written without its leading ``来源：``
    (``每日经济新闻综合央视新闻``, ``某某公安``), or null when there is none."""

    figures: list[Figure] = field(default_factory=list)
    """The body's images in page order, each with its caption and credit (null when none)."""

    videos: list[Video] = field(default_factory=list)
    """The page's videos in page order, each with its poster."""

    published_at_source: str | None = None
    """Where ``published_at`` was read: ``span.time`` (the visible time), ``script.pubDate``,
    ``json-ld`` (``datePublished``) or ``meta`` (``article:published_time``), the first one
    readable in that order; null without a time."""


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ArticleItem))

#: Fields read from the page after the first ones (added at the end of the record).
LATER_EXTRACTED_FIELDS: tuple[str, ...] = ("kind", "sourced_from", "figures", "videos")

#: Fields that describe the page itself, as opposed to the fetch or the delivery. Fixture
#: expectations and the reparse command compare these.
EXTRACTED_FIELDS: tuple[str, ...] = (
    RECORD_FIELDS[: RECORD_FIELDS.index("fetched_at")] + LATER_EXTRACTED_FIELDS
)
