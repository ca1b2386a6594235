"""A hand-written OpenAPI 3.1 description of the JSON API (served at /api/v1/openapi.json).

A test checks that every ``/api/v1`` route of the app is described here.
"""

from __future__ import annotations

from typing import Any

from republish import __version__


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("Error"), "Error")
_ERRORS = {str(code): _ERROR for code in (400, 401, 403, 404, 413, 415, 422)}
_ADMIN: list[dict[str, list[str]]] = [{"admin": []}]
_ADMIN_OR_PUBLISHER: list[dict[str, list[str]]] = [{"admin": []}, {"publisher": []}]


def _param(name: str, where: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
    }


_STRING = {"type": "string"}
_SLUG = _param("slug", "path", "Publisher slug", _STRING)
_STORY_ID = _param("story_id", "path", "Story id", _STRING)


def _operation(
    summary: str,
    response: dict[str, Any],
    *,
    status: str = "200",
    security: list[dict[str, list[str]]] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {status: response, **_ERRORS},
        "security": security or [],
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


_PUBLISHER_FIELDS: dict[str, Any] = {
    "name": _STRING,
    "home_url": _STRING,
    "domains": {"type": "array", "items": _STRING},
    "licence": _STRING,
    "credit_template": _STRING,
    "guidelines_md": _STRING,
    "canonical_guide_md": _STRING,
    "contact_email": _STRING,
    "excluded_origins": {"type": "array", "items": _STRING},
    "excluded_sections": {"type": "array", "items": _STRING},
    "excluded_tags": {"type": "array", "items": _STRING},
    "excluded_authors": {"type": "array", "items": _STRING},
    "show_reason": {"type": "boolean"},
}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "properties": {"error": _STRING}, "required": ["error"]},
    "Publisher": {
        "type": "object",
        "properties": {
            "slug": _STRING,
            **_PUBLISHER_FIELDS,
            "site_profile": {
                "type": ["object", "null"],
                "description": "CSS selectors overriding extraction on the publisher's pages "
                "(body, headline, byline, published, exclude); set with `republish publisher "
                "profile`",
            },
        },
    },
    "Story": {
        "type": "object",
        "properties": {
            "id": _STRING,
            "publisher": _STRING,
            "canonical_url": _STRING,
            "headline": _STRING,
            "dek": _STRING,
            "bylines": {"type": "array", "items": _STRING},
            "published_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "section": _STRING,
            "tags": {"type": "array", "items": _STRING},
            "origin": _STRING,
            "origin_evidence": _STRING,
            "revision": {"type": "integer"},
            "republishable": {"type": "boolean"},
            "reason": _STRING,
            "override": {"type": ["object", "null"]},
            "withdrawn_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the story was withdrawn at its source (then it is not "
                "republishable); null while it is offered",
            },
            "withdrawn_reason": _STRING,
            "snippet_url": _STRING,
            "republish_url": _STRING,
        },
    },
    "Snippet": {
        "type": "object",
        "properties": {
            "republishable": {"type": "boolean"},
            "reason": _STRING,
            "html": _STRING,
            "head": _STRING,
            "text": _STRING,
        },
    },
    "Override": {
        "type": "object",
        "properties": {
            "republishable": {"type": ["boolean", "null"]},
            "reason": _STRING,
            "actor": _STRING,
        },
        "required": ["republishable"],
        "additionalProperties": False,
    },
    "StoryPush": {
        "type": "object",
        "description": 'A story payload (see docs/api.md), or {"url": ...} to fetch a page. '
        'With the admin token, add "publisher": SLUG.',
    },
    "Widget": {"type": "object", "description": "What the widget shows (see docs/api.md)."},
    "RevisionDiff": {
        "type": "object",
        "properties": {
            "story_id": _STRING,
            "from": {"type": "integer", "description": "0: compared against nothing"},
            "to": {"type": "integer"},
            "changed": {"type": "boolean"},
            "headline_diff": {**_STRING, "description": "Unified diff; empty if unchanged"},
            "body_diff": {**_STRING, "description": "Unified diff of the story text"},
        },
    },
}


_STATS_AUTH: list[dict[str, list[str]]] = [{"admin": []}, {"publisher": []}, {"session": []}]
_DAYS = _param("days", "query", "Length of the period ending today (UTC): 1-3660, default 30",
               {"type": "integer", "minimum": 1, "maximum": 3660})  # fmt: skip
_FORMAT = _param("format", "query", "json (default) or csv (text/csv with a header row, "
                 "as an attachment)", {"type": "string", "enum": ["json", "csv"]})  # fmt: skip


