"""newsbot: a Scrapy crawler for 每经网 (www.nbd.com.cn) articles."""

__version__ = "0.1.0"

#: Bumped whenever extraction rules change, so records can be traced to the rules that made them.
EXTRACTOR_VERSION = "2026.12.1"
