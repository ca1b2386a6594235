"""E-mail notifications through a real (tiny, test-only) SMTP server on loopback."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from republish.config import Secret, Settings
from republish.notify import add_target, deliver_due, send_test
from republish.store import notifications as store
from republish.store.db import Database
from tests.test_notify import PAGE, T0, clock_at, roll, view, write_hits


@dataclass
class SMTPServer:
    """An SMTP server on 127.0.0.1 speaking just enough ESMTP for smtplib (AUTH PLAIN, no
    STARTTLS). ``reject_next`` transient failures are answered before accepting mail."""

    reject_next: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 test.smtp ready")
        sender, recipients = "", []
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            verb, _, rest = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                say("250-test.smtp")
                say("250-AUTH PLAIN")
                say("250 8BITMIME")
            elif verb == "AUTH":
                _, _, payload = rest.partition(" ")
                _, user, password = base64.b64decode(payload).decode().split("\x00")
                self.logins.append((user, password))
                say("235 2.7.0 accepted")
            elif verb == "MAIL":
                sender, recipients = rest.split(":", 1)[1].strip().split()[0].strip("<>"), []
                say("250 ok")
            elif verb == "RCPT":
                recipients.append(rest.split(":", 1)[1].strip().strip("<>"))
                say("250 ok")
            elif verb == "DATA":
                if self.reject_next:
                    self.reject_next -= 1
                    say("451 4.3.0 try again later")
                    continue
                say("354 go ahead")
                lines = []
                while (data := await reader.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                parsed = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                self.messages.append(parsed)
                self.envelopes.append((sender, recipients))
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:  # RSET, NOOP
                say("250 ok")
            await writer.drain()
        writer.close()

    @classmethod
    def running(cls) -> Iterator[SMTPServer]:
        server = cls()
        loop = asyncio.new_event_loop()
        started = threading.Event()
        holder: list[asyncio.Server] = []

        async def start() -> None:
            listening = await asyncio.start_server(server._session, "127.0.0.1", 0)
            server.port = listening.sockets[0].getsockname()[1]
            holder.append(listening)
            started.set()

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(5)
        started.wait(5)
        try:
            yield server
        finally:

            async def stop() -> None:
                holder[0].close()
                await holder[0].wait_closed()

            asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    """A running test SMTP server."""
    yield from SMTPServer.running()


@pytest.fixture
def mail_settings(settings: Settings, smtp: SMTPServer) -> Settings:
    return settings.replace(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        smtp_from="republish@ledger.example",
    )


def test_email_for_a_new_republisher(
    db: Database, mail_settings: Settings, smtp: SMTPServer, story_id: str, tmp_path: Path
) -> None:
    add_target(db, mail_settings, "daily", email="desk@daily.example", now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    result = deliver_due(db, mail_settings, clock=clock_at(T0))
    assert (result.sent, result.failed) == (1, 0)
    [message] = smtp.messages
    assert smtp.envelopes == [("republish@ledger.example", ["desk@daily.example"])]
    assert message["To"] == "desk@daily.example"
    assert message["From"] == "republish@ledger.example"
    assert "citypaper.example" in message["Subject"] and "Ferry vote" in message["Subject"]
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    for expected in ("Ferry vote", "https://daily.example/ferry-vote", PAGE, "citypaper.example"):
        assert expected in body
    assert smtp.logins == []  # no user configured: no login
    [row] = _rows(db)
    assert row["sent_at"] is not None


def _rows(db: Database) -> list[dict[str, object]]:
    with db.connect() as conn:
        return store.list_notifications(conn)


def test_login_when_a_user_is_set_and_the_password_is_not_logged(
    db: Database,
    mail_settings: Settings,
    smtp: SMTPServer,
    story_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "correct-horse-battery-staple"
    configured = mail_settings.replace(smtp_user="mailer", smtp_password=Secret(password))
    target = add_target(db, configured, "daily", email="desk@daily.example", now=T0)
    send_test(db, configured, target.id)
    assert smtp.logins == [("mailer", password)]
    assert "test" in smtp.messages[0]["Subject"]
    assert password not in caplog.text and password not in repr(configured)


def test_transient_smtp_failure_is_retried(
    db: Database, mail_settings: Settings, smtp: SMTPServer, story_id: str, tmp_path: Path
) -> None:
    add_target(db, mail_settings, "daily", email="desk@daily.example", now=T0)
    smtp.reject_next = 1
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    first = deliver_due(db, mail_settings, clock=clock_at(T0))
    assert (first.sent, first.failed) == (0, 1)
    assert "451" in str(_rows(db)[0]["last_error"])
    second = deliver_due(db, mail_settings, clock=clock_at(T0 + timedelta(hours=1)))
    assert second.sent == 1 and len(smtp.messages) == 1


def test_starttls_required_but_not_offered_sends_nothing(
    db: Database, mail_settings: Settings, smtp: SMTPServer, story_id: str, tmp_path: Path
) -> None:
    strict = mail_settings.replace(smtp_starttls=True)
    add_target(db, strict, "daily", email="desk@daily.example", now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    assert deliver_due(db, strict, clock=clock_at(T0)).failed == 1
    assert smtp.messages == []
    assert "STARTTLS" in str(_rows(db)[0]["last_error"])


def test_no_smtp_server_configured_is_a_failure_not_a_crash(
    db: Database, settings: Settings, story_id: str, tmp_path: Path
) -> None:
    add_target(db, settings, "daily", email="desk@daily.example", now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    assert deliver_due(db, settings, clock=clock_at(T0)).failed == 1
    assert "REPUBLISH_SMTP_HOST" in str(_rows(db)[0]["last_error"])
