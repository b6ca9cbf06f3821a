"""Property tests (hypothesis): the page objects take any bytes and give a record or a reason,
never another exception; article URLs have one canonical key whatever form they come in.

The pages are the project's own: every fixture page variant and a synthetic one, mutated
(bytes inserted, cut out, markup fragments spliced in, the page truncated) and served with
every Content-Type the site or a mirror sends. ``HYPOTHESIS_PROFILE=thorough`` runs ten times
as many examples.
"""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itemadapter import ItemAdapter
from scrapy.http import HtmlResponse

from newsbot.items import ArticleItem
from newsbot.pages import NotArticle
from newsbot.pages.article import ArticlePage
from newsbot.pages.listing import ListPage, NotListPage
from newsbot.pages.search import SearchAnswerError, parse_answer
from newsbot.perimeter import SitePerimeter
from newsbot.pipelines import MULTILINE_FIELDS, clean_value
from newsbot.urls import article_id, article_path_parts, canonical_article_url, is_nbd_host
from tests.helpers import ARTICLES
from testsite import SiteCopy, render_article
from testsite.sitecopy import SITE_DIR

settings.register_profile(
    "default",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REASONS = {"not_article", "blocked", "empty_body", "bad_encoding", "no_url"}
URL = "https://www.nbd.com.cn/articles/2021-04-05/1700501.html"


def _seeds() -> list[bytes]:
    site = SiteCopy(serve_site=True)
    site.stop()  # only its pages are wanted, not its socket
    pages = [p.read_bytes() for p in sorted(ARTICLES.glob("*.html"))]
    pages.append(render_article(site.articles["1700501"]).encode())
    return pages


SEEDS = _seeds()
LIST_SEEDS = [p.read_bytes() for p in sorted((SITE_DIR / "columns").rglob("*.html"))] + [
    (SITE_DIR / "mobile-column.html").read_bytes()
]

FRAGMENTS = [
    '<div class="g-articl-text">', '<div class="g-article">', "</div>", "<p>", "</p>", "<br>",
    "<h1>", "</h1>", '<span class="time">', "</span>", '<span class="source">', "<script>",
    "</script>", "<!--", "-->", "<![CDATA[", "]]>", '<p style="color: #6d6d6d;">每经记者 ',
    "编辑|", "图片来源：", "封面图片来源：", "相关阅读", "（记者 ", "免责声明", "<table><tr><td>",
    '<img src="javascript:x">', '<img data-src="//x/y.jpg">', "&#0;", "&#xD800;", "&#x1b;",
    "\x00", "\x1b[31m", "\u202e", "\ufeff", "\ufffd", "2021-02-30 25:61:00", "3小时前",
    "昨天 10:20", "9999-99-99", '<div class="typeTags"><a class="typeTag tagColor1" href="?">',
    '<link rel="canonical" href="javascript:1">', "安全验证", '<meta charset="gbk">',
    '<li class="u-news-title"><a href="/articles/2021-02-31/1.html">', "<p class=u-channeltime>",
    '<a href="//127.0.0.2/articles/2021-04-05/9.html">', "下一页", '<a class="next" href="">',
]  # fmt: skip

CONTENT_TYPES = [
    "text/html", "text/html; charset=utf-8", "text/html; charset=gbk", "text/html; charset=gb2312",
    "text/html; charset=gb18030", "text/html; charset=iso-8859-1", "text/html; charset=bogus",
    "text/html; charset=utf-16", "application/octet-stream",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    page = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["insert", "fragment", "text", "delete", "truncate"]))
        at = draw(st.integers(0, len(page)))
        if op == "insert":
            page[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "fragment":
            codec = draw(st.sampled_from(["utf-8", "gb18030"]))
            page[at:at] = draw(st.sampled_from(FRAGMENTS)).encode(codec)
        elif op == "text":
            page[at:at] = draw(st.text(min_size=1, max_size=32)).encode("utf-8", "surrogatepass")
        elif op == "delete":
            del page[at : at + draw(st.integers(1, 4000))]
        else:
            del page[at:]
    return bytes(page)


def response(body: bytes, content_type: str, url: str = URL) -> HtmlResponse:
    return HtmlResponse(url=url, body=body, headers={"Content-Type": content_type})


def check_record(item: ArticleItem) -> None:
    """What the crawl does next with a record must work too: the pipeline's cleaning and the
    typed fields the exporters and the store rely on."""
    record = ItemAdapter(item).asdict()
    for name, value in record.items():
        if value is not None:
            clean_value(value, multiline=name in MULTILINE_FIELDS)
    assert record["url"] == canonical_article_url(record["url"])
    assert record["article_id"] == article_id(record["url"])
    assert isinstance(record["title"], str | None)
    assert isinstance(record["body"], str) and record["body"]
    if record["published_at"] is not None:
        assert dt.datetime.fromisoformat(record["published_at"]).tzinfo is not None


@given(body=mutated(SEEDS), content_type=st.sampled_from(CONTENT_TYPES))
def test_the_article_page_gives_a_record_or_a_reason(body: bytes, content_type: str) -> None:
    try:
        item = ArticlePage(response(body, content_type)).to_item()
    except NotArticle as e:
        assert e.reason in REASONS
    else:
        check_record(item)


@given(body=st.binary(max_size=3000), content_type=st.sampled_from(CONTENT_TYPES))
def test_the_article_page_takes_any_bytes(body: bytes, content_type: str) -> None:
    try:
        item = ArticlePage(response(body, content_type)).to_item()
    except NotArticle as e:
        assert e.reason in REASONS
    else:
        check_record(item)


@given(body=mutated(LIST_SEEDS), content_type=st.sampled_from(CONTENT_TYPES))
def test_the_list_page_gives_rows_or_a_reason(body: bytes, content_type: str) -> None:
    page = ListPage(response(body, content_type, "http://127.0.0.1:8765/columns/3/"))
    try:
        rows = page.rows
    except NotListPage:
        return
    for row in rows:
        assert isinstance(row.url, str)
        assert row.listed_at is None or row.listed_at.tzinfo is not None
    assert page.next_page_url is None or isinstance(page.next_page_url, str)


@given(body=st.one_of(st.binary(max_size=500), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["code", "data", "totalHits", "searchResults", "title", "url",
                         "publishTime", "msg"]), inner, max_size=5),
    max_leaves=20).map(lambda doc: __import__("json").dumps(doc).encode())))  # fmt: skip
