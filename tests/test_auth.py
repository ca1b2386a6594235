"""Login, logout, sessions, CSRF and the login rate limit; no cookie outside the dashboard."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from itsdangerous import TimestampSigner
from starlette.applications import Starlette

from republish import users
from republish.cli import cli
from republish.config import Secret, Settings
from republish.pixel.app import PixelApp
from republish.store import sessions as session_store
from republish.store import users as user_store
from republish.store.db import Database
from republish.store.schema import dashboard_sessions
from republish.store.schema import publishers as publisher_table
from republish.web.app import create_app
from republish.web.auth import SESSION_COOKIE, SESSION_MAX_AGE_S, LoginLimiter, safe_next
from tests.test_stats_api import PASSWORD, Seeded, csrf_of, login, logout, seed
from tests.webclient import WebClient

SECRET = "a signing key for these tests, long enough"


@pytest.fixture
def seeded(db: Database, tmp_path: Path) -> Seeded:
    return seed(db, tmp_path)


def _login_form(client: WebClient, next_path: str = "/dashboard") -> str:
    page = client.get("/login", params={"next": next_path})
    assert page.status_code == 200
    return csrf_of(page.text)


def _post_login(
    client: WebClient, email: str, password: str, csrf: str, next_path: str = "/dashboard"
) -> httpx.Response:
    return client.post(
        "/login", data={"csrf": csrf, "email": email, "password": password, "next": next_path}
    )


def test_login_and_logout(client: WebClient, seeded: Seeded) -> None:
    assert client.get("/dashboard").headers["location"] == "/login?next=/dashboard"
    page = client.get("/login")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # http base URL
    assert page.headers["cache-control"] == "no-store"
    response = _post_login(
        client, "editor@daily.example", PASSWORD, csrf_of(page.text), "/dashboard/daily?days=7"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/daily?days=7"
    # A new session at login: the pre-login CSRF token is not carried over.
    dashboard = client.get("/dashboard/daily")
    assert dashboard.status_code == 200
    assert csrf_of(dashboard.text) != csrf_of(page.text)
    assert "editor@daily.example" in dashboard.text
    assert client.get("/login").status_code == 303  # already logged in
    response = logout(client)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert client.get("/dashboard/daily").status_code == 303


def test_secure_cookie_when_served_over_https(settings: Settings, db: Database) -> None:
    https = settings.replace(base_url="https://republish.example")
    with WebClient(create_app(https, database=db), "https://republish.example") as web:
        assert "secure" in web.get("/login").headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user(client: WebClient, seeded: Seeded) -> None:
    csrf = _login_form(client)
    for email, password in [
        ("editor@daily.example", PASSWORD + "!"),
        ("nobody@daily.example", PASSWORD),
        ("", ""),
    ]:
        response = _post_login(client, email, password, csrf)
        assert response.status_code == 401
        assert "Wrong e-mail address or password." in response.text
    assert client.get("/dashboard").status_code == 303


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_login_without_the_right_csrf_token_is_403(
    client: WebClient, seeded: Seeded, token: str | None
) -> None:
    _login_form(client)
    data = {"email": "editor@daily.example", "password": PASSWORD}
    if token is not None:
        data["csrf"] = token
    response = client.post("/login", data=data)
    assert response.status_code == 403
    assert client.get("/dashboard").status_code == 303  # not logged in


def test_csrf_token_of_one_session_fails_in_another(
    settings: Settings, db: Database, seeded: Seeded
) -> None:
    app = create_app(settings, database=db)
    with WebClient(app) as first, WebClient(app) as second:
        token = _login_form(first)
        _login_form(second)
        response = _post_login(second, "editor@daily.example", PASSWORD, token)
        assert response.status_code == 403


def test_logout_needs_post_and_csrf(client: WebClient, seeded: Seeded) -> None:
    login(client, "editor@daily.example")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert client.get("/dashboard/daily").status_code == 200  # still logged in


def test_rate_limit_per_email(client: WebClient, seeded: Seeded) -> None:
    csrf = _login_form(client)
    for _ in range(10):
        assert (
            _post_login(client, "editor@daily.example", "wrong password!", csrf).status_code == 401
        )
    refused = _post_login(client, "editor@daily.example", PASSWORD, csrf)
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.text and "minutes" in refused.text
    assert client.get("/dashboard").status_code == 303
    # Other addresses are not locked out.
    assert _post_login(client, "editor@harbor.example", PASSWORD, csrf).status_code == 303


def test_limiter_window_slides() -> None:
    now = [1000.0]
    limiter = LoginLimiter(max_failures=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.wait_s("a") == 0
        limiter.failed("a")
    assert limiter.wait_s("a") == 60
    assert limiter.wait_s("b") == 0
    now[0] += 59
    assert limiter.wait_s("a") == 1
    now[0] += 1
    assert limiter.wait_s("a") == 0
    limiter.failed("a")
    limiter.succeeded("a")
    assert limiter.wait_s("a") == 0


def test_limiter_memory_is_bounded() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=2, window_s=60, clock=lambda: now[0], max_keys=3)
    for key in "abc":
        limiter.failed(key)
        limiter.failed(key)
    assert [limiter.wait_s(key) for key in "abc"] == [60, 60, 60]
    limiter.failed("d")
    assert limiter.wait_s("a") == 0  # the oldest address was forgotten
    assert [limiter.wait_s(key) > 0 for key in "bc"] == [True, True]


def test_password_change_and_removal_end_sessions(
    client: WebClient, db: Database, seeded: Seeded
) -> None:
    login(client, "editor@daily.example")
    assert client.get("/dashboard/daily").status_code == 200
    users.change_password(db, "editor@daily.example", "another long passphrase")
    assert client.get("/dashboard/daily").status_code == 303
    login(client, "editor@daily.example", "another long passphrase")
    assert client.get("/dashboard/daily").status_code == 200
    users.remove_user(db, "editor@daily.example")
    assert client.get("/dashboard/daily").status_code == 303
    assert client.get("/api/v1/stats/daily/overview").status_code == 401


def test_session_from_another_key_is_ignored(
    settings: Settings, db: Database, seeded: Seeded
) -> None:
    keyed = settings.replace(secret_key=Secret("first key, long and random enough"))
    with WebClient(create_app(keyed, database=db)) as web:
        login(web, "editor@daily.example")
        cookie = web.get("/dashboard/daily").request.headers["cookie"]
    other = settings.replace(secret_key=Secret("second key, also long and random"))
    with WebClient(create_app(other, database=db)) as web:
        response = web.get("/dashboard/daily", headers={"cookie": cookie})
        assert response.status_code == 303
    with WebClient(create_app(keyed, database=db)) as web:
        assert web.get("/dashboard/daily", headers={"cookie": cookie}).status_code == 200


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/daily?days=7", "/dashboard/daily?days=7"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard\\@evil.example", "/dashboard"),
        ("/login", "/dashboard"),
        ("/dashboard/x\r\nSet-Cookie: a=b", "/dashboard"),
        (None, "/dashboard"),
    ],
)
def test_next_stays_on_the_dashboard(target: object, expected: str) -> None:
    assert safe_next(target) == expected


def test_login_page_does_not_redirect_elsewhere(client: WebClient, seeded: Seeded) -> None:
    csrf = _login_form(client, "https://evil.example/")
    response = _post_login(client, "editor@daily.example", PASSWORD, csrf, "https://evil.example/")
    assert response.headers["location"] == "/dashboard"


def test_no_cookie_outside_the_dashboard(
    seeded: Seeded, settings: Settings, db: Database, tmp_path: Path
) -> None:
    # The pixel mounted in the app, as `republish serve` does (no rollup worker here).
    pixel = PixelApp(tmp_path / "pixel-hits")
    app = create_app(settings.replace(rollup_interval_s=0), database=db, pixel=pixel)
    with WebClient(app) as client:
        login(client, "admin@newsroom.example")
        _no_cookie_outside_the_dashboard(client, seeded)


def _no_cookie_outside_the_dashboard(client: WebClient, seeded: Seeded) -> None:
    # Even with a live session cookie in the jar, other routes neither read nor set one.
    paths = [
        "/healthz",
        "/api/v1/openapi.json",
        f"/api/v1/stories/{seeded.story_a}",
        f"/api/v1/stories/{seeded.story_a}/snippet",
        f"/republish/{seeded.story_a}",
        "/guidelines/daily",
        "/static/republish.css",
        "/static/dashboard.css",
        "/nothing-here",
        f"/p/{seeded.story_a}.gif",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code in {200, 404}, path
        assert "set-cookie" not in response.headers, path
        assert "cookie" not in response.headers.get("vary", "").lower(), path
    assert client.get(f"/p/{seeded.story_a}.gif").headers["content-type"] == "image/gif"


def test_pages_carry_no_script_and_the_csp(client: WebClient, seeded: Seeded) -> None:
    page = client.get("/login")
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text.lower()
    assert re.search(r'<form method="post" action="/login"', page.text)


# Server-side session records ---------------------------------------------------------


def _cookie_of(client: WebClient) -> str:
    """The Cookie header the client sends on the dashboard (a copy of its session)."""
    return client.get("/dashboard/daily").request.headers["cookie"]


def _session_data(cookie_header: str) -> dict[str, object]:
    """The (signed, not encrypted) contents of a session cookie."""
    value = cookie_header.split(f"{SESSION_COOKIE}=", 1)[1].split(";", 1)[0]
    payload = value.split(".", 1)[0]
    data: dict[str, object] = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def _signed_cookie(data: dict[str, object]) -> str:
    """A session cookie signed with ``SECRET``, made as Starlette's middleware makes one."""
    payload = base64.b64encode(json.dumps(data).encode("utf-8"))
    return f"{SESSION_COOKIE}={TimestampSigner(SECRET).sign(payload).decode('utf-8')}"


