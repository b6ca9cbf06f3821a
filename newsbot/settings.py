"""Scrapy settings for newsbot.

newsbot's own settings are prefixed ``NEWSBOT_`` and documented in README.md. Defaults here are
polite for the real site; tests and local runs override them with ``-s``.
"""

from newsbot import addon as _addon

BOT_NAME = "newsbot"
SPIDER_MODULES = ["newsbot.spiders"]
NEWSPIDER_MODULE = "newsbot.spiders"
COMMANDS_MODULE = "newsbot.commands"

#: A log a person reads: what the run does and what went wrong, not every request and item
#: (``-s LOG_LEVEL=DEBUG`` shows those).
LOG_LEVEL = "INFO"
#: Scrapy's messages; the per-page and per-record DEBUG ones are not even made at INFO.
LOG_FORMATTER = "newsbot.logsafe.LogFormatter"

USER_AGENT = "newsbot/0.1 (+https://github.com/newsbot; research crawler)"
ROBOTSTXT_OBEY = True
TELNETCONSOLE_ENABLED = False

FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# --- extraction -------------------------------------------------------------------------------

# --- crawling (spider, perimeter, politeness) --------------------------------------------------

#: Where every request goes; records keep https://www.nbd.com.cn URLs. Point it at a mirror, a
#: caching proxy or the local copy (tools/sitecopy.py) to crawl the same tree elsewhere.
NEWSBOT_SITE_ROOT = "https://www.nbd.com.cn"
#: Further hosts (``host`` or ``host:port``) requests may go to. The nbd.com.cn article hosts
#: are allowed by themselves only when NEWSBOT_SITE_ROOT is on nbd.com.cn.
NEWSBOT_ALLOWED_HOSTS: list[str] = []
#: Columns read by default (`scrapy crawl nbd`): 3 要闻, 332 重磅原创, 1161 每经头条,
#: 1367 每经AI快讯互动 (ids and names from NBD.md).
NEWSBOT_COLUMNS = ["3", "332", "1161", "1367"]
#: List pages read per column when no ``since`` is given (0: no limit).
NEWSBOT_MAX_LIST_PAGES = 10
#: Try /columns/<id>/page/<n+1> when a list page has no next-page link (a 404 ends the column).
NEWSBOT_GUESS_NEXT_PAGE = True
#: Results per search API request.
NEWSBOT_SEARCH_PAGE_SIZE = 16
#: Incremental runs keep paging this far behind the previous run's high-water mark.
NEWSBOT_INCREMENTAL_OVERLAP_HOURS = 6

# Politeness for the real site: one page at a time, about a second apart, slower if it is slow.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.75
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
#: Scrapy starts this many asyncio tasks for every callback's output, whatever its size (its
#: default, 100, was 17 % of a crawl's CPU), and hands the output over at about this many
#: objects per turn of the event loop. With 1, a list page's 50 requests trickled out one a
#: turn, behind every other page in progress, and the downloader sat idle while it waited for
#: them (a quarter of the time, in the crawl benchmark); 4 keeps its queue full.
CONCURRENT_ITEMS = 4
#: Scrapy re-reads and parses a callback's source for this check whenever the bound method it
#: cached has been freed, which in a crawl is most responses (a quarter of a small page's CPU
#: in the worst case). tests/test_layout.py checks the spiders' callbacks once, on the source.
WARN_ON_GENERATOR_RETURN_VALUE = False
#: Scrapy's in-memory stats, without a wrapper around every call (newsbot.ops.stats).
STATS_CLASS = "newsbot.ops.stats.StatsCollector"
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Seconds before the first retry; doubles with each further one, up to the max.
NEWSBOT_RETRY_BACKOFF = 2.0
NEWSBOT_RETRY_BACKOFF_MAX = 60.0
#: Longest Retry-After honoured in a run (a longer one fails the request for now).
NEWSBOT_RETRY_AFTER_MAX = 300.0
#: Challenge pages (200 status, words in newsbot.pages.challenge) before the crawl stops with
#: the close reason "blocked"; each one pauses the site and slows the crawl down.
NEWSBOT_BLOCKED_LIMIT = 5
NEWSBOT_BLOCKED_PAUSE = 60.0
NEWSBOT_BLOCKED_PAUSE_MAX = 600.0
NEWSBOT_BLOCKED_DELAY = 5.0
#: Times a page answered by a challenge is asked for again (after the pause) before it fails.
NEWSBOT_BLOCKED_RETRIES = 1

