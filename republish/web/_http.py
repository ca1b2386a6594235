"""What the API handlers share: JSON errors, reading JSON bodies, bearer tokens."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, NoReturn

from starlette.requests import Request
from starlette.responses import JSONResponse

from republish.config import Settings
from republish.store.db import Database

#: Largest JSON body the API reads (a pushed story body may be up to 5 MB).
MAX_BODY_BYTES = 8 * 1024 * 1024

#: Headers on every response this app builds itself.
BASE_HEADERS = {"X-Content-Type-Options": "nosniff"}
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}


class ApiError(Exception):
    """Answer with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def fail(status: int, message: str) -> NoReturn:
    """Raise an :class:`ApiError`."""
    raise ApiError(status, message)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON response with the base security headers."""
    return JSONResponse(data, status_code=status, headers={**BASE_HEADERS, **(headers or {})})


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message}, status, headers)


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def db_of(request: Request) -> Database:
    """The app's database."""
    db: Database = request.app.state.db
    return db


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 415, 413 or 400 otherwise."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        fail(415, "send the body as JSON with Content-Type: application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        fail(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            fail(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or "bad JSON"
        fail(400, f"malformed JSON: {message}")
    if not isinstance(data, dict):
        fail(400, "expected a JSON object")
    if _has_nul(data):
        fail(422, "text must not contain NUL characters")
    return data


def _has_nul(value: Any) -> bool:
    """True when any string in a parsed JSON value holds a NUL (PostgreSQL refuses it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if there is one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_admin(request: Request) -> bool:
    """True when the request carries the configured admin token."""
    admin = settings_of(request).admin_token
    token = bearer_token(request)
    if not admin or token is None:
        return False
    return hmac.compare_digest(token.encode("utf-8"), admin.reveal().encode("utf-8"))


def unauthorized(message: str = "missing or wrong bearer token") -> NoReturn:
    """Raise a 401 with a ``WWW-Authenticate`` challenge."""
    raise ApiError(401, message, {"WWW-Authenticate": 'Bearer realm="republish"'})


def require_admin(request: Request) -> None:
    """401 unless the request carries the admin token."""
    if not is_admin(request):
        unauthorized("this endpoint needs the admin token (Authorization: Bearer ...)")


def expect_fields(data: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """422 naming the first field not in ``allowed``."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        fail(422, f"unknown field {unknown[0]!r}")


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter between ``low`` and ``high``; 422 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        fail(422, f"{name}: expected a whole number, got {raw!r}")
    if not low <= value <= high:
        fail(422, f"{name}: must be between {low} and {high}")
    return value