def _records(db: Database) -> list[sa.RowMapping]:
    with db.connect() as conn:
        return list(conn.execute(sa.select(dashboard_sessions)).mappings())


def _user_id(db: Database, email: str) -> int:
    with db.connect() as conn:
        return user_store.get_user(conn, email).id


@pytest.fixture
def keyed_app(settings: Settings, db: Database) -> Starlette:
    return create_app(settings.replace(secret_key=Secret(SECRET)), database=db)


def test_logout_ends_a_copied_session(settings: Settings, db: Database, seeded: Seeded) -> None:
    app = create_app(settings, database=db)
    with WebClient(app) as browser, WebClient(app) as thief:
        login(browser, "editor@daily.example")
        copied = _cookie_of(browser)
        assert thief.get("/dashboard/daily", headers={"cookie": copied}).status_code == 200
        stats = thief.get("/api/v1/stats/daily/overview", headers={"cookie": copied})
        assert stats.status_code == 200
        assert len(_records(db)) == 1
        assert logout(browser).status_code == 303
        assert _records(db) == []
        refused = thief.get("/dashboard/daily", headers={"cookie": copied})
        assert refused.status_code == 303
        assert refused.headers["location"] == "/login?next=/dashboard/daily"
        stats = thief.get("/api/v1/stats/daily/overview", headers={"cookie": copied})
        assert stats.status_code == 401
        # Logging in again opens a new session; the copy stays dead.
        login(browser, "editor@daily.example")
        assert browser.get("/dashboard/daily").status_code == 200
        assert thief.get("/dashboard/daily", headers={"cookie": copied}).status_code == 303


