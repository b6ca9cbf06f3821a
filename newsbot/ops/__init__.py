"""Operations: honest exit codes, run reports, the dead-letter list and its replay, progress
lines, and the raw page archive. See README.md, Operations.

- :mod:`~newsbot.ops.extension`: keeps the run's books, judges the run, writes the report;
- :mod:`~newsbot.ops.ledger`: the books (pure);
- :mod:`~newsbot.ops.monitors`: the exit-code rules, as a spidermon suite;
- :mod:`~newsbot.ops.report`: the report's table and JSON;
- :mod:`~newsbot.ops.replay`: ``-a retry_failed=1``;
- :mod:`~newsbot.ops.progress`: the periodic progress line;
- :mod:`~newsbot.ops.archive`: ``NEWSBOT_ARCHIVE`` (WARC) and reading it back (``scrapy reparse``).
"""
