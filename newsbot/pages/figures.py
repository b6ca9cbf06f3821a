"""Image captions: which block under an image is its caption, and what credit it gives.

Conservative on purpose. In the site's pages a short centred line under an image is as often a
subhead under a divider image as a caption, so only what the real pages show to be captions is
taken: a credit (图片来源：X, X 摄, 视觉中国图, 数据来源：X, 截图自X), a line ending in such a
credit, a line opening with ▲ or 图为, and a short line inside the image's own centred block.
Everything else under an image stays article text. Pure functions; no selectors.
"""

from __future__ import annotations

import re

from newsbot.processors import image_credit, is_caption, normalize_space

_TRAILING_CREDIT = re.compile(
    r"^(?P<caption>.{1,60}?)(?P<sep>[\s。.，,]*[（(]?\s*)"
    r"(?:(?P<pic>图片|图像|照片)?来源\s*[:：]\s*(?P<source>[^（()）]{1,30})"
    r"|(?:图片)?由(?P<by>[^。（()）]{1,20})提供|(?P<supplied>[^。，（()）\s]{1,20}供图(?:[（(][^）)]{1,12}[)）])?))"
    r"\s*[)）]?\s*[。.]?$"
)
_CREDIT_ONLY = re.compile(
    r"^(?:数据|图表|截图)(?:来源|来自)\s*[:：]\s*(.+)$|^截图自\s*[:：]?\s*(.+)$"
)
# 某公司公告截图, 资料图, 示意图: a short line naming what the picture is.
_PICTURE_NOUN = re.compile(r"^[^。，！？]{1,20}(?:截图|资料图|示意图|效果图|供图)$")
_POINTER = re.compile(r"^(?:▲|△|↑)\s*(?:图为)?|^图为")
_SENTENCE = re.compile(r"[。！？!?；;]")
_UNRELATED = re.compile(r"\s*[(（]\s*(?:图文无关|资料图)\s*[)）]\s*$")


def _clean_credit(value: str) -> str | None:
    value = _UNRELATED.sub("", normalize_space(value)).strip(" （()）。")
    return value or None


def caption_of(
    text: str, *, in_image_block: bool = False, centered: bool = False
) -> tuple[str | None, str | None] | None:
    """``(caption, credit)`` when ``text``, right under an image, is its caption; else None.

    >>> caption_of("图片来源：摄图网（图文无关）")
    (None, '摄图网')
    >>> caption_of("某某活动现场 图片来源：某某微博")
    ('某某活动现场', '某某微博')
    >>> caption_of("某品牌APP中的订车页面。（图片来源：软件截图）")
    ('某品牌APP中的订车页面', '软件截图')
    >>> caption_of("▲图为卫星拍摄的海域动态图。图片来源：某某网")
    ('卫星拍摄的海域动态图', '某某网')
    >>> caption_of("截图自：某公司2020年年报"), caption_of("数据来源：Wind")
    ((None, '某公司2020年年报'), (None, 'Wind'))
    >>> caption_of("某指数近一年走势", in_image_block=True, centered=True)
    ('某指数近一年走势', None)
    >>> caption_of("房企融资规模同比腰斩") is None  # a subhead under a divider image
    True
    >>> caption_of("本文来源：某某公安") is None, caption_of("来源：某某法院") is None
    (True, True)
    >>> caption_of("会议现场，公司董事长表示，今年目标是稳中求进。") is None
    True
    """
    text = normalize_space(text)
    if not text:
        return None
    m = _TRAILING_CREDIT.match(text)
    # "本文来源：X" is a sourcing line, not "本文" captioned: a bare 来源 needs a gap before it.
    bare_source = m is not None and m.group("source") and not m.group("pic") and not m.group("sep")
    if m and not bare_source and not _SENTENCE.search(m.group("caption").rstrip("。")):
        credit = m.group("source") or m.group("by") or m.group("supplied")
        caption = _POINTER.sub("", m.group("caption")).strip(" 。，,") or None
        return caption, _clean_credit(credit)
    if is_caption(text):
        return None, image_credit(text) or _clean_credit(text)
    m = _CREDIT_ONLY.match(text.strip("（()）"))
    if m:
        return None, _clean_credit(m.group(1) or m.group(2))
    if _PICTURE_NOUN.match(text):
        return text, None
    if _POINTER.match(text) and len(text) <= 80:
        return _POINTER.sub("", text).strip(" 。") or None, None
    if in_image_block and centered and len(text) <= 40 and not _SENTENCE.search(text):
        return text, None
    return None