def test_logout_ends_only_its_own_session(settings: Settings, db: Database, seeded: Seeded) -> None:
    app = create_app(settings, database=db)
    with WebClient(app) as laptop, WebClient(app) as phone:
        login(laptop, "editor@daily.example")
        login(phone, "editor@daily.example")
        assert len(_records(db)) == 2
        logout(laptop)
        assert laptop.get("/dashboard/daily").status_code == 303
        assert phone.get("/dashboard/daily").status_code == 200
        assert len(_records(db)) == 1


def test_logging_in_again_replaces_the_browser_session(
    client: WebClient, db: Database, seeded: Seeded
) -> None:
    login(client, "editor@daily.example")
    (first,) = _records(db)
    # POST /login while logged in (the form of another tab, say): the old record goes.
    page = client.get("/dashboard/daily")
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "email": "admin@newsroom.example", "password": PASSWORD},
    )
    assert response.status_code == 303
    (second,) = _records(db)
    assert second["id_hash"] != first["id_hash"]
    assert second["user_id"] == _user_id(db, "admin@newsroom.example")


def test_session_record_lasts_the_cookie_lifetime(
    client: WebClient, db: Database, seeded: Seeded
) -> None:
    before = datetime.now(UTC)
    login(client, "editor@daily.example")
    (record,) = _records(db)
    assert record["user_id"] == _user_id(db, "editor@daily.example")
    assert before - timedelta(seconds=1) <= record["created_at"] <= datetime.now(UTC)
    assert record["expires_at"] - record["created_at"] == timedelta(seconds=SESSION_MAX_AGE_S)


def test_expired_session_is_refused_and_removed_at_login(
    settings: Settings, db: Database, seeded: Seeded
) -> None:
    app = create_app(settings, database=db)
    with WebClient(app) as old, WebClient(app) as other:
        login(old, "editor@daily.example")
        assert old.get("/dashboard/daily").status_code == 200
        past = datetime.now(UTC) - timedelta(seconds=1)
        with db.begin() as conn:
            conn.execute(dashboard_sessions.update().values(expires_at=past))
        assert old.get("/dashboard/daily").status_code == 303
        assert old.get("/api/v1/stats/daily/overview").status_code == 401
        (expired,) = _records(db)
        # The next login, anyone's, removes expired records.
        login(other, "admin@newsroom.example")
        (left,) = _records(db)
        assert left["id_hash"] != expired["id_hash"]
        assert left["user_id"] == _user_id(db, "admin@newsroom.example")


