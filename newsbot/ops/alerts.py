"""Alerts for a failed run through spidermon's own actions (e-mail, Slack, Telegram, Sentry …).

``NEWSBOT_ALERT_ACTIONS`` names spidermon action classes; they are added to the failed actions
of newsbot's run suite (:class:`newsbot.ops.monitors.RunSuite`), so they run exactly when a rule
of the run fails, after the run has recorded why. Each action is configured by spidermon's own
settings (``SPIDERMON_EMAIL_TO``, ``SPIDERMON_SMTP_HOST``, ``SPIDERMON_SLACK_RECIPIENTS``,
``SPIDERMON_TELEGRAM_…``, ``SPIDERMON_SENTRY_DSN`` …) and built with its own ``from_crawler``,
as spidermon would build it. Their templates can read the run's facts as ``data.newsbot``
(``data.newsbot.failures``: ``(code, message)`` pairs) beside spidermon's ``data.stats``.

An action that cannot be loaded or is not configured (spidermon raises ``NotConfigured``) fails
the run as ``alerts_not_configured``: an alert that silently never fires is worse than none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.utils.misc import load_object
from spidermon.exceptions import NotConfigured

from newsbot.outcome import fail_run

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


def alert_actions(crawler: Crawler | None) -> list[Any]:
    """The configured spidermon actions, built; each one that cannot be is a failure."""
    if crawler is None:
        return []
    actions = []
    for path in crawler.settings.getlist("NEWSBOT_ALERT_ACTIONS"):
        try:
            cls = load_object(path)
            from_crawler = getattr(cls, "from_crawler", None)
            if from_crawler is None:
                raise TypeError(f"{path} is not a spidermon action")
            actions.append(from_crawler(crawler))
        except (ImportError, AttributeError, NameError, TypeError, ValueError) as exc:
            fail_run(crawler, "alerts_not_configured", f"{path} cannot be loaded: {exc}")
        except NotConfigured as exc:
            fail_run(crawler, "alerts_not_configured", f"{path}: {exc}")
    return actions
