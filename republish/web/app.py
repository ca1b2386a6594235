"""The ASGI app: JSON API, widget endpoints, republish and guidelines pages.

``create_app(settings)`` builds it; nothing is read from the environment at import time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from republish.config import Settings
from republish.ingest.schedule import SourceScheduler
from republish.notify.worker import DeliveryWorker
from republish.pixel.app import PixelApp
from republish.stats.worker import RollupWorker
from republish.store.db import Database
from republish.web import api, auth, dashboard, pages, stats_api, widget
from republish.web._http import CORS_HEADERS, ApiError, error_response, json_response
from republish.web.openapi import openapi

logger = logging.getLogger(__name__)

PIXEL_PREFIX = "/p/"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _is_cors(request: Request) -> bool:
    path = request.url.path
    return path == "/api/v1/widget" or (
        path.startswith("/api/v1/stories/") and path.endswith("/snippet")
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    # The widget runs on other sites: let it read why a public lookup failed.
    headers = {**exc.headers, **(CORS_HEADERS if _is_cors(request) else {})}
    return error_response(exc.status, exc.message, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _is_api(request):
        message = {404: "no such endpoint", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        return error_response(exc.status_code, message, exc.headers)
    if exc.status_code == 404:
        return pages.not_found_page()
    return PlainTextResponse(str(exc.detail), exc.status_code, headers=exc.headers)


async def _data_error(request: Request, exc: Exception) -> Response:
    # Input the validators let through but a column refuses (PostgreSQL: too long for
    # the column); the transaction was rolled back, so nothing is stored.
    logger.warning("refused by the database on %s %s", request.method, request.url.path)
    message = "a value is too long or cannot be stored"
    if _is_api(request):
        return error_response(422, message)
    return pages.error_page(400, "Bad request", message)


class RefuseNul:
    """Answer 400 to a request with a NUL character in its path or query string.

    No identifier or URL contains one, and PostgreSQL cannot compare text with it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] == "http"
            and not path.startswith(PIXEL_PREFIX)  # the pixel always answers with its GIF
            and ("\x00" in path or b"%00" in scope["query_string"].lower())
        ):
            if path.startswith("/api/"):
                response: Response = error_response(400, "NUL character in the address")
            else:
                response = PlainTextResponse("NUL character in the address", 400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Log the type only: messages of database errors can carry query parameters.
    logger.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    if _is_api(request):
        return error_response(500, "internal error")
    return pages.error_page(500, "Something went wrong", "Please try again later.")


def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return json_response({"ok": True})


def openapi_json(request: Request) -> Response:
    """The OpenAPI description of the JSON API."""
    return json_response(openapi())


def _workers(
    settings: Settings, db: Database, pixel: PixelApp | None
) -> tuple[RollupWorker, DeliveryWorker] | None:
    """The in-process rollup for a mounted pixel, if enabled, and the notification sender
    it wakes after each pass (its own thread: a slow receiver must not hold the counting)."""
    if pixel is None or settings.rollup_interval_s <= 0:
        return None
    sender = DeliveryWorker(db, settings, interval_s=max(settings.rollup_interval_s, 30.0))
    rollup = RollupWorker(
        db,
        pixel.log_dir,
        interval_s=settings.rollup_interval_s,
        after_pass=lambda _result: sender.wake(),
    )
    return rollup, sender


def create_app(
    settings: Settings,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    database: Database | None = None,
    pixel: PixelApp | None = None,
    poll_sources: bool = False,
) -> Starlette:
    """The web app for ``settings``.

    ``extra_routes`` are matched before the app's own (the demo adds its sample pages
    this way). ``database`` defaults to one opened from ``settings.database_url`` (and
    closed at shutdown); the schema is checked at startup. ``pixel``, when given, answers
    ``/p/{story_id}.gif`` in this app and is started and stopped with it (``republish
    serve`` does this; ``republish pixel`` serves it alone instead); with it, a
    :class:`RollupWorker` rolls hits up every ``settings.rollup_interval_s`` (0: not at
    all) and wakes a :class:`DeliveryWorker`, which sends the notifications a pass queued
    in a thread of its own; both make a final pass at shutdown.
    With ``poll_sources``, a :class:`SourceScheduler` polls the registered story sources
    when they are due (``settings.poll_concurrency`` at a time) until shutdown.
    """
    db = database if database is not None else Database(settings.database_url)
    owns_db = database is None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(db.check_schema)
            if pixel is not None:
                await pixel.startup()
            workers = _workers(settings, db, pixel)
            app.state.rollup_worker = None if workers is None else workers[0]
            app.state.delivery_worker = None if workers is None else workers[1]
            if workers is not None:
                for worker in workers:
                    worker.start()
            scheduler = None
            if poll_sources:
                scheduler = SourceScheduler(db, settings, concurrency=settings.poll_concurrency)
                scheduler.start()
            app.state.source_scheduler = scheduler
            try:
                yield
            finally:
                if scheduler is not None:
                    await run_in_threadpool(scheduler.stop)
                if pixel is not None:
                    await pixel.shutdown()
                if workers is not None:
                    # After the pixel sealed its segment: the final pass counts every hit,
                    # then the sender's last pass sends what that pass queued.
                    for worker in workers:
                        await run_in_threadpool(worker.stop)
        finally:
            if owns_db:
                db.dispose()

    # The pixel is a raw ASGI app on its own path, matched first: no templates, sessions
    # or database on its hot path, and it answers every /p/... request with the GIF.
    pixel_routes: list[BaseRoute] = [] if pixel is None else [Route("/p/{rest:path}", pixel)]
    routes: list[BaseRoute] = [
        *pixel_routes,
        *extra_routes,
        Route("/healthz", healthz, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi_json, methods=["GET"]),
        *api.routes(),
        *widget.routes(),
        *pages.routes(),
        *auth.routes(),
        *dashboard.routes(),
        *stats_api.routes(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            sa.exc.DataError: _data_error,
            Exception: _server_error,
        },
        middleware=[
            Middleware(RefuseNul),
            # Sessions only on the dashboard, login and stats API paths (no cookie elsewhere).
            Middleware(
                auth.DashboardSessions,
                secret_key=auth.session_secret(settings),
                https_only=settings.base_url.startswith("https://"),
            ),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.login_limiter = auth.LoginLimiter()
    return app
