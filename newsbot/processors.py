"""Small pure functions that turn raw page text into record values.

No selectors here (those live in :mod:`newsbot.pages`), no I/O: each function takes strings and
returns strings, so each can be read and tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# Every Unicode space the site's editors paste (NBSP, U+3000, thin spaces, zero-width ones) plus
# ASCII whitespace. Zero-width characters are deleted rather than turned into spaces.
_SPACES = re.compile(r"[\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
# A space other than " ", or a zero-width character: one character class, the fast kind of scan.
_ODD_SPACE = re.compile(
    "[\t\n\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]"
)


def normalize_space(text: str | None) -> str:
    """Collapse every run of whitespace (NBSP and U+3000 included) to one space and trim.

    >>> normalize_space("  每经记者 王某\u00a0\u00a0\u3000每经编辑 李某\\n ")
    '每经记者 王某 每经编辑 李某'
    >>> normalize_space(None)
    ''
    >>> normalize_space("零\u200b宽"), normalize_space("已经 正常"), normalize_space(" 两端 ")
    ('零宽', '已经 正常', '两端')
    """
    if not text:
        return ""
    # Already normal (the common case): a few scans in C instead of two rewrites. Every odd
    # space and zero-width character is unprintable (categories Cc, Cf, Zs, Zl, Zp), and
    # isprintable() scans faster than the character class; other unprintable text is rare.
    normal = text.isprintable() or _ODD_SPACE.search(text) is None
    if normal and "  " not in text and text[0] != " " != text[-1]:
        return text
    return _SPACES.sub(" ", _ZERO_WIDTH.sub("", text)).strip()


def none_if_empty(text: str | None) -> str | None:
    """Normalised text, or None when nothing is left.

    >>> none_if_empty(" \\n  "), none_if_empty(" 每日经济新闻 ")
    (None, '每日经济新闻')
    """
    text = normalize_space(text)
    return text or None


# --- dates --------------------------------------------------------------------------------------

_SITE_TIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]*(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})秒?)?)?$"
)


# Longer than any way of writing a time (the longest dateparser reads, a weekday, a date, a time
# and a zone in words, is under 60 characters): the text of an element that holds more than a
# time, such as one left open around the page. dateparser's cost grows with the text, and its
# older releases (the floor in constraints-minimum.txt) recurse on a text of pages.
_LONGEST_TIME = 80


def parse_time(raw: str | None, *, now: datetime | None = None) -> str | None:
    """Publication time as ISO 8601 with the Beijing offset, or None if it cannot be read.

    The site's own forms are parsed directly (dateparser costs about a millisecond a call);
    relative and free-form dates fall back to dateparser, relative to ``now``.

    >>> parse_time("2021-04-10 23:49:51")
    '2021-04-10T23:49:51+08:00'
    >>> parse_time(" 2021年4月10日 9:05 ")
    '2021-04-10T09:05:00+08:00'
    >>> parse_time("2017-03-09")
    '2017-03-09T00:00:00+08:00'
    >>> parse_time("3小时前", now=datetime(2021, 4, 10, 12, 0, tzinfo=timezone.utc))
    '2021-04-10T17:00:00+08:00'
    >>> parse_time("Invalid Date") is None
    True
    >>> parse_time("2021-02-30 10:00:00") is None
    True
    >>> parse_time("3小时前 " * 2000) is None  # no time is that long: not given to dateparser
    True
    """
    text = normalize_space(raw)
    if not text or len(text) > _LONGEST_TIME:
        return None
    m = _SITE_TIME.match(text)
    if m:
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        try:
            value = datetime(y, mo, d, h, mi, s, tzinfo=BEIJING)
        except ValueError:
            return None
        return value.isoformat()
    return _parse_free_time(text, now)


def _parse_free_time(text: str, now: datetime | None) -> str | None:
    import dateparser  # imported late: it takes ~0.3 s and most pages never need it

    settings: dict[str, object] = {
        "TIMEZONE": "Asia/Shanghai",
        "TO_TIMEZONE": "Asia/Shanghai",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "past",
    }
    if now is not None:
        # dateparser wants a naive base in the target zone.
        settings["RELATIVE_BASE"] = now.astimezone(BEIJING).replace(tzinfo=None)
    value = dateparser.parse(text, languages=["zh", "en"], settings=settings)
    if value is None:
        return None
    return value.astimezone(BEIJING).replace(microsecond=0).isoformat()


# --- bylines and credits ------------------------------------------------------------------------

# Longest first, so that 每经实习记者 is not read as 每经 + 实习记者.
_REPORTER_MARKERS = (
    "每经特约评论员",
    "每经实习记者",
    "每经特约记者",
    "每经评论员",
    "特约评论员",
    "每经记者",
    "实习记者",
    "特约记者",
    "评论员",
    "记者",
)
_EDITOR_MARKERS = ("每经责任编辑", "责任编辑", "每经编辑", "责编", "编辑")
_ROLE_OF = {m: "reporters" for m in _REPORTER_MARKERS} | {m: "editors" for m in _EDITOR_MARKERS}
_MARKER_ALT = "|".join(sorted(_ROLE_OF, key=len, reverse=True))
_SEP = r"[\s\u00a0\u3000:：|｜]*"
_MARKER = re.compile(rf"({_MARKER_ALT}){_SEP}")
_BYLINE_START = re.compile(rf"^(?:稿件来源[:：]\s*)?(?:{_MARKER_ALT})(?:[\s\u00a0\u3000:：|｜]|$)")
_NAME_SPLIT = re.compile(r"[\s\u00a0\u3000、，,;；/]+")
# Dateline phrases stand after a name: 发自上海, 北京报道, 全国两会现场报道.
_DATELINE = re.compile(r"^(?:发自|来自).*|.*(?:报道|连线|专电)$")
_CJK = re.compile(r"^[\u3400-\u9fff]$")


@dataclass
class Credits:
    """Names found in a byline or credit line, by role, in order, each once."""

    reporters: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)

    def add(self, role: str, names: Iterable[str]) -> None:
        target: list[str] = getattr(self, role)
        for name in names:
            if name and name not in target:
                target.append(name)

    def extend(self, other: Credits) -> None:
        self.add("reporters", other.reporters)
        self.add("editors", other.editors)


def is_byline(text: str) -> bool:
    """Whether a text block is a byline: it starts with a role marker.

    >>> is_byline("每经记者 王某 每经编辑 李某"), is_byline("稿件来源：每经记者 李某 发自上海")
    (True, True)
    >>> is_byline("记者近日从多位业内人士处获悉"), is_byline("每经AI快讯，4月10日")
    (False, False)
    """
    text = normalize_space(text)
    if not _BYLINE_START.match(text):
        return False
    # "记者近日…" opens many a paragraph: a byline's marker is followed by short names.
    first = _MARKER.match(text.removeprefix("稿件来源：").removeprefix("稿件来源:"))
    if first is None:
        return False
    rest = text[text.find(first.group(0)) + len(first.group(0)) :]
    words = _NAME_SPLIT.split(rest.strip())
    return bool(words) and all(len(w) <= 8 for w in words[:3])


# A role noted after a name: 刘某（实习）, 王某(特约).
_ROLE_NOTE = re.compile(r"[(（]\s*(?:实习生?|特约|见习|通讯员|摄影|摄像)\s*[)）]")


def _names(chunk: str) -> list[str]:
    """Names in the text after one role marker.

    >>> _names("王砚丹 ")
    ['王砚丹']
    >>> _names("胥帅 朱成祥\u00a0\u00a0黄鑫磊")
    ['胥帅', '朱成祥', '黄鑫磊']
    >>> _names("梁 枭")
    ['梁枭']
    >>> _names("徐子莫 发自上海")
    ['徐子莫']
    >>> _names("余某均 刘某玲（实习）")
    ['余某均', '刘某玲']
    """
    names: list[str] = []
    gap: list[str] = []  # single characters written with an alignment gap: 梁 枭
    for word in _NAME_SPLIT.split(_ROLE_NOTE.sub("", chunk)):
        word = word.strip("()（）[]【】")
        if not word:
            continue
        if _DATELINE.match(word):
            break
        if _CJK.match(word):
            gap.append(word)
            continue
        if gap:
            names.append("".join(gap))
            gap = []
        names.append(word)
    if gap:
        names.append("".join(gap))
    return names


def split_byline(text: str | None) -> Credits:
    """Reporters and editors named in a byline or a credit line.

    >>> split_byline("每经记者 王砚丹\u00a0\u00a0\u00a0 每经编辑 何剑岭")
    Credits(reporters=['王砚丹'], editors=['何剑岭'])
    >>> split_byline("每经记者 孙某某 实习记者 程某    每经编辑 梁 枭")
    Credits(reporters=['孙某某', '程某'], editors=['梁枭'])
    >>> split_byline("每经记者：朱某平 每经编辑：陈某杰")
    Credits(reporters=['朱某平'], editors=['陈某杰'])
    >>> split_byline("每经记者｜张某\u3000\u3000每经编辑｜李某")
    Credits(reporters=['张某'], editors=['李某'])
    >>> split_byline("每经记者 冯某 全国两会现场报道 每经编辑 陈某")
    Credits(reporters=['冯某'], editors=['陈某'])
    >>> split_byline("稿件来源：每经记者 李某 发自上海")
    Credits(reporters=['李某'], editors=[])
    >>> split_byline("编辑| 孙某成 杜某峰")
    Credits(reporters=[], editors=['孙某成', '杜某峰'])
    >>> split_byline("(记者 蔡某)")
    Credits(reporters=['蔡某'], editors=[])
    >>> split_byline("每经特约评论员 尹某立")
    Credits(reporters=['尹某立'], editors=[])
    """
    credits = Credits()
    text = normalize_space(text).strip("()（）")
    matches = list(_MARKER.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        credits.add(_ROLE_OF[m.group(1)], _names(text[m.end() : end]))
    return credits


# Trailing credit lines: 编辑| X, 校对|Y, 记者|Z, 视觉：…, 排版：…, 封面：…, 整理：…
_CREDIT_LINE = re.compile(
    r"^(?:责任编辑|编辑|校对|记者|视觉|排版|封面|整理|美编|审核|监制|制图|设计|执行|统筹|策划)"
    r"[\s\u00a0\u3000]*[|｜:：]"
)
_AI_REPORTER = re.compile(r"^[(（]\s*记者[\s\u00a0\u3000:：]*([^()（）]+)[)）]$")
_SENTENCE = re.compile(r"[，。？！；…,?!;]|\S{9,}")
_WRITTEN_BY = re.compile(r"^文\s*[/／]\s*(\S.{0,20})$")


def credit_line(text: str) -> Credits | None:
    """Credits in a trailing credit line, or None if the block is not one.

    >>> credit_line("编辑|孙某成 杜某峰")
    Credits(reporters=[], editors=['孙某成', '杜某峰'])
    >>> credit_line("校对|卢某勇")
    Credits(reporters=[], editors=[])
    >>> credit_line("（记者 蔡某）")
    Credits(reporters=['蔡某'], editors=[])
    >>> credit_line("文/张小同")
    Credits(reporters=['张小同'], editors=[])
    >>> credit_line("记者：黄某聪、任某、曾某建")
    Credits(reporters=['黄某聪', '任某', '曾某建'], editors=[])
    >>> credit_line("记者|李某宁（实习） 编辑|董某生")
    Credits(reporters=['李某宁'], editors=['董某生'])
    >>> credit_line("编辑部认为：市场回暖") is None
    True
    >>> credit_line("记者：请问公司今年的目标是什么？") is None
    True
    """
    text = normalize_space(text)
    ai_reporter = _AI_REPORTER.match(text)
    written_by = _WRITTEN_BY.match(text) if ai_reporter is None else None
    if ai_reporter is None and written_by is None and not _CREDIT_LINE.match(text):
        return None  # the line opens with none of the credit forms (most lines fail at once)
    # Names may be listed with 、 and carry a role note; neither makes the line a sentence.
    if _SENTENCE.search(_ROLE_NOTE.sub("", text).replace("、", " ")):
        # "记者：请问……" opens an interview question, not a credit
        return None
    m = ai_reporter or written_by
    if m:
        return Credits(reporters=_names(m.group(1)))
    # Several credits may share a line: "编辑|A B 校对|C".
    credits = Credits()
    for part in re.split(r"(?=(?:责任编辑|编辑|校对|记者|视觉|排版|封面|整理)[\s]*[|｜:：])", text):
        role = re.match(r"(责任编辑|编辑|记者)[\s]*[|｜:：]", part)
        if role:
            key = "editors" if "编辑" in role.group(1) else "reporters"
            credits.add(key, _names(part[role.end() :]))
    return credits


# --- body blocks ----------------------------------------------------------------------------------

# Anchored at either end and tried only there: an unanchored alternation would be tried at every
# character of every paragraph.
_CAPTION_START = re.compile(r"(?:封面)?图片?(?:来源|来自|源)\s*[:：]|图\s*[/／]")
_CAPTION_END = re.compile(r"(?:视觉中国|每经资料|资料|东方IC|IC photo|新华社|摄图网)图$")
_PHOTO_BY = re.compile(r"^(?:\S+\s+){1,4}摄$")
# "封面：X" alone is a trailing credit for who designed the cover, not the picture's source.
_COVER_CREDIT = re.compile(r"^封面图(?:片)?(?:来源|来自)?\s*[:：]\s*(.+)$")
_IMAGE_CREDIT = re.compile(r"^图片?(?:来源|来自|源)\s*[:：]\s*(.+)$")
_UNRELATED = re.compile(r"\s*[(（]\s*图文无关\s*[)）]\s*$")


def is_caption(text: str, *, normal: bool = False) -> bool:
    """Image captions and credits, which are not article text. ``normal``: the text is
    :func:`normalize_space`'s already (a body line), and is taken as it is.

    >>> [is_caption(t) for t in ("图片来源：摄图网", "视觉中国图", "记者 张某 摄", "每经资料图")]
    [True, True, True, True]
    >>> is_caption("记者实地探访发现，园区已经停摄"), is_caption("图片来源：X", normal=True)
    (False, True)
    """
    if not normal:
        text = normalize_space(text)
    if _CAPTION_START.match(text):
        return True
    if text.endswith("图") and _CAPTION_END.search(text, max(0, len(text) - 12)):
        return True
    return len(text) <= 30 and bool(_PHOTO_BY.match(text))


def cover_credit(text: str) -> str | None:
    """The credit named in a ``封面图片来源：`` line.

    >>> cover_credit("封面图片来源：每经记者 张某 摄")
    '每经记者 张某 摄'
    >>> cover_credit("图片来源：视觉中国") is None
    True
    >>> cover_credit("封面：贺某") is None
    True
    """
    m = _COVER_CREDIT.match(normalize_space(text))
    return _UNRELATED.sub("", m.group(1)).strip() or None if m else None


def image_credit(text: str) -> str | None:
    """The credit named in an ``图片来源：`` caption, without ``（图文无关）``.

    >>> image_credit("图片来源：摄图网（图文无关）")
    '摄图网'
    >>> image_credit("图片来源： 视觉中国")
    '视觉中国'
    """
    m = _IMAGE_CREDIT.match(normalize_space(text))
    return _UNRELATED.sub("", m.group(1)).strip() or None if m else None


_LEFTOVER_PREFIXES = ("免责声明", "每经头条（nbdtoutiao）", "每经头条(nbdtoutiao)")
_RELATED_READING = re.compile(
    r"^[【\[]?(?:相关阅读|延伸阅读|推荐阅读|相关新闻|往期回顾|往期推荐|热文推荐|猜你喜欢|更多阅读)"
)


def is_related_heading(text: str, *, normal: bool = False) -> bool:
    """The heading of a related-reading block; the link lines after it go with it.
    ``normal``: the text is :func:`normalize_space`'s already.

    >>> [is_related_heading(t) for t in ("相关阅读：", "【延伸阅读】", "相关")]
    [True, True, False]
    """
    return bool(_RELATED_READING.match(text if normal else normalize_space(text)))


def is_boilerplate(text: str, *, normal: bool = False) -> bool:
    """Disclaimers, promotions and related-reading headings. ``normal``: the text is
    :func:`normalize_space`'s already.

    >>> is_boilerplate("免责声明：本文内容与数据仅供参考")
    True
    >>> is_boilerplate("（免责声明：文中机构分析不作为投资建议）")
    True
    >>> is_boilerplate("每经头条（nbdtoutiao）——某某")
    True
    >>> is_boilerplate("相关阅读：")
    True
    >>> is_boilerplate("每经AI快讯，4月10日")
    False
    """
    text = (text if normal else normalize_space(text)).lstrip("（(【[ ")
    return text.startswith(_LEFTOVER_PREFIXES) or bool(_RELATED_READING.match(text))


def strip_point_marker(text: str) -> str:
    """An abstract point without its leading ● or ◎.

    >>> strip_point_marker("◎ 第一点")
    '第一点'
    """
    return normalize_space(text).lstrip("●◎○•·").strip()
