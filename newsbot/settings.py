"""Scrapy settings for newsbot.

newsbot's own settings are prefixed ``NEWSBOT_`` and documented in README.md. Defaults here are
polite for the real site; tests and local runs override them with ``-s``.
"""

BOT_NAME = "newsbot"
SPIDER_MODULES = ["newsbot.spiders"]
NEWSPIDER_MODULE = "newsbot.spiders"
COMMANDS_MODULE = "newsbot.commands"

USER_AGENT = "newsbot/0.1 (+https://github.com/newsbot; research crawler)"
ROBOTSTXT_OBEY = True
TELNETCONSOLE_ENABLED = False

FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

# --- extraction -------------------------------------------------------------------------------

# --- crawling (spider, perimeter, politeness) --------------------------------------------------

# --- delivery (state, feeds, pipelines) --------------------------------------------------------

# --- operations (exit codes, reports) ----------------------------------------------------------
