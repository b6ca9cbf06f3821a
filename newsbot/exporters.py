"""Feed exporters: JSON Lines (the record format) and Hexo posts (the seed's format, done right).

Every exporter here tells the feed file which articles it holds (see :mod:`newsbot.feeds`), so an
article counts as exported only once that file is published. Scrapy's own formats are
registered in tracked variants for the same reason (``FEED_EXPORTERS`` in settings).
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exporters import (
    BaseItemExporter,
    CsvItemExporter,
    JsonItemExporter,
    MarshalItemExporter,
    PickleItemExporter,
    XmlItemExporter,
)
from scrapy.utils.serialize import ScrapyJSONEncoder

from newsbot.feeds import FeedTargetError, FeedTracker, StagingDir, tracker_of
from newsbot.items import RECORD_FIELDS, ArticleItem
from newsbot.state.records import as_dict, delivery_of
from newsbot.state.service import delivery_service

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class DeliveryTracking:
    """Mixin: after each record is written, note it on the feed file and in the state."""

    crawler: Crawler | None = None
    _newsbot_tracker: FeedTracker | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        exporter = cls(*args, **kwargs)
        exporter.crawler = crawler
        return exporter

    def _track_file(self, file: Any) -> None:
        self._newsbot_tracker = tracker_of(file)
        if self._newsbot_tracker is not None:
            self._newsbot_tracker.tracked = True

    def _written(self, item: Any) -> None:
        delivery = delivery_of(item)
        tracker = self._newsbot_tracker
        if tracker is not None:
            if delivery is None:
                tracker.untracked += 1
            else:
                tracker.add(delivery)
        ledger = delivery_service(self.crawler) if self.crawler is not None else None
        if ledger is not None and delivery is not None:
            ledger.note_written(delivery, tracked=tracker is not None)


class JsonLinesExporter(DeliveryTracking, BaseItemExporter):
    """One JSON object per line, UTF-8 (never ``\\uXXXX`` escapes), fields in
    :data:`~newsbot.items.RECORD_FIELDS` order for articles.

    >>> import io
    >>> out = io.BytesIO()
    >>> exporter = JsonLinesExporter(out)
    >>> exporter.export_item(ArticleItem(url="u", article_id="1", title="标题"))
    >>> line = out.getvalue().decode("utf-8")
    >>> line.startswith('{"url": "u", "article_id": "1", "title": "标题", "source": null')
    True
    >>> line.endswith('"duplicate_of": null, "kind": null, "sourced_from": null, "figures": [], '
    ...               '"videos": [], "published_at_source": null}\\n')
    True
    """

    def __init__(self, file: IO[bytes], **kwargs: Any) -> None:
        super().__init__(dont_fail=True, **kwargs)
        self.file = file
        # The records are UTF-8 whatever FEED_EXPORT_ENCODING says: it is the format's contract.
        self.encoding = "utf-8"
        self._kwargs.pop("ensure_ascii", None)
        self.encoder = ScrapyJSONEncoder(ensure_ascii=False, **self._kwargs)
        self._track_file(file)

    def _fields(self, item: Any) -> Iterable[tuple[str, Any]]:
        if self.fields_to_export is None and isinstance(item, ArticleItem):
            record = as_dict(item)
            return ((name, record.get(name)) for name in RECORD_FIELDS)
        return self.get_serialized_fields(item, include_empty=True)

    def export_item(self, item: Any) -> None:
        line = self.encoder.encode(dict(self._fields(item))) + "\n"
        self.file.write(line.encode("utf-8"))
        self._written(item)


class _Tracked(DeliveryTracking):
    """Scrapy's own exporter of a format, telling the delivery side what it wrote.

    Put it before the Scrapy exporter among the bases, so both methods wrap the exporter's.
    """

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)  # type: ignore[call-arg]
        self._track_file(file)

    def export_item(self, item: Any) -> None:
        super().export_item(item)  # type: ignore[misc]
        self._written(item)


class TrackedJsonItemExporter(_Tracked, JsonItemExporter):
    pass


class TrackedCsvItemExporter(_Tracked, CsvItemExporter):
    def __init__(self, file: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fields_to_export", list(RECORD_FIELDS))
        super().__init__(file, **kwargs)


class TrackedXmlItemExporter(_Tracked, XmlItemExporter):
    pass


class TrackedPickleItemExporter(_Tracked, PickleItemExporter):
    pass


class TrackedMarshalItemExporter(_Tracked, MarshalItemExporter):
    pass


# -- Hexo -----------------------------------------------------------------------------------

_UNSAFE_IN_NAME = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_FRONT_MATTER_ID = re.compile(rb"^article_id: '(\d+)'\s*$", re.MULTILINE)


def _name_key(path: Path) -> str:
    """Two file names that name one file on a case-insensitive file system (macOS, Windows)
    have one key.

    >>> _name_key(Path("3/Ab.md")) == _name_key(Path("3/aB.MD"))
    True
    """
    return unicodedata.normalize("NFC", str(path)).casefold()


def safe_filename(title: str | None, max_bytes: int = 180) -> str:
    """A title made into a file name that is valid on Linux, macOS and Windows.

    Separators and characters Windows forbids become ``_``; leading dots and trailing dots and
    spaces go; reserved device names get a ``_`` prefix; the name is cut to ``max_bytes`` of
    UTF-8 on a character boundary.

    >>> safe_filename("工业互联网平台创新合作中心正式成立")
    '工业互联网平台创新合作中心正式成立'
    >>> safe_filename("A股/港股: 谁在买?  <速览>")
    'A股_港股_ 谁在买_ _速览_'
    >>> [safe_filename(t) for t in ("../../etc/passwd", "CON", " . ", None)]
    ['_.._etc_passwd', '_CON', 'untitled', 'untitled']
    >>> len(safe_filename("长" * 200).encode("utf-8")) <= 180
    True
    """
    name = unicodedata.normalize("NFC", title or "")
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = _UNSAFE_IN_NAME.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    name = name.lstrip(".")
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    encoded = name.encode("utf-8")[:max_bytes]
    name = encoded.decode("utf-8", "ignore").rstrip(" .")
    return name or "untitled"


def _yaml_str(value: str) -> str:
    """A single-quoted YAML scalar on one line.

    >>> _yaml_str("it's \\n here")
    "'it''s here'"
    """
    one_line = re.sub(r"\s+", " ", value).strip()
    return "'" + one_line.replace("'", "''") + "'"


def blog_timezone(config: Path) -> str | None:
    """The ``timezone`` a Hexo ``_config.yml`` sets, or None (no file, no setting, ``''``).

    Read with a line match rather than a YAML parser: ``timezone`` is a top-level scalar in
    every Hexo config, and this keeps PyYAML out of the dependencies.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     config = Path(d) / "_config.yml"
    ...     found = [blog_timezone(config)]
    ...     for text in ("timezone: 'Asia/Shanghai'  # 北京时间\\n", "title: x\\ntimezone: ''\\n",
    ...                  "timezone: UTC\\n"):
    ...         _ = config.write_text(text, encoding="utf-8")
    ...         found.append(blog_timezone(config))
    >>> found
    [None, 'Asia/Shanghai', None, 'UTC']
    """
    try:
        text = config.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    m = re.search(r"^timezone:[ \t]*(?:'([^']*)'|\"([^\"]*)\"|([^\s#'\"]*))", text, re.MULTILINE)
    if m is None:
        return None
    return (m.group(1) or m.group(2) or m.group(3) or "").strip() or None


def _hexo_date(published_at: str | None, timezone: dt.tzinfo | None = None) -> str | None:
    """The front-matter ``date`` that Hexo reads back as the article's own instant.

    Hexo (8.x, and since 4) takes a YAML timestamp as a wall-clock time: hexo-front-matter turns
    it into the build machine's local time, and with ``timezone`` set in ``_config.yml`` the
    post processor then moves it into that zone (``adjustDateForTimezone``), whatever offset it
    had. A quoted ISO string is parsed by ``new Date()`` (instant kept) but moved by the same
    step. So: with a blog ``timezone``, the wall-clock time in that zone, no offset; without one,
    a quoted ISO 8601 string with its offset. Both give the right instant on a build machine in
    any zone.

    >>> from zoneinfo import ZoneInfo
    >>> _hexo_date("2021-04-10T23:49:51+08:00", ZoneInfo("Asia/Shanghai"))
    '2021-04-10 23:49:51'
    >>> _hexo_date("2021-04-10T23:49:51+08:00", ZoneInfo("America/New_York"))
    '2021-04-10 11:49:51'
    >>> _hexo_date("2021-04-10T23:49:51+08:00")
    "'2021-04-10T23:49:51+08:00'"
    >>> _hexo_date("Invalid Date") is None
    True
    """
    if not published_at:
        return None
    try:
        when = dt.datetime.fromisoformat(published_at)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    if timezone is not None:
        return when.astimezone(timezone).strftime("%Y-%m-%d %H:%M:%S")
    return f"'{when.isoformat()}'"


def _text(value: str) -> str:
    """HTML-escaped text that no template engine reads: Hexo runs Nunjucks over a post
    (``{% endif %}`` would stop ``hexo generate``, ``{{ price }}`` would vanish), so braces
    become character references as well (and the front matter turns Nunjucks off).

    >>> _text("价格{{ price }}<{% endif %}>")
    '价格&#123;&#123; price &#125;&#125;&lt;&#123;% endif %&#125;&gt;'
    """
    return html.escape(value).replace("{", "&#123;").replace("}", "&#125;")


def _lead_image(record: dict[str, Any]) -> str | None:
    """The lead image as a figure, with its caption (``figures``, when the record has them) or
    its credit; ``no-referrer`` because the site's image host may refuse other sites' pages.

    >>> print(_lead_image({"images": ["https://img.example/a.jpg?x=1&y=2"],
    ...                    "image_credit": "摄图网"}).replace("><", ">\\n<"))
    <figure>
    <img src="https://img.example/a.jpg?x=1&amp;y=2" alt="" referrerpolicy="no-referrer">
    <figcaption>图片来源：摄图网</figcaption>
    </figure>
    >>> _lead_image({"images": []}) is None
    True
    """
    images = record.get("images") or []
    if not images:
        return None
    url = images[0]
    caption = next(
        (f.get("caption") for f in record.get("figures") or [] if f.get("url") == url), None
    )
    notes = [c for c in (caption, record.get("image_credit")) if c]
    if record.get("image_credit"):
        notes[-1] = f"图片来源：{notes[-1]}"
    figcaption = f"<figcaption>{_text(' '.join(notes))}</figcaption>" if notes else ""
    img = f'<img src="{html.escape(url)}" alt="" referrerpolicy="no-referrer">'
    return f"<figure>{img}{figcaption}</figure>"


def hexo_post(
    record: dict[str, Any],
    column_names: dict[str, str] | None = None,
    timezone: dt.tzinfo | None = None,
) -> str:
    """The Markdown file of one article: YAML front matter, then the body as one HTML block
    (no blank line, so the Markdown renderer leaves it alone). ``timezone`` is the blog's
    (``_config.yml``), or None when it sets none: see :func:`_hexo_date`.

    >>> from zoneinfo import ZoneInfo
    >>> post = hexo_post({"title": "标题", "article_id": "7", "column": "3",
    ...     "url": "https://www.nbd.com.cn/articles/2021-04-10/7.html",
    ...     "published_at": "2021-04-10T23:49:51+08:00", "reporters": ["张三"],
    ...     "images": ["https://img.example/lead.jpg"], "body": "第一段\\n<第二段>",
    ...     "revision": 1}, {"3": "要闻"}, ZoneInfo("Asia/Shanghai"))
    >>> print(post)  # doctest: +NORMALIZE_WHITESPACE
    ---
    title: '标题'
    categories:
     - '每经网'
     - '要闻'
    author: '张三'
    date: 2021-04-10 23:49:51
    thumbnail: 'https://img.example/lead.jpg'
    article_id: '7'
    original_url: 'https://www.nbd.com.cn/articles/2021-04-10/7.html'
    revision: 1
    disableNunjucks: true
    ---
    <figure><img src="https://img.example/lead.jpg" alt="" referrerpolicy="no-referrer"></figure>
    <p>第一段</p>
    <p>&lt;第二段&gt;</p>
    <p>原文：<a href="https://www.nbd.com.cn/articles/2021-04-10/7.html">每经网</a></p>
    """
    column = record.get("column")
    names = column_names or {}
    categories = ["每经网"] + ([names.get(column, column)] if column else [])
    author = "、".join(record.get("reporters") or []) or record.get("source") or "每经网"
    date = _hexo_date(record.get("published_at"), timezone)
    if date is None:
        raise ValueError(f"article {record.get('article_id')} has no valid published_at")
    lines = ["---", f"title: {_yaml_str(record.get('title') or '')}", "categories:"]
    lines += [f" - {_yaml_str(c)}" for c in categories]
    lines += [f"author: {_yaml_str(author)}", f"date: {date}"]
    images = record.get("images") or []
    if images:
        lines.append(f"thumbnail: {_yaml_str(images[0])}")
    lines.append(f"article_id: '{record.get('article_id')}'")
    if record.get("url"):
        lines.append(f"original_url: {_yaml_str(record['url'])}")
    lines.append(f"revision: {int(record.get('revision') or 1)}")
    if record.get("duplicate_of"):
        lines.append(f"duplicate_of: '{record['duplicate_of']}'")
    # Article text is text: Hexo must not run it as a Nunjucks template (Hexo 5+).
    lines += ["disableNunjucks: true", "---"]
    lead = _lead_image(record)
    if lead:
        lines.append(lead)
    if record.get("abstract"):
        quoted = "".join(f"<p>{_text(p)}</p>" for p in record["abstract"].split("\n") if p)
        lines.append(f"<blockquote>{quoted}</blockquote>")
    for video in record.get("videos") or []:
        poster = f' poster="{html.escape(video["poster"])}"' if video.get("poster") else ""
        lines.append(f'<p><video controls src="{html.escape(video["url"])}"{poster}></video></p>')
    lines += [f"<p>{_text(p)}</p>" for p in (record.get("body") or "").split("\n") if p]
    if record.get("sourced_from"):
        lines.append(f"<p>来源：{_text(record['sourced_from'])}</p>")
    if record.get("url"):
        lines.append(f'<p>原文：<a href="{html.escape(record["url"])}">每经网</a></p>')
    return "\n".join(lines) + "\n"


class HexoExporter(DeliveryTracking, BaseItemExporter):
    """One Hexo post per article: ``source/_posts/<column>/<title>.md`` under the feed URI.

    Select it as a feed format with a directory URI: ``-o myblog:hexo`` (the Hexo site root; a
    URI that already ends in ``source/_posts`` is used as is). Dates are written for the
    ``timezone`` of the blog's ``_config.yml`` (:func:`_hexo_date`). An article that already has
    a post there (found by its ``article_id`` in the front matter) keeps its file, so a new
    revision replaces its post. A name taken by another article or by a file that is not one of
    ours (compared without case, as on macOS and Windows) is never reused: the article gets
    ``<title>-<id>.md``, else ``<title>-<id>-2.md`` ...
    """

    writes_directory = True

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(dont_fail=True, **kwargs)
        if not isinstance(file, StagingDir):
            raise TypeError("the hexo format needs a directory feed URI (-o DIR:hexo)")
        self.staging = file
        self.column_names: dict[str, str] = {}
        # casefolded relative path -> the article id that owns it ("" for a file not ours)
        self._owners: dict[str, str] = {}
        self._indexed: set[Path] = set()
        self._posts_by_id: dict[str, Path] = {}
        self.timezone = self._blog_timezone(Path(file.target))
        self._track_file(file)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        exporter = super().from_crawler(crawler, *args, **kwargs)
        exporter.column_names = dict(crawler.settings.getdict("NEWSBOT_HEXO_COLUMN_NAMES"))
        return exporter

    @staticmethod
    def _blog_timezone(target: Path) -> dt.tzinfo | None:
        """The zone of the blog at feed target ``target`` (its root, or its source/_posts)."""
        root = target.parent.parent if target.parts[-2:] == ("source", "_posts") else target
        config = root / "_config.yml"
        name = blog_timezone(config)
        if name is None:
            return None
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise FeedTargetError(
                f"{config}: timezone {name!r} is not a time zone this machine knows (an IANA "
                "name such as 'Asia/Shanghai'; install the tzdata package if none is known)"
            ) from None

    @classmethod
    def check_target(cls, target: Path) -> None:
        """Called by the feed storage when the run starts, before anything is fetched."""
        cls._blog_timezone(target)

    def _posts_root(self) -> Path:
        target = Path(self.staging.target)
        if target.parts[-2:] == ("source", "_posts"):
            return Path()
        return Path("source", "_posts")

    def _index(self, directory: Path) -> None:
        """Learn which article each existing post in ``directory`` belongs to, and which files
        there belong to no article of ours."""
        if directory in self._indexed:
            return
        self._indexed.add(directory)
        absolute = self.staging.target_path(str(directory))
        if not absolute.is_dir():
            return
        for post in absolute.iterdir():
            ident = ""
            if post.suffix == ".md" and post.is_file() and not post.is_symlink():
                with post.open("rb") as fh:
                    head = fh.read(4096)
                m = _FRONT_MATTER_ID.search(head)
                if m:
                    ident = m.group(1).decode()
                    self._posts_by_id.setdefault(ident, directory / post.name)
            self._owners.setdefault(_name_key(directory / post.name), ident)

    def relative_path(self, record: dict[str, Any]) -> Path:
        ident = str(record.get("article_id"))
        column = safe_filename(str(record.get("column") or "other"), 64)
        directory = self._posts_root() / column
        self._index(directory)
        if ident in self._posts_by_id:
            return self._posts_by_id[ident]
        # Hexo decodes a post's path as a URI (a "%" fails the post with URIError) and a "#"
        # would end its URL: their full-width forms read the same.
        name = safe_filename(record.get("title")).replace("%", "％").replace("#", "＃")
        for n in itertools.count():
            stem = name if n == 0 else f"{name}-{ident}" if n == 1 else f"{name}-{ident}-{n}"
            candidate = directory / f"{stem}.md"
            if self._owners.get(_name_key(candidate), ident) == ident:
                break
        self._owners[_name_key(candidate)] = ident
        self._posts_by_id[ident] = candidate
        return candidate

    def export_item(self, item: Any) -> None:
        record = ItemAdapter(item).asdict()
        post = hexo_post(record, self.column_names, self.timezone)
        relative = self.relative_path(record)
        delivery = delivery_of(record)
        self.staging.add(str(relative), post.encode("utf-8"), delivery)
        # StagingDir.add noted the delivery on the feed; the state still needs telling.
        ledger = delivery_service(self.crawler) if self.crawler is not None else None
        if ledger is not None and delivery is not None:
            ledger.note_written(delivery, tracked=True)
