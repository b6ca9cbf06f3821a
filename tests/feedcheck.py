"""Checking feeds the way their readers and the W3C feed validator do.

:func:`check_feed` parses a feed document three ways and returns feedparser's reading of it:

- strictly: lxml without recovery, then RELAX NG (``tests/schemas/atom.rng``: RFC 4287;
  ``tests/schemas/rss2.rng``: the RSS 2.0 specification), so an invalid feed fails;
- with feedparser (what feed readers use), which must not set ``bozo``;
- with the W3C validator's rules that a grammar cannot state: an author for every entry, an
  absolute self link (equal to ``self_url`` when given), unique ids, absolute URLs in entry
  HTML, RFC 3339 / RFC 822 dates, an alternate link per entry, RSS items with a title or
  description, and entry HTML that has no script, event handler or ``javascript:`` link.
"""

from __future__ import annotations

import email.utils
import re
from functools import cache
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
from lxml import etree

SCHEMAS = Path(__file__).parent / "schemas"
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
ABSOLUTE = re.compile(r"^https?://[^\s/]+/\S*$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@cache
def schema(fmt: str) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMAS / ("atom.rng" if fmt == "atom" else "rss2.rng"))))


def strict_parse(data: bytes, fmt: str) -> etree._Element:
    """The document, or an exception: not well-formed, or not valid against the schema."""
    parser = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
    root = etree.fromstring(data, parser)
    schema(fmt).assertValid(root)
    return root


def shown(detail: Any) -> str:
    """The text a reader shows for a feedparser text field: HTML rendered to its text (a
    ``<br>`` a line break), plain text as it is."""
    if detail.type not in ("text/html", "application/xhtml+xml"):
        return str(detail.value)
    value = re.sub(r"<br\s*/?>\n?", "\n", detail.value)
    if not value:
        return ""
    return str(lxml.html.fragment_fromstring(value, create_parent="div").text_content())


def assert_safe_html(fragment: str) -> None:
    """Entry HTML that a reader can show as is: no script, handler or javascript: URL."""
    if not fragment.strip():
        return
    tree = lxml.html.fragment_fromstring(fragment, create_parent="div")
    assert not tree.xpath("//script|//style|//iframe|//object|//embed"), fragment[:300]
    for element in tree.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (name, fragment[:300])
            assert not value.strip().lower().startswith("javascript:"), (value, fragment[:300])
            if name in ("href", "src"):  # the validator warns of relative references
                assert ABSOLUTE.match(value), (name, value)


def check_feed(data: bytes, fmt: str, self_url: str | None = None) -> Any:
    """Assert ``data`` is a valid ``fmt`` feed (see module docs); feedparser's result."""
    root = strict_parse(data, fmt)
    parsed = feedparser.parse(data)
    assert not parsed.bozo, f"feedparser: {parsed.get('bozo_exception')!r}"
    assert parsed.version == ("atom10" if fmt == "atom" else "rss20"), parsed.version
    if fmt == "atom":
        _check_atom(root, self_url)
    else:
        _check_rss(root, self_url)
    return parsed


def _self_link(href: str | None, self_url: str | None) -> None:
    assert href and ABSOLUTE.match(href), f"self link {href!r} is not absolute"
    if self_url is not None:
        assert href == self_url, (href, self_url)


def _check_atom(root: etree._Element, self_url: str | None) -> None:
    selfs = root.findall(f"{ATOM}link[@rel='self']")
    assert len(selfs) == 1, "one self link"
    _self_link(selfs[0].get("href"), self_url)
    feed_has_author = root.find(f"{ATOM}author") is not None
    ids = []
    for date in root.iter(f"{ATOM}updated", f"{ATOM}published"):
        assert RFC3339.match(date.text or ""), date.text
    for entry in root.iterfind(f"{ATOM}entry"):
        ids.append(entry.findtext(f"{ATOM}id"))
        assert feed_has_author or entry.find(f"{ATOM}author") is not None
        alternates = entry.findall(f"{ATOM}link[@rel='alternate']")
        assert len(alternates) == 1, "one alternate link per entry"
        published, updated = entry.findtext(f"{ATOM}published"), entry.findtext(f"{ATOM}updated")
        assert published and updated
        content = entry.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "html"
        assert_safe_html(content.text or "")
    assert len(ids) == len(set(ids)), "entry ids are unique"
    assert all(i and re.match(r"^[a-z][a-z0-9+.-]*:\S+$", i) for i in ids), ids


def _check_rss(root: etree._Element, self_url: str | None) -> None:
    channel = root.find("channel")
    assert channel is not None
    selfs = channel.findall(f"{ATOM}link[@rel='self']")
    assert len(selfs) == 1, "one atom:link rel=self"
    _self_link(selfs[0].get("href"), self_url)
    for date in channel.iter("pubDate", "lastBuildDate"):
        assert email.utils.parsedate_to_datetime(date.text or "").tzinfo is not None, date.text
    guids = []
    for item in channel.iterfind("item"):
        assert item.findtext("title") or item.findtext("description")
        guids.append(item.findtext("guid"))
        content = item.find(f"{CONTENT}encoded")
        assert content is not None
        assert_safe_html(content.text or "")
        assert_safe_html(item.findtext("description") or "")
    assert all(guids) and len(guids) == len(set(guids)), "guids are present and unique"