# newsbot's components (middlewares, extensions, pipelines, feed storages and formats) are
# installed by its add-on, newsbot.addon.NewsbotAddon, beside whatever a user's settings name:
# `-s EXTENSIONS={...}` adds to them instead of replacing them.
ADDONS = {
    "newsbot.addon.NewsbotAddon": 0,
    "newsbot.distributed.DistributedAddon": 10,
}
#: Largest file read as input (`-a urls_file=`, `scrapy extract`); only regular files are read.
NEWSBOT_MAX_INPUT_BYTES = 64 * 1024 * 1024

# --- delivery (state, feeds, pipelines) --------------------------------------------------------

#: The state store's directory (SQLite file + run lock): what every article became, across runs.
NEWSBOT_STATE_DIR = "state"
#: Off only for ad hoc runs that must not touch (or need) the delivery record.
NEWSBOT_STATE_ENABLED = True
#: Check at every open: "light" (header, schema, both ends of each table: its cost does not grow
#: with the store), "quick" (PRAGMA quick_check: every page), "full" (integrity_check) or "none".
NEWSBOT_STATE_CHECK = "light"
#: The full check (quick_check) also runs at open when the last one is older than this many
#: days (0: only on demand, `scrapy state check`).
NEWSBOT_STATE_FULL_CHECK_DAYS = 7
#: Bookkeeping writes per commit (publishing is always committed at once).
NEWSBOT_STATE_BATCH_SIZE = 500
#: Fetch again, at start, what earlier runs left pending or failed (up to MAX_ATTEMPTS tries).
NEWSBOT_STATE_RESUME = True
#: Seconds the run waits for a lock another process holds on the store (a backup, a sqlite3
#: shell) before it stops with state_failed (at start: before fetching anything).
NEWSBOT_STATE_BUSY_TIMEOUT = 30.0
NEWSBOT_STATE_MAX_ATTEMPTS = 3
#: Default for ``-a recheck_days=N``: refetch articles exported in the last N days (0: none).
NEWSBOT_RECHECK_DAYS = 0
#: Largest allowed gap, in days, between published_at and the date in the article's URL.
NEWSBOT_MAX_DATE_SKEW_DAYS = 1
#: Bodies shorter than this (letters and digits) are never called duplicates of each other.
NEWSBOT_DUPLICATE_MIN_CHARS = 50
#: Category names of the Hexo export, by column id (from NBD.md).
NEWSBOT_HEXO_COLUMN_NAMES = {
    "2": "头条",
    "3": "要闻",
    "4": "图片新闻",
    "5": "推荐",
    "332": "重磅原创",
    "1161": "每经头条",
    "1072": "每经热评",
    "1367": "每经AI快讯互动",
    "285": "A股",
    "2409": "科技",
    "2093": "医药",
    "594": "消费",
    "595": "快消",
    "596": "食品饮料",
    "318": "快讯",
    "325": "快讯",
}
#: Entries an Atom/RSS feed (``-o feeds:atom``, ``-o feeds:rss``) keeps: the newest N, across runs.
NEWSBOT_FEED_ENTRIES = 50
#: Where the feeds' folder is served (``https://example.org/nbd/``): makes their self links and
#: ids absolute, as feed readers and the W3C validator want. Empty: relative self links.
NEWSBOT_FEED_BASE_URL = ""

#: Feed formats and storages: here as well as in the add-on, because `scrapy crawl -o x:hexo`
#: checks the format against the settings before any add-on runs; the add-on merges them into
#: a user's own FEED_EXPORTERS/FEED_STORAGES.
FEED_STORAGES = dict(_addon.FEED_STORAGES)
FEED_EXPORTERS = dict(_addon.FEED_EXPORTERS)
#: A run with nothing new writes no file (an hourly job would otherwise leave empty ones).
FEED_STORE_EMPTY = False
#: Spider arguments used in feed paths (%(category)s) become single path components.
FEED_URI_PARAMS = "newsbot.feeds.safe_uri_params"

