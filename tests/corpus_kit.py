"""The real markup of ../shared/corpus wrapped in a page, and its reviewed expectations.

Real text stays outside the project: expectations keep hashes of normalised lines, never the
lines. To review after a rule change (prints what changed, writes nothing unless --write):

    python -m tests.corpus_kit [--write] [POST ...]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse

from newsbot.commands.extract import post_page
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.processors import normalize_space
from tests.helpers import SHARED

EXPECTATIONS = Path(__file__).with_name("corpus_expectations.json")
URL = "https://www.nbd.com.cn/articles/2021-07-01/1800000.html"
FOLDERS = ("nbd-2021", "nbd-2021-more")


def corpus_pages() -> list[Path]:
    root = SHARED / "corpus"
    pages = [p for f in FOLDERS for p in sorted((root / f / "posts").glob("*.md"))]
    return pages + sorted((root / "nbd-2017").glob("*.html"))


def manifest() -> dict[str, dict[str, str]]:
    """Each post's MANIFEST.tsv row (``kind`` says what the post is, in words)."""
    rows: dict[str, dict[str, str]] = {}
    for folder in FOLDERS:
        lines = (SHARED / "corpus" / folder / "MANIFEST.tsv").read_text("utf-8").splitlines()
        header = lines[0].split("\t")
        for line in lines[1:]:
            row = dict(zip(header, line.split("\t"), strict=False))
            rows[row["file"]] = row
    return rows


def wrap(markup: str) -> bytes:
    """A page around a post's markup, the way ``scrapy extract`` reads a Hexo post."""
    return post_page(markup)[0]


def extract(page: Path) -> tuple[dict[str, Any], ArticlePage]:
    response = HtmlResponse(url=URL, body=wrap(page.read_text(encoding="utf-8")))
    reader = ArticlePage(response)
    return ItemAdapter(reader.to_item()).asdict(), reader


def digest(text: str | None) -> str | None:
    """16 hex digits of the SHA-256 of the normalised text (None stays None).

    >>> digest(" 某某\u3000正文 "), digest(None)
    ('ccc640accf721ada', None)
    """
    if text is None:
        return None
    return hashlib.sha256(normalize_space(text).encode("utf-8")).hexdigest()[:16]


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """What an expectation keeps of a record: times and kind in clear, text as hashes."""
    lines = record["body"].split("\n") if record["body"] else []
    return {
        "title": digest(record["title"]),
        "published_at": record["published_at"],
        "people": digest(" ".join(record["reporters"]) + "|" + " ".join(record["editors"])),
        "kind": record["kind"],
        "first_line": digest(lines[0]) if lines else None,
        "last_line": digest(lines[-1]) if lines else None,
        "lines": len(lines),
        "sourced_from": digest(record["sourced_from"]),
        "videos": len(record["videos"]),
    }


def load_expectations() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(EXPECTATIONS.read_text(encoding="utf-8"))
    return data


def main(argv: list[str]) -> None:
    write = "--write" in argv
    only = [a for a in argv if not a.startswith("--")]
    known = load_expectations() if EXPECTATIONS.exists() else {}
    out = dict(known)
    for page in corpus_pages():
        if only and page.name not in only:
            continue
        try:
            record, _ = extract(page)
        except NotArticle as exc:
            print(f"{page.name}: {exc.reason}")
            continue
        new = summary(record)
        old = {k: v for k, v in known.get(page.name, {}).items() if k != "note"}
        if old != new:
            changed = [k for k in new if old.get(k) != new[k]]
            print(f"{page.name}: {', '.join(changed) or 'new'}")
        note = known.get(page.name, {}).get("note")
        out[page.name] = new | ({"note": note} if note else {})
    if write:
        text = json.dumps(out, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        EXPECTATIONS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
