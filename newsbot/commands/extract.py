"""``scrapy extract PATH [PATH ...]``: records from saved pages, with the crawl's own extractor.

Saved pages are HTML files, or Hexo posts (``.md``: front matter, then the page's markup as a
blog generator copied it, either the inside of ``div.g-article`` or only the body's). After the
records, a summary line on stderr counts what the extractor removed from the bodies, by class;
``--explain`` prints, instead of records, each page's removed blocks and why.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, ClassVar

from itemadapter import ItemAdapter
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.http import HtmlResponse

from newsbot.inputs import DEFAULT_MAX_INPUT_BYTES, InputRefused, read_input_file
from newsbot.items import ArticleItem
from newsbot.logsafe import shown
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.urls import article_path_parts, article_url, canonical_article_url

PAGE_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")
POST_SUFFIX = ".md"
_FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\n(.*?)\n---[ \t]*\n", re.S)
_POST_TITLE = re.compile(r"^title:\s*['\"]?(.*?)['\"]?\s*$", re.M)
_POST_URL = re.compile(r"^(?:original_url|url|link|permalink):\s*['\"]?(\S+?)['\"]?\s*$", re.M)


def _is_post(path: Path) -> bool:
    """A Hexo post: a ``.md`` file that opens with front matter."""
    try:
        with path.open("rb") as fh:
            return fh.read(64).lstrip().startswith(b"---")
    except OSError:
        return True  # named as unreadable when read


def page_files(paths: list[str], skipped: Counter[str] | None = None) -> Iterator[Path]:
    """The files named, and the pages and Hexo posts inside the folders named, in a stable
    order. Other files in the folders are counted in ``skipped`` by suffix (``(none)`` without
    one). A page name that is not a regular file (a FIFO, a link to a device) is listed too:
    reading refuses it with a reason, rather than it vanishing unsaid."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for p in sorted(p for p in path.rglob("*") if not p.is_dir()):
                suffix = p.suffix.lower()
                if suffix in PAGE_SUFFIXES or (
                    suffix == POST_SUFFIX and p.is_file() and _is_post(p)
                ):
                    yield p
                elif skipped is not None:
                    skipped[suffix or "(none)"] += 1
        else:
            yield path


def post_page(text: str) -> tuple[bytes, str | None]:
    """The page a Hexo post's markup came from, and the URL its front matter names (our own
    Hexo feed writes ``original_url``), if any.

    >>> page, url = post_page("---\\ntitle: 'x'\\noriginal_url: https://www.nbd.com.cn/a\\n---\\n<p>正文</p>")
    >>> url, b'<div class="g-articl-text"><p>' in page
    ('https://www.nbd.com.cn/a', True)
    """
    m = _FRONT_MATTER.match(text)
    front, markup = (m.group(1), text[m.end() :]) if m else ("", text)
    found = _POST_URL.search(front)
    if "g-article-top" not in markup:
        # Only the body was copied: the site's page has it in the body div, under the h1 whose
        # text the post's title keeps (with some characters replaced).
        title = _POST_TITLE.search(front)
        top = f"<div class='g-article-top'><h1>{html.escape(title[1])}</h1></div>" if title else ""
        markup = f'{top}<div class="g-articl-text">{markup}</div>'
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>每经网</title></head><body>"
        f"<div class='g-article'>{markup}</div></body></html>"
    )
    return page.encode("utf-8"), found.group(1) if found else None


def skipped_line(skipped: Counter[str]) -> str:
    """What ``scrapy extract`` says about the files of a folder it did not read.

    >>> line = skipped_line(Counter({".json": 11, ".png": 1}))
    >>> print(line.replace(": ", ":\\n").replace(" (name", "\\n(name"))
    newsbot:
    skipped 12 files that are not HTML pages (.json 11, .png 1):
    in a folder, only .html, .htm, .shtml and .xhtml files and Hexo posts are read
    (name a file to read it anyway)
    """
    most = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))  # stable for equal counts
    kinds = ", ".join(f"{suffix} {n}" for suffix, n in most)
    total = sum(skipped.values())
    names = ", ".join(PAGE_SUFFIXES[:-1]) + " and " + PAGE_SUFFIXES[-1]
    return (
        f"newsbot: skipped {total} file{'s' if total != 1 else ''} that are not HTML pages "
        f"({kinds}): in a folder, only {names} files and Hexo posts are read (name a file to "
        "read it anyway)"
    )


def saved_response(path: Path, body: bytes) -> HtmlResponse:
    """A response for a saved page. Its URL is the article URL when the path follows the site's
    layout (a wget mirror), else the file's own URL, so the page's canonical link decides."""
    found = article_path_parts(path.resolve().as_posix())
    url = article_url(*found) if found else path.resolve().as_uri()
    return HtmlResponse(url=url, body=body)


