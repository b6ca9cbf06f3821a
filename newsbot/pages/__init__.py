"""Page objects: one response in, one item (or a reason why not) out. No requests, no I/O.

Every selector for a page type lives in that page type's module.
"""

from __future__ import annotations


class NotArticle(Exception):
    """The page gives no article record.

    ``reason`` is a short stable code, used in stats (``newsbot/not_article/<reason>``) and on
    stderr: ``not_article``, ``blocked``, ``empty_body``, ``bad_encoding``, ``no_url``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
