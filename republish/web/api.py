"""The JSON API under ``/api/v1``: publishers (admin), stories, snippets and overrides.

Handlers that touch the database are plain functions run in the thread pool; handlers
that read a request body are async, read it, then hand the work to the thread pool.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from republish import publishers as publisher_service
from republish.ingest.push import InvalidPush, story_from_push
from republish.ingest.revisions import diff_revisions
from republish.ingest.run import IngestError, ingest_extracted, ingest_url
from republish.models import Publisher, Story
from republish.snippet import render_snippet
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.errors import Conflict, NotFound
from republish.urls import InvalidURL
from republish.web._http import (
    CORS_HEADERS,
    bearer_token,
    db_of,
    expect_fields,
    fail,
    is_admin,
    json_response,
    query_int,
    read_json_object,
    require_admin,
    settings_of,
    unauthorized,
)
from republish.web.serialize import (
    diff_to_json,
    override_to_json,
    revision_to_json,
    snippet_to_json,
    story_to_json,
)

MAX_REASON_CHARS = 2000
MAX_ACTOR_CHARS = 200
SNIPPET_CACHE = "public, max-age=60"


def _publisher(request: Request, slug: str) -> Publisher:
    with db_of(request).connect() as conn:
        try:
            return publisher_store.get_publisher(conn, slug)
        except NotFound:
            fail(404, f"no publisher with slug {slug!r}")


def _story(request: Request, story_id: str) -> tuple[Story, Publisher]:
    with db_of(request).connect() as conn:
        try:
            story = story_store.get_story(conn, story_id)
        except NotFound:
            fail(404, f"no story with id {story_id!r}")
        return story, publisher_store.get_publisher_by_id(conn, story.publisher_id)


def _story_json(request: Request, story: Story, publisher: Publisher) -> dict[str, Any]:
    return story_to_json(story, publisher, settings_of(request).base_url)


def _token_publisher(request: Request) -> Publisher | None:
    """The publisher whose API token the request carries, or None for the admin token.

    401 when there is no valid token at all.
    """
    if is_admin(request):
        return None
    token = bearer_token(request)
    if token is None:
        unauthorized()
    found = publisher_service.publisher_for_token(db_of(request), token)
    if found is None:
        unauthorized()
    return found


# Publishers (admin) ------------------------------------------------------------------


def list_publishers(request: Request) -> JSONResponse:
    """``GET /api/v1/publishers`` (admin)."""
    require_admin(request)
    with db_of(request).connect() as conn:
        found = publisher_store.list_publishers(conn)
    return json_response({"publishers": [publisher_service.publisher_to_json(p) for p in found]})


def _create_publisher(request: Request, data: dict[str, Any]) -> JSONResponse:
    slug, name = data.get("slug"), data.get("name")
    if not isinstance(slug, str) or not slug:
        fail(422, "slug: required, a string")
    if not isinstance(name, str) or not name.strip():
        fail(422, "name: required, a string")
    changes = {key: value for key, value in data.items() if key not in {"slug", "name"}}
    try:
        created, token = publisher_service.create_publisher(db_of(request), slug, name, changes)
    except publisher_service.InvalidPublisher as exc:
        fail(422, str(exc))
    except Conflict as exc:
        fail(409, str(exc))
    body = publisher_service.publisher_to_json(created) | {"api_token": token}
    return json_response(body, 201)


async def create_publisher(request: Request) -> JSONResponse:
    """``POST /api/v1/publishers`` (admin): 201 with the new API token, shown once."""
    require_admin(request)
    data = await read_json_object(request)
    return await run_in_threadpool(_create_publisher, request, data)


def get_publisher(request: Request) -> JSONResponse:
    """``GET /api/v1/publishers/{slug}`` (admin)."""
    require_admin(request)
    found = _publisher(request, request.path_params["slug"])
    return json_response(publisher_service.publisher_to_json(found))


def _edit_publisher(request: Request, slug: str, data: dict[str, Any]) -> JSONResponse:
    try:
        updated = publisher_service.edit_publisher(db_of(request), slug, data)
    except publisher_service.InvalidPublisher as exc:
        fail(422, str(exc))
    except NotFound:
        fail(404, f"no publisher with slug {slug!r}")
    return json_response(publisher_service.publisher_to_json(updated))


async def patch_publisher(request: Request) -> JSONResponse:
    """``PATCH /api/v1/publishers/{slug}`` (admin): change the fields given."""
    require_admin(request)
    data = await read_json_object(request)
    return await run_in_threadpool(_edit_publisher, request, request.path_params["slug"], data)


# Stories -----------------------------------------------------------------------------


def _push_publisher(request: Request, owner: Publisher | None, data: dict[str, Any]) -> Publisher:
    named = data.get("publisher")
    if named is not None and not isinstance(named, str):
        fail(422, "publisher: expected a publisher slug")
    if owner is None:
        if not named:
            fail(422, "publisher: required with the admin token")
        return _publisher(request, named)
    if named and named != owner.slug:
        fail(403, f"this token belongs to publisher {owner.slug!r}, not {named!r}")
    return owner


def _ingest(request: Request, owner: Publisher | None, data: dict[str, Any]) -> JSONResponse:
    publisher = _push_publisher(request, owner, data)
    payload = {key: value for key, value in data.items() if key != "publisher"}
    db, settings = db_of(request), settings_of(request)
    try:
        if set(payload) == {"url"}:
            url = payload["url"]
            if not isinstance(url, str):
                fail(422, "url: expected a string")
            result = ingest_url(db, settings, publisher.slug, url)
        else:
            extracted = story_from_push(payload)
            result = ingest_extracted(db, publisher.slug, extracted, "push")
    except (InvalidPush, InvalidURL, IngestError) as exc:
        fail(422, str(exc) or type(exc).__name__)
    body = _story_json(request, result.story, publisher) | {"status": result.status}
    return json_response(body, 201 if result.status == "new" else 200)


async def create_story(request: Request) -> JSONResponse:
    """``POST /api/v1/stories``: store a pushed story, or fetch ``{"url": ...}``."""
    owner = await run_in_threadpool(_token_publisher, request)
    data = await read_json_object(request)
    return await run_in_threadpool(_ingest, request, owner, data)


def list_stories(request: Request) -> JSONResponse:
    """``GET /api/v1/stories?publisher=&limit=&offset=``, newest first."""
    limit = query_int(request, "limit", 50, 1, 500)
    offset = query_int(request, "offset", 0, 0, 10**9)
    slug = request.query_params.get("publisher")
    db = db_of(request)
    with db.connect() as conn:
        publisher_id = None
        if slug is not None:
            try:
                publisher_id = publisher_store.get_publisher(conn, slug).id
            except NotFound:
                fail(404, f"no publisher with slug {slug!r}")
        found = story_store.list_stories(conn, publisher_id, limit, offset)
        by_id = {p.id: p for p in publisher_store.list_publishers(conn)} if found else {}
    stories = [_story_json(request, story, by_id[story.publisher_id]) for story in found]
    return json_response({"stories": stories, "limit": limit, "offset": offset})


def get_story(request: Request) -> JSONResponse:
    """``GET /api/v1/stories/{story_id}``."""
    story, publisher = _story(request, request.path_params["story_id"])
    return json_response(_story_json(request, story, publisher))


def list_revisions(request: Request) -> JSONResponse:
    """``GET /api/v1/stories/{story_id}/revisions``, oldest first."""
    story, _ = _story(request, request.path_params["story_id"])
    with db_of(request).connect() as conn:
        revisions = story_store.list_revisions(conn, story.id)
    return json_response(
        {"story_id": story.id, "revisions": [revision_to_json(r) for r in revisions]}
    )


def _revision_number(request: Request, value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or not 0 < int(value) < 2**31:
        fail(422 if name == "against" else 404, f"{name}: expected a revision number")
    return int(value)


def revision_diff(request: Request) -> JSONResponse:
    """``GET /api/v1/stories/{story_id}/revisions/{revision}/diff?against=N`` (admin or the
    owner's token): unified diffs of headline and text from revision N (default: the one
    before) to this one."""
    story, _, _ = _owned_story(request)
    number = _revision_number(request, request.path_params["revision"], "revision")
    against_param = request.query_params.get("against")
    against = number - 1
    if against_param is not None:
        against = _revision_number(request, against_param, "against")
    with db_of(request).connect() as conn:
        try:
            new = story_store.get_revision(conn, story.id, number)
            old = story_store.get_revision(conn, story.id, against) if against else None
        except NotFound as exc:
            fail(404, str(exc))
    return json_response(diff_to_json(diff_revisions(old, new)))


def get_snippet(request: Request) -> JSONResponse:
    """``GET /api/v1/stories/{story_id}/snippet`` (CORS: any origin)."""
    story, publisher = _story(request, request.path_params["story_id"])
    snippet = render_snippet(story, publisher, settings_of(request).base_url)
    return json_response(
        snippet_to_json(snippet), headers={**CORS_HEADERS, "Cache-Control": SNIPPET_CACHE}
    )


# Overrides ---------------------------------------------------------------------------


def _owned_story(request: Request) -> tuple[Story, Publisher, Publisher | None]:
    owner = _token_publisher(request)
    story, publisher = _story(request, request.path_params["story_id"])
    if owner is not None and owner.id != publisher.id:
        fail(403, "this token belongs to another publisher")
    return story, publisher, owner


def _check_override(data: dict[str, Any], owner: Publisher | None) -> tuple[bool | None, str, str]:
    expect_fields(data, {"republishable", "reason", "actor"})
    if "republishable" not in data:
        fail(422, "republishable: required (true, false, or null to clear the override)")
    republishable = data["republishable"]
    if republishable is not None and not isinstance(republishable, bool):
        fail(422, "republishable: expected true, false or null")
    reason = data.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
        fail(422, f"reason: expected a string of at most {MAX_REASON_CHARS} characters")
    default_actor = "admin" if owner is None else f"publisher:{owner.slug}"
    actor = data.get("actor", default_actor)
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_CHARS:
        fail(422, f"actor: expected a name of 1-{MAX_ACTOR_CHARS} characters")
    return republishable, reason.strip(), actor.strip()


def _set_override(request: Request, data: dict[str, Any]) -> JSONResponse:
    story, publisher, owner = _owned_story(request)
    republishable, reason, actor = _check_override(data, owner)
    with db_of(request).begin() as conn:
        updated = story_store.set_override(
            conn, story.id, republishable, reason, actor, datetime.now(UTC)
        )
    return json_response(_story_json(request, updated, publisher))


async def set_override(request: Request) -> JSONResponse:
    """``POST /api/v1/stories/{story_id}/override`` (admin or the owner's token)."""
    await run_in_threadpool(_owned_story, request)
    data = await read_json_object(request)
    return await run_in_threadpool(_set_override, request, data)


def list_overrides(request: Request) -> JSONResponse:
    """``GET /api/v1/stories/{story_id}/overrides`` (admin or the owner's token)."""
    story, _, _ = _owned_story(request)
    with db_of(request).connect() as conn:
        history = story_store.list_overrides(conn, story.id)
    return json_response(
        {"story_id": story.id, "overrides": [override_to_json(entry) for entry in history]}
    )


def routes() -> list[BaseRoute]:
    """The API routes (mounted at the root; every path starts with ``/api/v1``)."""
    return [
        Route("/api/v1/publishers", list_publishers, methods=["GET"]),
        Route("/api/v1/publishers", create_publisher, methods=["POST"]),
        Route("/api/v1/publishers/{slug}", get_publisher, methods=["GET"]),
        Route("/api/v1/publishers/{slug}", patch_publisher, methods=["PATCH"]),
        Route("/api/v1/stories", list_stories, methods=["GET"]),
        Route("/api/v1/stories", create_story, methods=["POST"]),
        Route("/api/v1/stories/{story_id}", get_story, methods=["GET"]),
        Route("/api/v1/stories/{story_id}/revisions", list_revisions, methods=["GET"]),
        Route(
            "/api/v1/stories/{story_id}/revisions/{revision}/diff",
            revision_diff,
            methods=["GET"],
        ),
        Route("/api/v1/stories/{story_id}/snippet", get_snippet, methods=["GET"]),
        Route("/api/v1/stories/{story_id}/override", set_override, methods=["POST"]),
        Route("/api/v1/stories/{story_id}/overrides", list_overrides, methods=["GET"]),
    ]