# Distributed crawling (README.md, Distributed crawling): set NEWSBOT_REDIS_URL and this run is
# one worker of a crawl shared through Redis (scrapy-redis's scheduler; the delivery state in
# Redis). Unset, nothing changes and no Redis is needed.
NEWSBOT_REDIS_URL = ""
#: Prefix of every key the crawl keeps in Redis (one prefix = one shared crawl and its state).
NEWSBOT_REDIS_PREFIX = "newsbot"
#: This worker's id among the workers, also in its feed file names (default: host-pid).
NEWSBOT_WORKER_ID = ""
#: Seconds a worker is alive without a heartbeat; then the others take its work over.
NEWSBOT_REDIS_LEASE = 30.0

# --- operations (exit codes, reports) ----------------------------------------------------------

#: Off only to run without reports and exit-code rules (the run then exits 0 unless delivery
#: failed).
NEWSBOT_OPS_ENABLED = True
#: Exit-code rules (README.md, Operations): the run exits 1 when more than this share of the
#: articles it discovered failed, or were dropped by validation, and more than
#: NEWSBOT_FAILURES_TOLERATED of them (one dead link does not wake anyone up; every article
#: failing always fails the run) …
NEWSBOT_MAX_FAILED_SHARE = 0.1
NEWSBOT_MAX_DROPPED_SHARE = 0.1
NEWSBOT_FAILURES_TOLERATED = 1
#: … not counting failures that are newsbot's own refusals (perimeter, robots.txt) or an
#: article answered by another one (which is then accounted under its own id).
NEWSBOT_FAILURES_NOT_COUNTED = [
    "robots_forbidden",
    "offsite",
    "offsite_redirect",
    "spam_host",
    "scheme",
    "bad_url",
    "moved",
]
#: … or when fewer than this share of the article pages read gave a full record (title, time,
#: body, and a byline in NEWSBOT_BYLINE_COLUMNS: the site has changed its layout), judged once
#: at least NEWSBOT_LAYOUT_MIN_PAGES pages were read.
NEWSBOT_MIN_FULL_RECORD_SHARE = 0.8
NEWSBOT_LAYOUT_MIN_PAGES = 5
#: Columns whose articles always carry a byline: 332 重磅原创 (original reporting, NBD.md).
NEWSBOT_BYLINE_COLUMNS = ["332"]
#: Seconds between progress lines (done/expected, rate, ETA; the first comes within 5 s); 0: none.
#: A line is only logged when something changed since the last one.
NEWSBOT_PROGRESS_INTERVAL = 30.0
#: Keep every fetched article page in a WARC file under <NEWSBOT_STATE_DIR>/archive/ (read back
#: by `scrapy reparse`).
NEWSBOT_ARCHIVE = False
#: Where the WARC files go (default: <NEWSBOT_STATE_DIR>/archive).
NEWSBOT_ARCHIVE_DIR = ""

#: Watch how the run's bodies end (newsbot/ops/tails.py): a block ending at least
#: NEWSBOT_TAIL_MIN_ARTICLES records and NEWSBOT_TAIL_MIN_SHARE of them, among the last
#: NEWSBOT_TAIL_DEPTH blocks of each body, is logged and reported as possible new boilerplate;
#: blocks listed in NEWSBOT_TAIL_IGNORE (real text that repeats) are not.
NEWSBOT_TAIL_WATCH = True
NEWSBOT_TAIL_MIN_ARTICLES = 5
NEWSBOT_TAIL_MIN_SHARE = 0.3
NEWSBOT_TAIL_DEPTH = 1
NEWSBOT_TAIL_IGNORE: list[str] = []

#: Prometheus metrics of each run (README: Metrics and alerts): a node_exporter textfile written
#: atomically, and/or a Pushgateway to push to (grouped by NEWSBOT_WORKER_ID, else the host name).
NEWSBOT_PROMETHEUS_TEXTFILE = ""
NEWSBOT_PROMETHEUS_PUSHGATEWAY = ""
NEWSBOT_PROMETHEUS_JOB = "newsbot"
NEWSBOT_PROMETHEUS_TIMEOUT = 10.0
#: Alerts for a failed run: spidermon action classes (configured by spidermon's own SPIDERMON_*
#: settings), run when a rule of the run fails (README: Metrics and alerts).
NEWSBOT_ALERT_ACTIONS: list[str] = []
#: Scrapy 2.19's remote-control server runs Python code sent to it over HTTP; a scheduled crawler
#: has no use for it (like the telnet console, off).
REMOTE_CONTROL_ENABLED = False
