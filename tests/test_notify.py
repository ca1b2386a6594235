"""Notifications for new republishers: the outbox written by the rollup, signed webhooks to
a real loopback server, retries with backoff, giving up, no duplicates, the fetch guard."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from republish.config import Settings
from republish.hits import DropReason, HitRecord, Verdict, encode
from republish.notify import InvalidTarget, add_target, backoff_s, deliver_due, verify
from republish.notify.deliver import GIVE_UP_PREFIX
from republish.pixel.log import HitLog
from republish.stats.rollup import rollup
from republish.store import notifications as store
from republish.store.db import Database
from tests.servers import LoopbackServer, Response

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PAGE = "https://www.citypaper.example/news/ferry-vote"


def write_hits(log_dir: Path, records: list[HitRecord]) -> None:
    """Append ``records`` through the pixel's hit log and seal the segment."""

    async def run() -> None:
        log = HitLog(log_dir / "segments", sync=False)
        for record in records:
            await log.append(encode(record))
        await log.aclose()

    asyncio.run(run())


def view(story_id: str, page: str, at: datetime = T0, visitor: str = "v1") -> HitRecord:
    """A human view of ``story_id`` on ``page``."""
    ms = int(at.timestamp() * 1000)
    return HitRecord(ms, story_id, Verdict.HUMAN, DropReason.NONE, visitor, page)