def test_the_search_answer_gives_hits_or_a_reason(body: bytes) -> None:
    try:
        answer = parse_answer(body)
    except SearchAnswerError:
        return
    assert answer.total >= 0
    for hit in answer.hits:
        assert isinstance(hit.url, str)


# -- URLs ------------------------------------------------------------------------------------

dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
ids = st.integers(min_value=1, max_value=10**9 - 1)  # ids have 7 digits today; 12 with zeros
TRACKING = ["utm_source", "utm_medium", "utm_campaign", "from", "spm", "share_token",
            "isappinstalled", "wxshare_count", "_t", "code"]  # fmt: skip


@st.composite
def article_url_forms(draw: st.DrawFn) -> tuple[str, str]:
    """``(a form of an article's URL, its canonical URL)``."""
    day, ident = draw(dates), draw(ids)
    scheme = draw(st.sampled_from(["http://", "https://", "HTTPS://", "//"]))
    host = draw(
        st.sampled_from(
            [
                "www.nbd.com.cn",
                "m.nbd.com.cn",
                "nbd.com.cn",
                "WWW.NBD.COM.CN",
                "www.nbd.com.cn.",
                "stocks.nbd.com.cn",
                "economy.nbd.com.cn",
            ]
        )
    )
    port = draw(st.sampled_from(["", ":80", ":443"]))
    zeros = "0" * draw(st.integers(0, 3))
    suffix = draw(st.sampled_from([".html", ".htm"]))
    query = draw(st.lists(st.tuples(st.sampled_from(TRACKING), st.text("abc123=%", max_size=8)),
                          max_size=3))  # fmt: skip
    fragment = draw(st.sampled_from(["", "#", "#comments", "#top?x=1"]))
    url = f"{scheme}{host}{port}/articles/{day.isoformat()}/{zeros}{ident}{suffix}"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    canonical = f"https://www.nbd.com.cn/articles/{day.isoformat()}/{ident}.html"
    return url + fragment, canonical


@given(article_url_forms())
def test_every_form_of_an_article_url_has_the_same_key(form: tuple[str, str]) -> None:
    url, canonical = form
    assert canonical_article_url(url) == canonical
    assert article_id(url) == canonical.rsplit("/", 1)[1].removesuffix(".html")
    # The spider maps it onto whatever root it crawls, under the same key.
    perimeter = SitePerimeter("http://127.0.0.1:8765")
    assert perimeter.link_refusal(url) is None
    assert perimeter.article_url(url) == canonical


@given(st.text(max_size=120) | st.from_regex(
    r"(https?:)?//[a-z.]{0,20}(nbd\.com\.cn)?(:\d{1,5})?/articles/\d{4}-\d{2}-\d{2}/\d{1,13}\.html?"
    r"[?#]?.{0,20}", fullmatch=True))  # fmt: skip
def test_canonicalisation_is_idempotent_and_only_names_real_dates(url: str) -> None:
    canonical = canonical_article_url(url)
    if canonical is None:
        return
    assert canonical_article_url(canonical) == canonical
    parts = article_path_parts(canonical)
    assert parts is not None
    day, ident = parts
    dt.date.fromisoformat(day)  # a real calendar date, or the key would be no key
    assert canonical == f"https://www.nbd.com.cn/articles/{day}/{ident}.html"


@given(
    host=st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){0,3}", fullmatch=True),
    form=article_url_forms(),
)
def test_other_hosts_never_give_an_article_key(host: str, form: tuple[str, str]) -> None:
    if is_nbd_host(host):
        return
    url = form[0].replace("nbd.com.cn", host, 1).replace("NBD.COM.CN", host, 1)
    assert canonical_article_url(url) is None
    assert SitePerimeter("https://www.nbd.com.cn").why_refused(url) is not None
