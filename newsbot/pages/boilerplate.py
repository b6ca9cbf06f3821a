"""What the site appends to an article: recognised by class, read from the end of the body.

The site's long tail of footers (risk notices, reprint notices, WeChat account banners, QR-code
and "click below" promotions, app prompts, cover-image credits, sourcing lines) changes wording
from desk to desk. The rules here name *kinds* of sentence, not sentences, and
:func:`trim_tail` applies them only from the last block backwards, stopping at the first block
that is none of them: a sentence in the middle of an article that mentions 转载 or 二维码 is
never cut. Pure functions over strings; no selectors, no I/O.

Classes (also the stats keys ``newsbot/removed/<class>``): ``disclaimer``, ``copyright``,
``account``, ``promotion``, ``app_prompt``, ``cover_credit``, ``related``, ``sourcing``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from newsbot.processors import is_related_heading

# --- sentence classes ---------------------------------------------------------------------------

# A block is cut by one of these classes only when every sentence in it belongs to the class (or
# to another boilerplate class): an article's own last paragraph always has a sentence of its own.
# A sentence: the text up to its end mark (the mark kept), or the text after the last one. The
# same pieces as a split after each mark, but found in one scan: a split on a lookbehind makes
# re try the whole pattern at every character.
_SENTENCE = re.compile(r"[^。！？!?；;]*[。！？!?；;]|[^。！？!?；;]+")
_BRACKETS = "（()）【】[]「」 "
_LONGEST_NOTICE = 60  # characters in one sentence of a notice; the longest seen is 45


class _Words:
    """Whether a sentence holds one of a class's phrases: ``anywhere`` searched for in it,
    ``opening`` tried at its start only.

    Every alternative of ``anywhere`` opens with a literal character: re then jumps to the
    places where one of those characters stands and tries the alternatives there only. One
    alternative opening with an anchor, a group, a set or a lookbehind makes it try all of them
    at every character instead (four times the cost on a sentence of the writer's, the
    commonest kind): such an alternative is spelled out word by word (:func:`_each`) or, when
    anchored at the start, goes to ``opening``.
    """

    def __init__(self, anywhere: str, opening: str = "") -> None:
        self.anywhere = re.compile(anywhere)
        self.opening = re.compile(opening) if opening else None

    def search(self, text: str) -> bool:
        return self.anywhere.search(text) is not None or (
            self.opening is not None and self.opening.match(text) is not None
        )


def _each(words: str, rest: str) -> str:
    """``(?:a|b)rest`` as ``arest|brest``: alternatives that open with a literal (see _Words).

    >>> _each("扫码|二维码", "关注")
    '扫码关注|二维码关注'
    """
    return "|".join(word + rest for word in words.split("|"))


# Reported speech and sourcing verbs: a sentence holding one tells the news, whatever words of
# a notice it also holds ("公司称，未经许可的转载将被追责"). 称 not after 名, 声 or 简.
_REPORTED = _Words(
    r"据(?:了解|悉|报道|介绍|统计|透露)|表示|称(?<![名声简]称)|认为|指出|透露|介绍|告诉|说[，：:]",
    opening=r"据(?!此)",
)

_DISCLAIMER = _Words(
    r"免责声明|不构成(?:任何)?(?:投资|买卖|操作)?建议|风险自担|据此操作"
    r"|入市需谨慎|投资需谨慎|投资有风险|股市有风险|仅供参考|不作为(?:任何)?投资依据"
    r"|不代表(?:本|我)[台网站报刊号社司方]?(?:平台)?的?(?:观点|立场)|并不意味着赞同|不代表.{0,8}(?:观点|立场)"
    r"|出于传递(?:更多)?信息|文责自负|信息披露(?:内容)?以公司公告为准|请读者仅作参考|使用前核实",
    opening=r"声明[:：]|特别提示[:：]",
)
_COPYRIGHT = _Words(
    r"未经[^。，]{0,10}(?:许可|授权|允许|同意)[，,、]?\s*(?:禁止|不得|严禁|请勿|谢绝|任何|转载)|"
    + _each("禁止|严禁|谢绝|请勿|不得", r"(?:任何[^。]{0,6})?转载")
    + r"|如需转载|转载请(?:注明|联系|后台|与|向)"
    r"|欢迎转载|版权(?:归[^。]{0,12}所有|所有)|著作权归|侵权必究|All rights reserved"
)
_ACCOUNT = _Words(
    r"nbdnews|原创文章[｜|]|微信(?:ID|号|公众号)\s*[:：]|公众号\s*[:：]",
    opening=r"[｜|].*[｜|]$|(?:ID|id)\s*[:：]\s*[\w.-]+$"
    r"|[\u4e00-\u9fffA-Za-z]{1,10}号[（(][A-Za-z0-9_.-]{3,}[)）]"
    r"|(?:本文|文章)?(?:作者|来自)?(?:微信)?公众号",
)
_PROMOTION = _Words(
    _each(
        "点击|扫描|扫码|长按|识别",
        r"[^。！？]{0,14}(?:下方|上方|图中|图片|文末|原文|链接|蓝字|这里|左下角)",
    )
    + "|"
    + _each(
        "扫码|二维码",
        r"[^。！？]{0,6}(?:关注|查看|下载|进群|领取|收听|观看|订阅|添加|获取|了解更多)",
    )
    + "|"
    + _each("↓|⬇|👇", r"\s*[)）]?$")
    + r"|请搜索\s*[“\"「]|"
    + _each("关注|订阅", r"[^。！？]{0,10}(?:公众号|微信号|视频号|抖音号|微博|服务号|小程序)")
    + r"|每经头条\s*[（(]\s*nbdtoutiao|赠书|送书|兑奖|抽奖(?:规则|名单|时间)|中奖(?:名单|者将)"
    r"|开奖(?:后|时间)|点赞[^。]{0,8}截止|文末有福利"
    r"|欢迎(?:关注|订阅|留言|转发|点赞|分享)|点个?[“\"]?在看|分享给(?:更多)?(?:朋友|好友)"
)
_APP_PROMPT = _Words(
    _each("下载|打开|安装|登录", r"[^。！？]{0,8}(?:APP|App|app|客户端)")
    + "|"
    + _each("APP|App|app|客户端", r"[^。！？]{0,6}(?:下载|查看更多|阅读全文|查看全文|看更多)")
)
# Cover-image credits in any of the desks' wordings: 封面图片来源：X, 封面图自X，图文无关,
# 题图来自X, 头图：X. ``封面：X`` alone credits the cover's designer and is a credit line.
_COVER_CREDIT = re.compile(
    r"^(?:封面图片?|封面照片|题图|头图|首图)(?:来源|来自|源自|出自|源|自|由)?\s*[:：]?\s*(.+?)$"
)
_UNRELATED = re.compile(r"[\s，,；;]*[(（]?\s*图文无关\s*[)）]?\s*[。.]?$")
# A section at the end that a heading opens: the giveaway a desk appends (related reading is
# cut where it is found, see processors.is_related_heading).
_GIVEAWAY_HEADING = re.compile(
    r"^[【\[~～\s]*(?:每经)?(?:送书|赠书|福利|粉丝福利|抽奖|有奖互动|互动有奖)"
)

# --- sourcing lines ------------------------------------------------------------------------------

# 来源：X, 本文来源：X, 本文转自：X, 本文来自我的小伙伴：X, (来源：X); the value is what follows.
_SOURCE_PREFIX = re.compile(
    r"^(?:本文|文章|内容|稿件|原文)?(?:来源|来自|转自|转载自|源自|出处|编译自)[^:：，。]{0,8}[:：]\s*"
)
# 每日经济新闻综合X (also 每日经济综合自X, 综合自X): kept whole, it says who compiled it.
_COMPILED = re.compile(r"^(?:每日经济(?:新闻)?|每经)?综合(?:自|了)?\S")
_SENTENCE_MARK = re.compile(r"[。！？!?]")


def _bare(text: str) -> str:
    return text.strip().strip(_BRACKETS).strip()


def _sentences(text: str) -> list[str]:
    parts = (_bare(s) for s in _SENTENCE.findall(_bare(text)))
    return [p for p in parts if p.strip("。！？!?；;，, ")]


def _last_sentence(text: str) -> str | None:
    """``_sentences(text)[-1]``, or None when there is none, without baring the others.

    >>> _last_sentence("第一句。（第二句）；"), _last_sentence("。；")
    ('第二句）；', None)
    >>> _sentences("第一句。（第二句）；")
    ['第一句。', '第二句）；']
    """
    for s in reversed(_SENTENCE.findall(_bare(text))):
        part = _bare(s)
        if part.strip("。！？!?；;，, "):
            return part
    return None


def _every(pattern: re.Pattern[str], text: str) -> bool:
    sentences = _sentences(text)
    return bool(sentences) and all(pattern.search(s) for s in sentences)


def cover_credit(text: str) -> str | None:
    """The credit in a cover-image line, in any wording; None if the line is not one.

    >>> cover_credit("封面图片来源：每经记者 张某 摄")
    '每经记者 张某 摄'
    >>> cover_credit("封面图自摄图网，图文无关")
    '摄图网'
    >>> cover_credit("题图来自：视觉中国（图文无关）")
    '视觉中国'
    >>> cover_credit("封面：贺某") is None, cover_credit("封面图片来源：") is None
    (True, True)
    """
    m = _COVER_CREDIT.match(_bare(text))
    if not m:
        return None
    value = _UNRELATED.sub("", m.group(1)).strip(" ：:，,。")
    value = re.sub(r"^图片?(?:来源|来自)\s*[:：]\s*", "", value)  # 封面图片来源：图片来源：X
    return value or None


def tail_class(text: str) -> str | None:
    """The boilerplate class of a block at the end of a body, or None for article text.

    >>> tail_class("（每经App登载此文出于传递更多信息之目的，并不意味着赞同其观点或证实其描述。"
    ...            "文章内容或者数据仅供参考，不构成投资建议。投资者据此操作，风险自担。）")
    'disclaimer'
    >>> tail_class("（本文不代表本台观点）"), tail_class("未经许可禁止转载、摘编、复制及镜像等使用")
    ('disclaimer', 'copyright')
    >>> tail_class("｜某某日报 xyznews 原创文章｜"), tail_class("微信ID：some_account")
    ('account', 'account')
    >>> tail_class("长按识别下方二维码，关注我们↓"), tail_class("下载某某APP，查看更多快讯")
    ('promotion', 'app_prompt')
    >>> tail_class("头图来源：摄图网")
    'cover_credit'
    >>> tail_class("风险提示：原材料价格波动的风险。") is None
    True
    >>> tail_class("记者致电公司，工作人员表示，扩产节奏会动态调整，具体以公司公告为准。") is None
    True
    >>> tail_class("公司称，投资者据此操作，风险自担的说法并不准确。") is None
    True
    >>> tail_class("（本文内容仅供参考。据此操作，风险自担。）")
    'disclaimer'

    >>> tail_class("公司表示，用户扫描二维码即可付款，未经许可的转载将被追责。") is None
    True
    """
    bare = _bare(text)
    if not bare:
        return None
    if cover_credit(bare) is not None:
        return "cover_credit"
    if is_related_heading(bare):
        return "related"
    # The last sentence first: when it is the writer's, so is the block (the last line of most
    # articles), and the other sentences are neither bared nor searched.
    last_sentence = _last_sentence(bare)
    if last_sentence is None:
        return None
    last = _sentence_class(last_sentence)
    if not last:
        return None
    sentences = _sentences(bare)
    first = last  # every sentence a notice's: the block is of its first sentence's class
    for k, sentence in enumerate(sentences[:-1]):
        kind = _sentence_class(sentence)
        if not kind:
            # A promotion often closes a block that leads into it with a sentence of its own
            # ("截至…, 全球确诊…。关注疫情动态，请点击↓↓"): the block is the promotion's.
            return "promotion" if last == "promotion" and len(bare) <= 120 else None
        if k == 0:
            first = kind
    return first


_CLASSES = (_DISCLAIMER, _COPYRIGHT, _ACCOUNT, _PROMOTION, _APP_PROMPT)
# Every phrase of every class, as one search (and one match of their openings): a sentence that
# holds none of them (most sentences of an article) is the writer's without the six searches
# below. Each alternative still opens with a literal (see _Words).
_ANY_CLASS = _Words(
    "|".join(words.anywhere.pattern for words in _CLASSES),
    "|".join(words.opening.pattern for words in _CLASSES if words.opening is not None),
)


def _sentence_class(sentence: str) -> str:
    """The boilerplate class of one sentence, or ``""`` for the writer's own.

    >>> _sentence_class("本文不构成投资建议"), _sentence_class("公司表示，不构成投资建议")
    ('disclaimer', '')
    >>> _sentence_class("ID：some_account"), _sentence_class("公司全年营收增长。")
    ('account', '')
    """
    if len(sentence) > _LONGEST_NOTICE or not _ANY_CLASS.search(sentence):
        return ""  # notices are terse, and hold one of their class's phrases
    if _REPORTED.search(sentence):
        return ""  # notices report nothing: this is the writer's
    if _DISCLAIMER.search(sentence):
        return "disclaimer"
    if _COPYRIGHT.search(sentence):
        return "copyright"
    if _ACCOUNT.search(sentence):
        return "account"
    if _PROMOTION.search(sentence):
        return "promotion"
    if _APP_PROMPT.search(sentence):
        return "app_prompt"
    return ""


def sourced_from(text: str) -> str | None:
    """The source a sourcing line names, as written without a leading ``来源：``; or None.

    >>> sourced_from("来源：每日经济新闻综合央视新闻")
    '每日经济新闻综合央视新闻'
    >>> sourced_from("本文来源：某某公安"), sourced_from("（每日经济新闻综合新华社、人民网）")
    ('某某公安', '每日经济新闻综合新华社、人民网')
    >>> sourced_from("本文来自我的小伙伴：某某研究所")
    '某某研究所'
    >>> sourced_from("每日经济综合自某报、某网等")
    '每日经济综合自某报、某网等'
    >>> sourced_from("来源于市场的消息称，公司将于下月上市。") is None
    True
    """
    bare = _bare(text)
    if not bare or len(bare) > 90:
        return None
    m = _SOURCE_PREFIX.match(bare)
    value = bare[m.end() :] if m else bare if _COMPILED.match(bare) else None
    if not value or _SENTENCE_MARK.search(value.rstrip("。")):
        return None
    return value.strip().rstrip("。") or None


def _source_list(text: str) -> bool:
    """A line that only lists outlets (the second half of a sourcing line split in two).

    >>> _source_list("某某新闻、某某网、公开资料等"), _source_list("公司股价下跌，投资者担忧。")
    (True, False)
    """
    bare = _bare(text)
    return (
        0 < len(bare) <= 60
        and not _SENTENCE_MARK.search(bare)
        and "，" not in bare
        and ("、" in bare or bare.endswith("等"))
    )


# --- the tail ------------------------------------------------------------------------------------


class Line(NamedTuple):
    """A body line, with the block (element) it came from: ``<br>`` lines share a group. (A
    tuple: one is made for every line of every page.)"""

    text: str
    group: int = 0
    at: int = 0  # position on the page, to tell what was removed in page order


@dataclass(frozen=True)
class Removed:
    """A block removed from the body, and why."""

    kind: str
    text: str
    at: int = 0


@dataclass
class Tail:
    """What :func:`trim_tail` made of a body: the lines kept, what went, the sourcing line."""

    lines: list[Line]
    removed: list[Removed] = field(default_factory=list)
    sourced_from: str | None = None


def trim_tail(lines: Sequence[Line]) -> Tail:
    """Remove boilerplate from the end of a body, backwards, up to the first article block.

    >>> body = [Line("正文说，用户扫描二维码即可。", 1), Line("文章结尾。", 2),
    ...         Line("来源：某某日报", 3), Line("（本文不构成投资建议）", 4),
    ...         Line("点击下方图片，查看最新数据↓", 5)]
    >>> tail = trim_tail(body)
    >>> [x.text for x in tail.lines], tail.sourced_from
    (['正文说，用户扫描二维码即可。', '文章结尾。'], '某某日报')
    >>> [r.kind for r in tail.removed]
    ['sourcing', 'disclaimer', 'promotion']
    """
    end = len(lines)
    removed: list[Removed] = []
    sources: list[str] = []
    while end > 0:
        line = lines[end - 1]
        kind = tail_class(line.text)
        value = sourced_from(line.text) if kind is None else None
        if kind is None and value is None and end > 1 and _source_list(line.text):
            before = sourced_from(lines[end - 2].text)
            if before is not None:  # a sourcing line split over two blocks
                removed += [
                    Removed("sourcing", line.text),
                    Removed("sourcing", lines[end - 2].text),
                ]
                sources.append(
                    before + line.text if before.endswith("、") else f"{before}{line.text}"
                )
                end -= 2
                continue
        if value is not None:
            removed.append(Removed("sourcing", line.text, line.at))
            sources.append(value)
            end -= 1
            continue
        if kind is None:
            break
        start = _block_start(lines, end, kind)
        removed += [Removed(kind, x.text, x.at) for x in reversed(lines[start:end])]
        end = start
    removed.reverse()
    sources.reverse()
    return Tail(list(lines[:end]), removed, " ".join(sources) or None)


def _block_start(lines: Sequence[Line], end: int, kind: str) -> int:
    """Where the boilerplate ending at ``end`` starts: its own line, the whole ``<br>`` block
    when that block opens with boilerplate too (an account's banner over its promotion), or a
    giveaway section from its heading."""
    start = end - 1
    group = lines[start].group
    first = start
    while first > 0 and lines[first - 1].group == group:
        first -= 1
    if first < start and tail_class(lines[first].text) is not None:
        return first
    if kind == "promotion":
        for i in range(start - 1, max(start - 12, -1), -1):
            if _GIVEAWAY_HEADING.match(_bare(lines[i].text)) and len(_bare(lines[i].text)) <= 12:
                return i
    return start


def head_promotion(text: str) -> bool:
    """A teaser line at the top of a body that only points to a promotion at its end.

    >>> head_promotion("~~~文末有福利~~~"), head_promotion("文末有福利的说法不实。")
    (True, False)
    """
    return _HEAD_PROMOTION.fullmatch(text) is not None


_HEAD_PROMOTION = re.compile(r"[~～\-—\s【\[]*文末有(?:福利|彩蛋|惊喜)[~～\-—\s】\]!！]*")