def explain(path: Path, page: ArticlePage, item: ArticleItem | None, out: IO[str]) -> None:
    """What left the body of one page, and why, in page order; then how the body ends."""
    head = f"{path}"
    if item is not None:
        head += f": article {item.article_id}, kind {item.kind}"
    print(head, file=out)
    for removed in page.removed:
        print(f"  removed  {removed.kind:<12}  {removed.text}", file=out)
    if not page.removed:
        print("  removed  nothing", file=out)
    if item is not None:
        if item.sourced_from:
            print(f"  sourced_from  {item.sourced_from}", file=out)
        last = (item.body or "").split("\n")[-1]
        print(f"  body ends     {last}", file=out)


def summary_line(records: int, pages: int, removed: Counter[str]) -> str:
    """The closing stderr line: records, pages, and removed blocks by class.

    >>> summary_line(2, 3, Counter({"disclaimer": 2, "sourcing": 1}))
    'newsbot: extract: 2 records from 3 pages; removed from bodies: disclaimer 2, sourcing 1'
    """
    by_class = ", ".join(
        f"{k} {n}" for k, n in sorted(removed.items(), key=lambda x: (-x[1], x[0]))
    )
    return f"newsbot: extract: {records} records from {pages} pages; removed from bodies: " + (
        by_class or "nothing"
    )


class PathsCommand:
    """Mixin of the commands that read the files and folders named (``extract``, ``tails``):
    no project needed, no log (their output is what they print), PATHs as arguments. (Not a
    ScrapyCommand itself: Scrapy would list it as a command.)"""

    requires_project = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options] PATH [PATH ...]"


class Command(PathsCommand, ScrapyCommand):
    def short_desc(self) -> str:
        return "Print a JSON line for each saved article page (files or folders)"

    def long_desc(self) -> str:
        return (
            "Read saved 每经网 pages (HTML, or Hexo posts holding a page's markup) and print one "
            "record per article page as a JSON line on stdout, with the same extraction as the "
            "crawl. A page's URL comes from its path when the path ends in "
            "articles/YYYY-MM-DD/ID.html, else from its canonical link (a post's front matter), "
            "else from --url (one file only). Pages that give no record are reported on stderr, "
            "and the exit status is then 1. A last line on stderr counts the blocks removed "
            "from the bodies by class; --explain shows them page by page instead of records."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--url", metavar="URL", help="article URL of the page, when only one PATH is given"
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="print the blocks removed from each body and why, instead of the records",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name at least one saved page or folder")
        skipped: Counter[str] = Counter()
        files = list(page_files(args, skipped))
        if opts.url and len(files) != 1:
            raise UsageError("--url applies to a single page")
        if opts.url and not canonical_article_url(opts.url, any_host=True):
            raise UsageError(f"--url is not an article URL: {shown(opts.url)}")
        assert self.settings is not None
        limit = self.settings.getint("NEWSBOT_MAX_INPUT_BYTES", DEFAULT_MAX_INPUT_BYTES)
        failures = records = pages = 0
        removed: Counter[str] = Counter()
        out = sys.stdout
        for path in files:
            try:
                body = read_input_file(path, limit)
            except InputRefused as e:
                reason = "unreadable" if e.reason == "missing" else e.reason
                print(f"newsbot: {shown(path)}: {reason}: {e.detail}", file=sys.stderr)
                failures += 1
                continue
            hint = opts.url
            response = saved_response(path, body)
            if path.suffix.lower() == POST_SUFFIX:
                markup, post_url = post_page(body.decode("utf-8", "replace"))
                response = response.replace(body=markup)
                hint = hint or post_url
            page = ArticlePage(response, fetched_at=datetime.now(timezone.utc), url_hint=hint)
            item: ArticleItem | None = None
            try:
                item = page.to_item()
            except NotArticle as e:
                print(f"newsbot: {shown(path)}: {e.reason}: {shown(e.detail)}", file=sys.stderr)
                failures += 1
            pages += 1
            removed.update(r.kind for r in page.removed)
            if opts.explain:
                explain(path, page, item, out)
            elif item is not None:
                out.write(json.dumps(ItemAdapter(item).asdict(), ensure_ascii=False) + "\n")
            records += item is not None
        out.flush()
        if skipped:
            print(skipped_line(skipped), file=sys.stderr)
        if not files:
            print("newsbot: no pages found in " + " ".join(map(shown, args)), file=sys.stderr)
        else:
            print(summary_line(records, pages, removed), file=sys.stderr)
        self.exitcode = 1 if failures or not files else 0
