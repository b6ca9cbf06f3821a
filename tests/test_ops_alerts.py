"""Alerts through spidermon's own actions: a failing crawl of the site copy makes spidermon's
``SendSmtpEmail`` send its e-mail to a real SMTP server (aiosmtpd) on 127.0.0.1, with login, and
``SendSentryMessage`` its event to a local HTTP endpoint; a passing crawl sends nothing; an
action that is not configured fails the run loudly."""

from __future__ import annotations

import email
import email.policy
import gzip
import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.crawlkit import run_crawl
from tests.opskit import assert_failed, report_of
from testsite import SiteCopy

SMTP_ACTION = "spidermon.contrib.actions.email.smtp.SendSmtpEmail"
USER, PASSWORD = "newsbot", "s3cret"


@dataclass
class Mailbox:
    """What the SMTP server received, and the logins it accepted."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any):
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,  # loopback only; a real server would insist on TLS
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def mail_settings(port: int) -> dict[str, str]:
    return {
        "NEWSBOT_ALERT_ACTIONS": SMTP_ACTION,
        "SPIDERMON_EMAIL_SENDER": "newsbot@example.test",
        "SPIDERMON_EMAIL_TO": "ops@example.test",
        # spidermon renders the subject with the action's data: newsbot's facts are in it.
        "SPIDERMON_EMAIL_SUBJECT": "newsbot failed: {{ data.newsbot.failures[0][0] }}",
        "SPIDERMON_SMTP_HOST": "127.0.0.1",
        "SPIDERMON_SMTP_PORT": str(port),
        "SPIDERMON_SMTP_USER": USER,
        "SPIDERMON_SMTP_PASSWORD": PASSWORD,
    }


def test_a_failing_run_sends_spidermons_email(site: SiteCopy, tmp_path: Path, smtp):
    box, port = smtp
    # Column 2's broken links are over the default failure threshold: the run fails.
    result = run_crawl(site.root, "columns=2", tmp_path=tmp_path, settings=mail_settings(port))
    assert_failed(result, "too_many_failures")
    report = report_of(result, tmp_path / "state")

    assert len(box.messages) == 1, result.explain()
    sender, recipients, raw = box.messages[0]
    assert sender == "newsbot@example.test" and recipients == ["ops@example.test"]
    assert box.logins, "the action logged in"
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "newsbot failed: too_many_failures"
    assert report["failure"]["code"] == "too_many_failures"


def test_a_passing_run_sends_nothing(site: SiteCopy, tmp_path: Path, smtp):
    box, port = smtp
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path, settings=mail_settings(port))
    assert result.returncode == 0, result.explain()
    assert box.messages == []


def test_an_alert_that_is_not_configured_fails_the_run(site: SiteCopy, tmp_path: Path):
    settings = {"NEWSBOT_ALERT_ACTIONS": SMTP_ACTION}  # no SPIDERMON_EMAIL_TO, no host …
    result = run_crawl(site.root, "columns=3", tmp_path=tmp_path, settings=settings)
    line = assert_failed(result, "alerts_not_configured")
    assert SMTP_ACTION in line
    missing = run_crawl(
        site.root, "columns=3", tmp_path=tmp_path / "2",
        settings={"NEWSBOT_ALERT_ACTIONS": "spidermon.contrib.actions.NoSuchAction"},
    )  # fmt: skip
    assert "cannot be loaded" in assert_failed(missing, "alerts_not_configured")


class _Collector(http.server.BaseHTTPRequestHandler):
    """A local HTTP endpoint standing in for Sentry: keeps every request body."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":  # sentry_sdk compresses with brotli when it is installed
            import brotli

            body = brotli.decompress(body)
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def test_sentry_slack_and_telegram_actions_on_a_failing_run(site: SiteCopy, tmp_path: Path):
    """Sentry's action sends its event to a local endpoint (the DSN's host); Slack's and
    Telegram's (their APIs are not local) run in spidermon's own fake mode, which renders the
    message and logs it instead of sending."""
    _Collector.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        settings = {
            "NEWSBOT_ALERT_ACTIONS": ",".join(
                (
                    "spidermon.contrib.actions.sentry.SendSentryMessage",
                    "spidermon.contrib.actions.slack.notifiers.SendSlackMessageSpiderFinished",
                    "spidermon.contrib.actions.telegram.notifiers."
                    "SendTelegramMessageSpiderFinished",
                )
            ),
            "SPIDERMON_SENTRY_DSN": f"http://0123456789abcdef@127.0.0.1:{port}/42",
            "SPIDERMON_SENTRY_PROJECT_NAME": "newsbot",
            "SPIDERMON_SLACK_FAKE": "True",
            "SPIDERMON_SLACK_SENDER_TOKEN": "xoxb-not-used",
            "SPIDERMON_SLACK_SENDER_NAME": "newsbot",
            "SPIDERMON_SLACK_RECIPIENTS": "#ops",
            "SPIDERMON_TELEGRAM_FAKE": "True",
            "SPIDERMON_TELEGRAM_SENDER_TOKEN": "not-used",
            "SPIDERMON_TELEGRAM_RECIPIENTS": "-100123",
        }
        result = run_crawl(site.root, "columns=2", tmp_path=tmp_path, settings=settings)
    finally:
        server.shutdown()
        server.server_close()
    assert_failed(result, "too_many_failures")
    assert "monitor_error" not in result.log, result.explain()

    # Sentry: one event, to the DSN's project, naming the failed rule.
    events = [body for path, body in _Collector.received if path.startswith("/api/42/")]
    assert len(events) == 1, (result.explain(), _Collector.received)
    assert b"failures under the threshold" in events[0]
    assert b"newsbot | Development | Spider nbd notification" in events[0]
    # Slack and Telegram: spidermon's messages, rendered for this spider and its failed rule.
    assert "nbd" in result.log and "failures under the threshold" in result.log
    assert result.log.count("failures under the threshold") >= 2, result.explain()
