"""Webhook delivery: a signed JSON POST through the guarded outbound client.

The signature header is ``X-Republish-Signature: t=<unix seconds>,v1=<hex>`` where the hex
is HMAC-SHA256, keyed with the target's secret, of ``"<t>." + body``. Receivers recompute
it (see :func:`verify`), reject old timestamps, and dedupe by the payload's ``id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from republish._netguard import display_url
from republish.config import Settings
from republish.net import BadURL, Client, parse_url
from republish.store.notifications import Outgoing, Target

SIGNATURE_HEADER = "X-Republish-Signature"
TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def payload(item: Outgoing) -> dict[str, Any]:
    """The JSON body of a new-republisher event (``id`` is stable across retries)."""
    return {
        "id": f"ntf_{item.id}",
        "event": item.event,
        "publisher": item.target.publisher_slug,
        "story": {"id": item.story_id, "headline": item.headline,
                  "canonical_url": item.canonical_url},
        "site": item.site,
        "page_url": item.page_url,
        "first_seen": _iso(item.first_seen),
    }  # fmt: skip


def test_payload(target: Target, now: datetime) -> dict[str, Any]:
    """The body of ``republish notify test``: same envelope, event ``test``."""
    return {
        "id": f"test_{target.id}_{int(now.timestamp())}",
        "event": "test",
        "publisher": target.publisher_slug,
        "story": None,
        "site": None,
        "page_url": None,
        "first_seen": None,
    }


def redact(text: str, url: str) -> str:
    """``text`` with ``url`` cut to its origin: webhook paths often hold a token."""
    try:
        parsed = parse_url(url).copy_with(fragment=None)
    except BadURL:
        return text
    origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
    forms = {url, str(parsed), display_url(url), display_url(str(parsed))}
    for form in sorted(forms, key=len, reverse=True):
        if form and form.rstrip("/") != origin:
            text = text.replace(form, origin + "/…")
    return text


def post_json(settings: Settings, target: Target, body: dict[str, Any], now: datetime) -> None:
    """POST ``body`` signed to the target; raise :class:`republish.net.FetchError` on failure."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(target.secret or "", data, int(now.timestamp())),
    }
    bounded = settings.replace(
        fetch_timeout_s=min(settings.fetch_timeout_s, TIMEOUT_S),
        fetch_max_bytes=MAX_RESPONSE_BYTES,
    )
    with Client(bounded) as client:
        client.post(target.address, content=data, headers=headers)
