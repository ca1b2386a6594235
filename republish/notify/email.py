"""E-mail delivery with smtplib: plain text, STARTTLS when configured, login when a user is set."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from republish.config import Settings
from republish.store.notifications import Outgoing, Target

TIMEOUT_S = 20.0


class EmailNotConfigured(RuntimeError):
    """No SMTP server is set (``REPUBLISH_SMTP_HOST``)."""


def _one_line(text: str) -> str:
    # Headers come from stored data: no line breaks may reach them.
    return " ".join(text.split())


def compose(item: Outgoing, settings: Settings) -> EmailMessage:
    """The message about a new republisher of a story."""
    message = EmailMessage()
    headline = _one_line(item.headline)
    message["Subject"] = _one_line(f"{item.site} republished “{headline}”"[:200])
    first_seen = item.first_seen.strftime("%Y-%m-%d %H:%M UTC") if item.first_seen else "unknown"
    message.set_content(
        f"A new site republished your story.\n\n"
        f"Story:      {headline}\n"
        f"            {item.canonical_url}\n"
        f"Site:       {item.site}\n"
        f"Page:       {item.page_url or '(unknown)'}\n"
        f"First seen: {first_seen}\n\n"
        f"-- \nrepublish notification ntf_{item.id} for {item.target.publisher_slug}.\n"
        f"To stop these e-mails: republish notify remove {item.target.id}\n"
    )
    message["X-Republish-Notification"] = f"ntf_{item.id}"
    return _address(message, item.target, settings)


def compose_test(target: Target, settings: Settings) -> EmailMessage:
    """A test message for ``republish notify test``."""
    message = EmailMessage()
    message["Subject"] = "republish: test notification"
    message.set_content(
        f"This is a test from republish for {target.publisher_slug}.\n"
        "You will get an e-mail like this when a story is republished on a new site.\n"
    )
    return _address(message, target, settings)


def _address(message: EmailMessage, target: Target, settings: Settings) -> EmailMessage:
    message["From"] = settings.smtp_from
    message["To"] = target.address
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    return message


def send(message: EmailMessage, settings: Settings) -> None:
    """Send through the configured SMTP server; raise on any failure."""
    if not settings.smtp_host:
        raise EmailNotConfigured("no SMTP server configured (set REPUBLISH_SMTP_HOST)")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            password = settings.smtp_password.reveal() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        smtp.send_message(message)