def _stats(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    operation = _operation(
        summary,
        _json({"type": "object"}, "Statistics (see docs/api.md)"),
        security=_STATS_AUTH,
        parameters=[_SLUG, *parameters, _FORMAT],
    )
    operation["responses"]["200"]["content"]["text/csv"] = {"schema": _STRING}
    return {"get": operation}


def stats_paths() -> dict[str, Any]:
    """The statistics endpoints (dashboard session, admin token or the publisher's token)."""
    base = "/api/v1/stats/{slug}"
    site = _param("site", "path", "Registrable domain of the republishing site", _STRING)
    return {
        f"{base}/overview": _stats(
            "Totals, views per day, top stories and republishers, new republishers", [_DAYS]
        ),
        f"{base}/views": _stats(
            "Views and readers per day, for all stories, one story or one site",
            [
                _DAYS,
                _param("story", "query", "Only this story", _STRING),
                _param("site", "query", "Only this republishing site", _STRING),
            ],
        ),
        f"{base}/stories": _stats("Stories with views over the period", [_DAYS]),
        f"{base}/republishers": _stats("Republishing sites with views over the period", [_DAYS]),
        f"{base}/new-republishers": _stats("Sites first seen in the last 7 days", []),
        f"{base}/stories/{{story_id}}/republications": _stats(
            "Every page a story ran on: first and last seen, views", [_STORY_ID]
        ),
        f"{base}/sites/{{site}}/stories": _stats(
            "The stories one site ran over the period", [site, _DAYS]
        ),
    }


def openapi() -> dict[str, Any]:
    """The OpenAPI document."""
    publisher = _json(_ref("Publisher"), "A publisher")
    story = _json(_ref("Story"), "A story")
    listing = {"type": "object"}
    paths: dict[str, Any] = {
        "/api/v1/openapi.json": {"get": _operation("This document", _json(listing, "OpenAPI"))},
        "/api/v1/publishers": {
            "get": _operation("List publishers", _json(listing, "Publishers"), security=_ADMIN),
            "post": _operation(
                "Create a publisher; the response carries its API token once",
                publisher,
                status="201",
                security=_ADMIN,
                body={"type": "object", "required": ["slug", "name"]},
            ),
        },
        "/api/v1/publishers/{slug}": {
            "get": _operation("Show a publisher", publisher, security=_ADMIN, parameters=[_SLUG]),
            "patch": _operation(
                "Change some fields of a publisher",
                publisher,
                security=_ADMIN,
                parameters=[_SLUG],
                body={"type": "object", "properties": _PUBLISHER_FIELDS},
            ),
        },
        "/api/v1/stories": {
            "get": _operation(
                "List stories, newest first",
                _json(listing, "Stories"),
                parameters=[
                    _param("publisher", "query", "Publisher slug", _STRING),
                    _param("limit", "query", "1-500, default 50", {"type": "integer"}),
                    _param("offset", "query", "default 0", {"type": "integer"}),
                ],
            ),
            "post": _operation(
                "Push a story (201 new, 200 updated or unchanged)",
                story,
                status="201",
                security=_ADMIN_OR_PUBLISHER,
                body=_ref("StoryPush"),
            ),
        },
        "/api/v1/stories/{story_id}": {
            "get": _operation("Show a story", story, parameters=[_STORY_ID]),
        },
        "/api/v1/stories/{story_id}/revisions": {
            "get": _operation(
                "A story's stored revisions", _json(listing, "Revisions"), parameters=[_STORY_ID]
            ),
        },
        "/api/v1/stories/{story_id}/revisions/{revision}/diff": {
            "get": _operation(
                "What changed in a revision: unified diffs of headline and text",
                _json(_ref("RevisionDiff"), "Diff"),
                security=_ADMIN_OR_PUBLISHER,
                parameters=[
                    _STORY_ID,
                    _param("revision", "path", "Revision number (1, 2, ...)", {"type": "integer"}),
                    _param(
                        "against",
                        "query",
                        "Revision to compare with (default: the one before)",
                        {"type": "integer"},
                    ),
                ],
            ),
        },
        "/api/v1/stories/{story_id}/snippet": {
            "get": _operation(
                "The snippet to copy (CORS: any origin)",
                _json(_ref("Snippet"), "Snippet"),
                parameters=[_STORY_ID],
            ),
        },
        "/api/v1/stories/{story_id}/override": {
            "post": _operation(
                "Allow, deny or clear (null) republication of a story",
                story,
                security=_ADMIN_OR_PUBLISHER,
                parameters=[_STORY_ID],
                body=_ref("Override"),
            ),
        },
        "/api/v1/stories/{story_id}/overrides": {
            "get": _operation(
                "A story's override history",
                _json(listing, "Overrides"),
                security=_ADMIN_OR_PUBLISHER,
                parameters=[_STORY_ID],
            ),
        },
        "/api/v1/widget": {
            "get": _operation(
                "What the widget shows for a story (CORS: any origin)",
                _json(_ref("Widget"), "Widget data"),
                parameters=[
                    _param("publisher", "query", "Publisher slug (required)", _STRING),
                    _param("url", "query", "The page's canonical URL", _STRING),
                    _param("story", "query", "Or the story id", _STRING),
                ],
            ),
        },
    }
    paths.update(stats_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "republish", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer", "description": "Admin token"},
                "publisher": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A publisher's API token (rp_...)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "republish_session",
                    "description": "A dashboard login (statistics only)",
                },
            },
        },
    }
