"""Login, logout, sessions, CSRF and the login rate limit; no cookie outside the dashboard."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from republish import users
from republish.config import Secret, Settings
from republish.pixel.app import PixelApp
from republish.store.db import Database
from republish.web.app import create_app
from republish.web.auth import SESSION_COOKIE, LoginLimiter, safe_next
from tests.test_stats_api import PASSWORD, Seeded, csrf_of, login, logout, seed
from tests.webclient import WebClient


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