def roll(db: Database, log_dir: Path, at: datetime = T0) -> list[tuple[str, str]]:
    """One rollup pass at ``at``; the new republishers it found."""
    return rollup(db, log_dir, clock=lambda: at.timestamp()).new_republishers


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers the next status in ``statuses`` (then 200)."""

    server: LoopbackServer
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, handler: BaseHTTPRequestHandler) -> Response:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        self.received.append((dict(handler.headers), body))
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(status, b'{"ok":true}', {"Content-Type": "application/json"})

    @property
    def url(self) -> str:
        return self.server.url("/hooks/republish")

    @classmethod
    def on(cls, server: LoopbackServer) -> Receiver:
        """A receiver routed at ``/hooks/republish`` of ``server``."""
        found = cls(server)
        server.route("/hooks/republish", found)
        return found


@pytest.fixture
def receiver(http_server: LoopbackServer) -> Receiver:
    """A webhook receiver at ``receiver.url``."""
    return Receiver.on(http_server)


def clock_at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def outbox(db: Database) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return store.list_notifications(conn)


def test_new_republisher_webhook_is_signed_and_complete(
    db: Database, settings: Settings, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    target = add_target(db, settings, "daily", webhook=receiver.url, now=T0)
    assert target.secret and target.secret not in repr(target)
    write_hits(tmp_path, [view(story_id, PAGE), view(story_id, PAGE + "/", T0, "v2")])
    assert roll(db, tmp_path) == [(story_id, "citypaper.example")]
    assert len(outbox(db)) == 1  # queued with the counts, before any delivery

    sent_at = T0 + timedelta(seconds=5)
    result = deliver_due(db, settings, clock=clock_at(sent_at))
    assert (result.sent, result.failed) == (1, 0)
    [(headers, body)] = receiver.received
    assert headers["Content-Type"] == "application/json"
    # Verify the signature as a receiver would, from the documented recipe.
    signature = headers["X-Republish-Signature"]
    parts = dict(item.split("=", 1) for item in signature.split(","))
    assert parts["t"] == str(int(sent_at.timestamp()))
    mac = hmac.new(target.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(mac.hexdigest(), parts["v1"])
    assert verify(target.secret, signature, body, now=sent_at.timestamp())
    assert not verify(target.secret, signature, body + b" ", now=sent_at.timestamp())
    assert not verify("whsec_other", signature, body, now=sent_at.timestamp())
    assert not verify(target.secret, signature, body, now=sent_at.timestamp() + 3600)

    event = json.loads(body)
    assert event["event"] == "new_republisher"
    assert event["publisher"] == "daily"
    assert event["story"] == {
        "id": story_id,
        "headline": "Ferry vote",
        "canonical_url": "https://daily.example/ferry-vote",
    }
    assert event["site"] == "citypaper.example"
    assert event["page_url"] in {PAGE, PAGE + "/"}
    assert event["first_seen"] == "2026-11-24T10:00:00Z"
    assert event["id"]
    [row] = outbox(db)
    assert row["sent_at"] == sent_at and row["attempts"] == 1 and row["last_error"] is None


def test_server_error_is_retried_with_backoff_then_sent(
    db: Database, settings: Settings, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    add_target(db, settings, "daily", webhook=receiver.url, now=T0)
    receiver.statuses = [500]
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)

    first = deliver_due(db, settings, clock=clock_at(T0))
    assert (first.sent, first.failed, first.given_up) == (0, 1, 0)
    [row] = outbox(db)
    assert row["sent_at"] is None and row["attempts"] == 1
    assert "500" in row["last_error"]
    assert row["next_attempt_at"] == T0 + timedelta(seconds=backoff_s(1))

    # Not due yet: nothing is sent.
    early = deliver_due(db, settings, clock=clock_at(T0 + timedelta(seconds=backoff_s(1) / 2)))
    assert (early.sent, early.failed) == (0, 0)
    assert len(receiver.received) == 1

    later = T0 + timedelta(seconds=backoff_s(1) + 1)
    assert deliver_due(db, settings, clock=clock_at(later)).sent == 1
    assert len(receiver.received) == 2
    ids = {json.loads(body)["id"] for _, body in receiver.received}
    assert len(ids) == 1  # the same event: a receiver can dedupe
    [row] = outbox(db)
    assert row["sent_at"] == later and row["attempts"] == 2 and row["last_error"] is None


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_s(n) for n in range(1, 20)]
    assert delays == sorted(delays)
    assert delays[1] == 2 * delays[0] and delays[2] == 2 * delays[1]
    assert delays[-1] == delays[-2]  # capped


def test_gives_up_after_max_attempts_and_keeps_the_row(
    db: Database, settings: Settings, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    add_target(db, settings, "daily", webhook=receiver.url, now=T0)
    receiver.statuses = [503] * 10
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    now = T0
    outcomes = []
    for _ in range(5):
        result = deliver_due(db, settings, max_attempts=3, clock=clock_at(now))
        outcomes.append((result.failed, result.given_up))
        now += timedelta(days=1)
    assert outcomes == [(1, 0), (1, 0), (1, 1), (0, 0), (0, 0)]
    assert len(receiver.received) == 3
    [row] = outbox(db)
    assert row["sent_at"] is None and row["attempts"] == 3
    assert row["last_error"].startswith(GIVE_UP_PREFIX) and "503" in row["last_error"]


def test_no_duplicate_on_re_rollup_and_one_per_site_and_target(
    db: Database, settings: Settings, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    add_target(db, settings, "daily", webhook=receiver.url, now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    deliver_due(db, settings, clock=clock_at(T0))
    # More views from the same site (another page, later), and a second site.
    later = T0 + timedelta(hours=2)
    write_hits(
        tmp_path,
        [
            view(story_id, "https://citypaper.example/other-section/ferry", later),
            view(story_id, "https://valley.example/ferry", later),
        ],
    )
    assert roll(db, tmp_path, later) == [(story_id, "valley.example")]
    assert roll(db, tmp_path, later) == []  # nothing new: nothing queued
    # The outbox insert is idempotent by itself too.
    with db.begin() as conn:
        assert store.enqueue_new_republishers(conn, [(story_id, "valley.example")], later) == 0
    deliver_due(db, settings, clock=clock_at(later))
    deliver_due(db, settings, clock=clock_at(later + timedelta(hours=1)))
    sites = [json.loads(body)["site"] for _, body in receiver.received]
    assert sites == ["citypaper.example", "valley.example"]


def test_own_site_and_other_publishers_targets_get_nothing(
    db: Database, settings: Settings, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    from republish import publishers

    publishers.create_publisher(db, "other", "Other Paper", {"domains": ["other.example"]})
    add_target(db, settings, "other", webhook=receiver.url, now=T0)
    write_hits(tmp_path, [view(story_id, PAGE), view(story_id, "https://daily.example/x")])
    roll(db, tmp_path)
    assert outbox(db) == []
    assert deliver_due(db, settings, clock=clock_at(T0)).sent == 0
    assert receiver.received == []


def test_private_webhook_address_is_refused_without_the_allowance(
    db: Database, settings: Settings, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    guarded = settings.replace(fetch_allow=())
    with pytest.raises(InvalidTarget, match="refused"):
        add_target(db, guarded, "daily", webhook=receiver.url)
    for bad in ("ftp://hooks.example/x", "http://user:pw@hooks.example/x", "not a url"):
        with pytest.raises(InvalidTarget):
            add_target(db, settings, "daily", webhook=bad)
    with db.connect() as conn:
        assert store.list_targets(conn) == []

    # A host NAME is resolved at delivery, and the guard refuses it there.
    by_name = f"http://localhost:{receiver.server.port}/hooks/republish"
    add_target(db, guarded, "daily", webhook=by_name, now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    result = deliver_due(db, guarded, clock=clock_at(T0))
    assert (result.sent, result.failed) == (0, 1)
    [row] = outbox(db)
    assert "BlockedAddress" in row["last_error"] and row["sent_at"] is None
    assert receiver.received == []


def test_redirects_are_not_followed(
    db: Database, settings: Settings, story_id: str, http_server: LoopbackServer, tmp_path: Path
) -> None:
    moved = Response(307, b"", {"Location": http_server.url("/elsewhere")})
    url = http_server.route("/hook", moved)
    add_target(db, settings, "daily", webhook=url, now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    assert deliver_due(db, settings, clock=clock_at(T0)).failed == 1
    assert [path for _, path, _ in http_server.requests] == ["/hook"]
    assert "redirect" in outbox(db)[0]["last_error"]


def test_secrets_are_never_logged(
    db: Database,
    settings: Settings,
    story_id: str,
    receiver: Receiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    target = add_target(db, settings, "daily", webhook=receiver.url, now=T0)
    assert target.secret
    receiver.statuses = [500]
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    deliver_due(db, settings, clock=clock_at(T0))
    deliver_due(db, settings, clock=clock_at(T0 + timedelta(hours=1)))
    assert len(receiver.received) == 2
    assert "failed" in caplog.text  # the failure was logged ...
    assert target.secret not in caplog.text  # ... without the secret


def test_two_delivery_passes_do_not_both_send(
    db: Database, settings: Settings, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    add_target(db, settings, "daily", webhook=receiver.url, now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    with db.connect() as conn:
        [item] = store.due(conn, T0, max_attempts=8)
    with db.begin() as conn:  # another pass claims it first
        assert store.claim(conn, item.id, item.next_attempt_at, T0 + timedelta(minutes=2))
    assert deliver_due(db, settings, clock=clock_at(T0)).sent == 0
    with db.begin() as conn:
        assert not store.claim(conn, item.id, item.next_attempt_at, T0 + timedelta(minutes=2))
    assert receiver.received == []


def test_documented_verification_recipe_accepts_our_signature() -> None:
    import re
    import time

    from republish.notify import sign

    doc = (Path(__file__).resolve().parents[1] / "docs" / "notifications.md").read_text("utf-8")
    [code] = [
        block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "def verify" in block
    ]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/notifications.md", "exec"), namespace)  # noqa: S102
    body = b'{"id":"ntf_1","event":"new_republisher"}'
    header = sign("whsec_doc", body, int(time.time()))
    assert namespace["verify"]("whsec_doc", header, body)
    assert not namespace["verify"]("whsec_doc", header, body + b"x")
    assert not namespace["verify"]("whsec_doc", sign("whsec_doc", body, 1_000_000), body)


def test_a_token_in_the_webhook_path_stays_out_of_errors_and_logs(
    db: Database,
    settings: Settings,
    story_id: str,
    http_server: LoopbackServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "T0KEN-in-the-path-9f8e7d"
    url = http_server.route(f"/services/{token}", Response(500, b"no"))
    add_target(db, settings, "daily", webhook=url, now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    result = deliver_due(db, settings, clock=clock_at(T0))
    assert result.failed == 1 and [p for _, p, _ in http_server.requests] == [f"/services/{token}"]
    [row] = outbox(db)
    assert "500" in row["last_error"] and http_server.url("/…") in row["last_error"]
    assert token not in row["last_error"]
    assert token not in " ".join(result.errors)
    # Our logs (httpx's own request log is INFO on the "httpx" logger, off unless enabled).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("republish")]
    assert ours and not any(token in message for message in ours)


def test_a_receiver_that_hangs_is_a_timeout_not_a_stuck_worker(
    db: Database, settings: Settings, story_id: str, http_server: LoopbackServer, tmp_path: Path
) -> None:
    import threading

    release = threading.Event()

    def hang(handler: BaseHTTPRequestHandler) -> Response:
        release.wait(10)
        return Response(200, b"late")

    url = http_server.route("/slow", hang)
    impatient = settings.replace(fetch_timeout_s=0.5)
    add_target(db, impatient, "daily", webhook=url, now=T0)
    write_hits(tmp_path, [view(story_id, PAGE)])
    roll(db, tmp_path)
    try:
        result = deliver_due(db, impatient, clock=clock_at(T0))
    finally:
        release.set()
    assert (result.sent, result.failed) == (0, 1)
    assert "FetchTimeout" in outbox(db)[0]["last_error"]
