"""Stories pushed as JSON by a CMS: validate the payload, clean the body, find the origin."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from republish import clean
from republish.ingest._bylines import split_byline, unique
from republish.ingest.origin import canonical_origin, detect_origin
from republish.models import Extracted, Origin
from republish.urls import InvalidURL, check_http_url

#: Fields a push payload may carry; anything else is refused so typos do not pass silently.
FIELDS = (
    "url",
    "headline",
    "body_html",
    "dek",
    "bylines",
    "published_at",
    "updated_at",
    "section",
    "tags",
    "origin",
)
_MAX_TEXT = 2_000
# Fields stored in narrower columns (see store/schema.py).
_MAX_CHARS = {"section": 200, "origin": 200}
_MAX_BODY_BYTES = 5 * 1024 * 1024


class InvalidPush(ValueError):
    """A push payload field is missing or has a value that cannot be used."""


def _string(payload: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidPush(f"{name}: required")
        return ""
    if not isinstance(value, str):
        raise InvalidPush(f"{name}: expected a string, got {type(value).__name__}")
    value = " ".join(value.split()) if name != "body_html" else value
    if required and not value.strip():
        raise InvalidPush(f"{name}: must not be empty")
    limit = _MAX_CHARS.get(name, _MAX_TEXT)
    if name != "body_html" and len(value) > limit:
        raise InvalidPush(f"{name}: longer than {limit} characters")
    return value


def _date(payload: Mapping[str, Any], name: str) -> datetime | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidPush(f"{name}: expected an ISO 8601 date string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidPush(f"{name}: not an ISO 8601 date: {value[:40]!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _string_list(payload: Mapping[str, Any], name: str) -> list[str]:
    value = payload.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPush(f"{name}: expected a list of strings, got {type(value).__name__}")
    items: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidPush(f"{name}[{index}]: expected a string, got {type(item).__name__}")
        item = " ".join(item.split())
        if not item:
            raise InvalidPush(f"{name}[{index}]: must not be empty")
        if len(item) > 200:
            raise InvalidPush(f"{name}[{index}]: longer than 200 characters")
        items.append(item)
    return items


def _bylines(payload: Mapping[str, Any]) -> tuple[str, ...]:
    value = payload.get("bylines")
    if isinstance(value, str):
        names = split_byline(value)
        if value.strip() and not names:
            raise InvalidPush(f"bylines: no author names in {value[:60]!r}")
        return unique(names)
    if value is not None and not isinstance(value, list):
        raise InvalidPush(
            f"bylines: expected a list of names or a string, got {type(value).__name__}"
        )
    return unique(_string_list(payload, "bylines"))


def story_from_push(payload: object) -> Extracted:
    """Validate a JSON push payload and turn it into an :class:`Extracted` story.

    Required: ``url`` (the canonical http(s) URL), ``headline``, ``body_html``. Optional:
    ``dek``, ``bylines`` (a list, or one string like ``"A and B"``), ``published_at`` and
    ``updated_at`` (ISO 8601), ``section``, ``tags`` (a list), ``origin`` (an explicit wire
    or partner name). Raises :class:`InvalidPush` naming the first bad field.
    """
    if not isinstance(payload, Mapping):
        raise InvalidPush(f"payload: expected a JSON object, got {type(payload).__name__}")
    unknown = sorted(str(key) for key in payload if key not in FIELDS)
    if unknown:
        raise InvalidPush(f"{unknown[0]}: unknown field (known: {', '.join(FIELDS)})")
    url = _string(payload, "url", required=True)
    try:
        url = check_http_url(url)
    except InvalidURL as exc:
        raise InvalidPush(f"url: {exc}") from exc
    headline = _string(payload, "headline", required=True)
    raw_body = _string(payload, "body_html", required=True)
    if len(raw_body.encode("utf-8")) > _MAX_BODY_BYTES:
        raise InvalidPush(f"body_html: larger than {_MAX_BODY_BYTES // (1024 * 1024)} MB")
    body_html = clean.clean_html(raw_body, url)
    body_text = clean.to_text(body_html)
    if not body_text.strip():
        raise InvalidPush("body_html: no text left after cleaning")
    bylines = _bylines(payload)
    published_at = _date(payload, "published_at")
    updated_at = _date(payload, "updated_at")
    explicit_origin = _string(payload, "origin")
    origin: Origin | None
    if explicit_origin:
        origin = Origin(canonical_origin(explicit_origin), explicit_origin, "metadata")
    else:
        origin = detect_origin(body_text, bylines)
    return Extracted(
        headline=headline,
        dek=_string(payload, "dek"),
        bylines=bylines,
        published_at=published_at,
        updated_at=updated_at,
        canonical_url=url,
        section=_string(payload, "section"),
        tags=tuple(unique(_string_list(payload, "tags"))),
        body_html=body_html,
        body_text=body_text,
        origin=origin,
    )
