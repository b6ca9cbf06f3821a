"""Alerts through spidermon's own actions: a failing crawl of the site copy makes spidermon's
``SendSmtpEmail`` send its e-mail to a real SMTP server (aiosmtpd) on 127.0.0.1, with login;
a passing crawl sends nothing; an action that is not configured fails the run loudly."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sitecopy import SiteCopy

from tests.crawlkit import run_crawl
from tests.opskit import assert_failed, report_of

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