def test_session_id_is_stored_only_as_its_hash(
    client: WebClient, db: Database, seeded: Seeded
) -> None:
    login(client, "editor@daily.example")
    data = _session_data(_cookie_of(client))
    assert set(data) == {"sid", "stamp", "csrf"}  # no user id in the cookie
    session_id = data["sid"]
    assert isinstance(session_id, str) and len(session_id) >= 43  # 32 random bytes
    (record,) = _records(db)
    assert record["id_hash"] == hashlib.sha256(session_id.encode("utf-8")).hexdigest()
    assert session_id not in repr(dict(record))
    now = datetime.now(UTC)
    with db.connect() as conn:
        # The stored hash, used as a session id, logs no one in.
        assert session_store.session_user(conn, record["id_hash"], now) is None
        user = session_store.session_user(conn, session_id, now)
    assert user is not None and user.email == "editor@daily.example"


def test_old_style_and_forged_cookies_are_refused(
    keyed_app: Starlette, db: Database, seeded: Seeded
) -> None:
    with WebClient(keyed_app) as browser, WebClient(keyed_app) as other:
        login(browser, "editor@daily.example")
        data = _session_data(_cookie_of(browser))
        (record,) = _records(db)

        def status(cookie_data: dict[str, object], path: str = "/dashboard/daily") -> int:
            return other.get(path, headers={"cookie": _signed_cookie(cookie_data)}).status_code

        # Control: the same contents signed here are accepted, so the signing is right.
        assert status(data) == 200
        # A cookie of the previous version: user id, stamp and CSRF token, no session id.
        old_style = {
            "uid": _user_id(db, "editor@daily.example"),
            "stamp": data["stamp"],
            "csrf": data["csrf"],
        }
        assert status(old_style) == 303
        assert status(old_style, "/api/v1/stats/daily/overview") == 401
        # A user id beside a made-up session id is not trusted either.
        assert status({**old_style, "sid": "made-up"}) == 303
        # The stored hash instead of the id, a wrong stamp, a session id of another type.
        assert status({**data, "sid": record["id_hash"]}) == 303
        assert status({**data, "stamp": "0" * 16}) == 303
        assert status({**data, "sid": 12345}) == 303
        assert status(data) == 200  # and the real session is still there


def test_password_change_and_removal_delete_session_records(
    settings: Settings, db: Database, seeded: Seeded, cli_env: dict[str, str]
) -> None:
    app = create_app(settings, database=db)
    with WebClient(app) as editor, WebClient(app) as admin:
        login(editor, "editor@daily.example")
        login(admin, "admin@newsroom.example")
        editor_id = _user_id(db, "editor@daily.example")
        admin_id = _user_id(db, "admin@newsroom.example")
        result = CliRunner().invoke(
            cli,
            ["user", "password", "editor@daily.example", "--password-stdin"],
            env=cli_env,
            input="another long passphrase\n",
        )
        assert result.exit_code == 0, result.output
        assert [r["user_id"] for r in _records(db)] == [admin_id]
        assert editor.get("/dashboard/daily").status_code == 303
        assert admin.get("/dashboard/daily").status_code == 200
        login(editor, "editor@daily.example", "another long passphrase")
        assert {r["user_id"] for r in _records(db)} == {editor_id, admin_id}
        result = CliRunner().invoke(cli, ["user", "remove", "editor@daily.example"], env=cli_env)
        assert result.exit_code == 0, result.output
        assert [r["user_id"] for r in _records(db)] == [admin_id]
        assert editor.get("/dashboard/daily").status_code == 303
        assert admin.get("/dashboard/daily").status_code == 200


def test_removing_a_publisher_removes_its_users_sessions(
    client: WebClient, db: Database, seeded: Seeded
) -> None:
    login(client, "editor@daily.example")
    assert len(_records(db)) == 1
    with db.begin() as conn:
        conn.execute(sa.delete(publisher_table).where(publisher_table.c.slug == "daily"))
    assert _records(db) == []
    assert client.get("/dashboard").status_code == 303


def test_session_store_functions(db: Database, seeded: Seeded) -> None:
    editor = _user_id(db, "editor@daily.example")
    admin = _user_id(db, "admin@newsroom.example")
    now = datetime.now(UTC)
    with db.begin() as conn:
        short = session_store.create_session(conn, editor, now, 60)
        long = session_store.create_session(conn, editor, now, 3600)
        other = session_store.create_session(conn, admin, now, 3600)
    assert len({short, long, other}) == 3
    with db.connect() as conn:
        found = session_store.session_user(conn, short, now)
        assert found is not None and found.id == editor and found.publisher_slug == "daily"
        admin_user = session_store.session_user(conn, other, now)
        assert admin_user is not None and admin_user.is_admin
        assert session_store.session_user(conn, short, now + timedelta(seconds=60)) is None
        assert session_store.session_user(conn, "", now) is None
        assert session_store.session_user(conn, "x" * 1000, now) is None
    with db.begin() as conn:
        assert session_store.delete_expired(conn, now + timedelta(seconds=60)) == 1
        assert session_store.delete_session(conn, long) is True
        assert session_store.delete_session(conn, long) is False
        assert session_store.delete_user_sessions(conn, admin) == 1
    assert _records(db) == []
