"""Login, logout, sessions and CSRF for the dashboard; who is asking, for the stats API.

Sessions are signed cookies (Starlette's ``SessionMiddleware``), set only on the
dashboard, login and stats API paths: the pixel, the widget, the public API and the
republish pages never see or set a cookie. A logged-in cookie carries a random session
id whose hash is stored in ``dashboard_sessions`` (see :mod:`republish.store.sessions`):
the session is valid only while that record is, so logging out ends it for every copy
of the cookie. Every POST carries the session's CSRF token in a hidden field; the login
form gets one before anyone is logged in.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from republish import publishers as publisher_service
from republish import users as user_service
from republish.config import Settings
from republish.models import Publisher
from republish.store import publishers as publisher_store
from republish.store import sessions as session_store
from republish.store.db import Database
from republish.store.errors import NotFound
from republish.store.users import User
from republish.web import pages
from republish.web._http import bearer_token, db_of, fail, is_admin, unauthorized

SESSION_COOKIE = "republish_session"
SESSION_MAX_AGE_S = 7 * 24 * 3600
#: Paths whose requests get a session; every other path is passed by untouched.
SESSION_PREFIXES = ("/login", "/logout", "/dashboard", "/api/v1/stats/")
LOGIN_MAX_FAILURES = 10
LOGIN_WINDOW_S = 15 * 60
LOGIN_MAX_KEYS = 100_000
NO_STORE = {"Cache-Control": "no-store"}


def _wants_session(path: str) -> bool:
    return any(
        path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in SESSION_PREFIXES
    )


class DashboardSessions:
    """``SessionMiddleware`` for the dashboard paths only."""

    def __init__(self, app: ASGIApp, secret_key: str, https_only: bool) -> None:
        self.app = app
        self.sessions = SessionMiddleware(
            app,
            secret_key=secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE_S,
            same_site="lax",
            https_only=https_only,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _wants_session(str(scope.get("path", ""))):
            await self.sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class LoginLimiter:
    """At most ``max_failures`` failed logins per e-mail in ``window_s`` (in memory)."""

    def __init__(
        self,
        max_failures: int = LOGIN_MAX_FAILURES,
        window_s: float = LOGIN_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = LOGIN_MAX_KEYS,
    ) -> None:
        self.max_failures = max_failures
        self.max_keys = max_keys
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        found = self._failures.get(key, deque())
        while found and found[0] <= now - self.window_s:
            found.popleft()
        if not found:
            self._failures.pop(key, None)
        return found

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        found = self._recent(key)
        if len(found) < self.max_failures:
            return 0.0
        return max(1.0, found[0] + self.window_s - self.clock())

    def failed(self, key: str) -> None:
        """Count one failed attempt."""
        found = self._recent(key)
        found.append(self.clock())
        self._failures[key] = found
        if len(self._failures) > self.max_keys:
            self._prune()

    def _prune(self) -> None:
        # Many distinct e-mail addresses: forget expired ones, then the oldest (memory
        # stays bounded; an address that keeps failing is re-added when it fails again).
        for key in list(self._failures):
            self._recent(key)
        while len(self._failures) > self.max_keys:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self._failures.pop(key, None)


def limiter_of(request: Request) -> LoginLimiter:
    """The app's login limiter."""
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


# CSRF --------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    """True when the form's token is the session's."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not expected or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))


def csrf_failed() -> Response:
    """403 for a form without the right token."""
    return pages.error_page(
        403, "Form expired", "This form is out of date. Go back, reload the page and try again."
    )


# Who is this -------------------------------------------------------------------------


def current_user(request: Request) -> User | None:
    """The logged-in user of the session, or None.

    None unless the cookie's session id has a stored, unexpired record whose user still
    exists and the cookie's stamp matches that user's password (one query).
    """
    if "session" not in request.scope:
        return None
    session_id, stamp = request.session.get("sid"), request.session.get("stamp")
    if not isinstance(session_id, str) or not isinstance(stamp, str):
        return None
    with db_of(request).connect() as conn:
        user = session_store.session_user(conn, session_id, datetime.now(UTC))
    if user is None:
        return None
    if not hmac.compare_digest(stamp, user_service.session_stamp(user)):
        return None
    return user


def may_see(user: User, publisher: Publisher) -> bool:
    """True when ``user`` may see ``publisher``'s statistics."""
    return user.is_admin or user.publisher_id == publisher.id


def stats_publisher(request: Request, slug: str) -> Publisher:
    """The publisher whose statistics the request may read.

    Accepts the admin token, that publisher's API token, or a dashboard session.
    401 without any of them, 404 for an unknown slug, 403 for another publisher's.
    """
    token = bearer_token(request)
    with db_of(request).connect() as conn:
        try:
            publisher = publisher_store.get_publisher(conn, slug)
        except NotFound:
            publisher = None
    if token is not None:
        if is_admin(request):
            allowed = True
        else:
            owner = publisher_service.publisher_for_token(db_of(request), token)
            if owner is None:
                unauthorized("wrong bearer token")
            allowed = publisher is not None and owner.id == publisher.id
    else:
        user = current_user(request)
        if user is None:
            unauthorized("log in to the dashboard or send a bearer token")
        allowed = publisher is not None and may_see(user, publisher)
    if publisher is None:
        fail(404, f"no publisher with slug {slug!r}")
    if not allowed:
        fail(403, "these credentials do not give access to this publisher")
    return publisher


# Login and logout --------------------------------------------------------------------


def safe_next(target: object) -> str:
    """``target`` when it is a dashboard path of this site, else ``/dashboard``."""
    if (
        isinstance(target, str)
        and target.startswith("/dashboard")
        and not target.startswith("//")
        and "\\" not in target
        and all(ch.isprintable() and ch != " " for ch in target)
    ):
        return target
    return "/dashboard"


def login_redirect(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the login form, and back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='/')}", 303, headers=NO_STORE)


def _login_page(
    request: Request, status: int = 200, error: str = "", email: str = "", target: str = ""
) -> Response:
    response = pages.page(
        "dashboard/login.html",
        status,
        title="Log in",
        user=None,
        noindex=True,
        csrf=csrf_token(request),
        error=error,
        email=email,
        next=safe_next(target or request.query_params.get("next")),
    )
    response.headers.update(NO_STORE)
    return response


def login_form(request: Request) -> Response:
    """``GET /login``: the form (or the dashboard when already logged in)."""
    if current_user(request) is not None:
        target = safe_next(request.query_params.get("next"))
        return RedirectResponse(target, 303, headers=NO_STORE)
    return _login_page(request)


def _minutes(wait_s: float) -> str:
    minutes = max(1, round(wait_s / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


async def login_submit(request: Request) -> Response:
    """``POST /login``: check the CSRF token, the rate limit and the password."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        return csrf_failed()
    email = str(form.get("email", ""))[:400].strip()
    password = str(form.get("password", ""))[: user_service.MAX_PASSWORD_CHARS + 1]
    target = safe_next(form.get("next"))
    key = email.lower()
    limiter = limiter_of(request)
    wait_s = limiter.wait_s(key)
    if wait_s:
        message = (
            f"Too many failed attempts for this e-mail address. Try again in {_minutes(wait_s)}."
        )
        return _login_page(request, 429, message, email, target)
    user = await run_in_threadpool(user_service.verify_login, db_of(request), email, password)
    if user is None:
        limiter.failed(key)
        return _login_page(request, 401, "Wrong e-mail address or password.", email, target)
    limiter.succeeded(key)
    previous = request.session.get("sid")
    session_id = await run_in_threadpool(
        _open_session, db_of(request), user.id, previous if isinstance(previous, str) else None
    )
    # A fresh session (and CSRF token) at login: nothing from before carries over.
    request.session.clear()
    request.session.update(
        {
            "sid": session_id,
            "stamp": user_service.session_stamp(user),
            "csrf": secrets.token_urlsafe(32),
        }
    )
    return RedirectResponse(target, 303, headers=NO_STORE)


def _open_session(db: Database, user_id: int, previous: str | None) -> str:
    """Store a session of ``user_id`` and return its id.

    The session this browser had before (``previous``) and every expired one are removed.
    """
    now = datetime.now(UTC)
    with db.begin() as conn:
        if previous:
            session_store.delete_session(conn, previous)
        session_store.delete_expired(conn, now)
        return session_store.create_session(conn, user_id, now, SESSION_MAX_AGE_S)


def _close_session(db: Database, session_id: str) -> None:
    with db.begin() as conn:
        session_store.delete_session(conn, session_id)


async def logout(request: Request) -> Response:
    """``POST /logout``: end the session (its record, then the cookie)."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        return csrf_failed()
    session_id = request.session.get("sid")
    if isinstance(session_id, str) and session_id:
        await run_in_threadpool(_close_session, db_of(request), session_id)
    request.session.clear()
    return RedirectResponse("/login", 303, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    """Login and logout."""
    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


def session_secret(settings: Settings) -> str:
    """The key that signs sessions: the configured one, or a random one for this process."""
    return settings.secret_key.reveal() if settings.secret_key else secrets.token_urlsafe(48)


__all__ = [
    "DashboardSessions",
    "LoginLimiter",
    "csrf_ok",
    "csrf_token",
    "current_user",
    "login_redirect",
    "may_see",
    "routes",
    "session_secret",
    "stats_publisher",
]
