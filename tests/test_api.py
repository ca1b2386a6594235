"""The JSON API: publishers, story push, stories, snippets, overrides; bad input stores nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.routing import Route

from republish import publishers
from republish.config import Settings
from republish.store.db import Database
from republish.store.schema import publishers as publishers_table
from republish.store.schema import stories, story_overrides, story_revisions
from republish.web import _http, create_app
from tests.servers import LoopbackServer, Response
from tests.webclient import ADMIN, WebClient, bearer

STORY_URL = "https://harbor.example/2026/03/ferry-returns"


@pytest.fixture
def token(db: Database) -> str:
    """The API token of publisher ``harbor`` (created here)."""
    _, api_token = publishers.create_publisher(
        db, "harbor", "Harbor Gazette", {"home_url": "https://harbor.example/"}
    )
    return api_token


def counts(db: Database) -> dict[str, int]:
    """Rows per table: compared before and after a refused request."""
    with db.connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (publishers_table, stories, story_revisions, story_overrides)
        }


def payload(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "url": STORY_URL,
        "headline": "The ferry returns to Gull Island",
        "dek": "Two winters without a boat are over.",
        "body_html": "<p>After two winters, the ferry is back.</p><p>Fares stay the same.</p>",
        "bylines": ["Mara Lind", "Olu Adeyemi"],
        "published_at": "2026-03-07T14:30:00Z",
        "section": "Local",
        "tags": ["transport"],
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def push(client: WebClient, token: str, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/stories", json=payload(**changes), headers=bearer(token))
    assert response.status_code in {200, 201}, response.text
    data: dict[str, Any] = response.json()
    return data


def assert_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


# Basics ------------------------------------------------------------------------------


def test_healthz(client: WebClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_openapi_lists_every_api_route(client: WebClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    described = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    routes = [
        route
        for route in client.app.routes
        if isinstance(route, Route) and route.path.startswith("/api/v1")
    ]
    assert routes
    for route in routes:
        for method in route.methods or ():
            if method != "HEAD":
                assert (route.path, method) in described, (route.path, method)


def test_unknown_api_path_and_method_answer_json(client: WebClient) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404)
    assert_error(client.request("DELETE", "/api/v1/stories"), 405)


def test_startup_refuses_an_unmigrated_database(tmp_path: Any) -> None:
    from republish.store.db import DatabaseError

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(DatabaseError):
        with WebClient(create_app(settings)):
            pass


def test_extra_routes_come_first(settings: Settings, db: Database) -> None:
    from starlette.responses import PlainTextResponse

    def sample(request: Any) -> PlainTextResponse:
        return PlainTextResponse("sample page")

    app = create_app(settings, database=db, extra_routes=[Route("/healthz", sample)])
    with WebClient(app) as web:
        assert web.get("/healthz").text == "sample page"


# Publishers (admin) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/publishers"),
        ("POST", "/api/v1/publishers"),
        ("GET", "/api/v1/publishers/harbor"),
        ("PATCH", "/api/v1/publishers/harbor"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong"), {"Authorization": "Basic dGVzdA=="}, {"Authorization": "Bearer "}],
    ids=["none", "wrong", "basic", "empty"],
)
def test_admin_routes_need_the_admin_token(
    client: WebClient, db: Database, token: str, method: str, path: str, headers: dict[str, str]
) -> None:
    before = counts(db)
    for extra in (headers, bearer(token)):  # a publisher's token is no admin token either
        response = client.request(method, path, json={"slug": "x", "name": "X"}, headers=extra)
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert counts(db) == before


def test_admin_routes_closed_without_configured_token(settings: Settings, db: Database) -> None:
    with WebClient(create_app(settings.replace(admin_token=None), database=db)) as web:
        assert_error(web.get("/api/v1/publishers", headers=bearer("")), 401)
        assert_error(web.get("/api/v1/publishers", headers=bearer("None")), 401)
        assert_error(web.get("/api/v1/publishers", headers=ADMIN), 401)


def test_publisher_create_list_show_patch(client: WebClient, db: Database) -> None:
    response = client.post(
        "/api/v1/publishers",
        json={
            "slug": "harbor",
            "name": "Harbor Gazette",
            "licence": "CC-BY-4.0",
            "excluded_sections": ["Opinion"],
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["api_token"].startswith("rp_")
    assert created["licence"] == "CC-BY-4.0" and created["excluded_sections"] == ["Opinion"]
    # The token works for pushing, and is never shown again.
    assert publishers.publisher_for_token(db, created["api_token"]) is not None
    listed = client.get("/api/v1/publishers", headers=ADMIN).json()["publishers"]
    assert [p["slug"] for p in listed] == ["harbor"]
    assert "api_token" not in listed[0]
    shown = client.get("/api/v1/publishers/harbor", headers=ADMIN).json()
    assert shown["name"] == "Harbor Gazette" and "api_token" not in shown
    patched = client.patch(
        "/api/v1/publishers/harbor",
        json={"show_reason": False, "contact_email": "desk@harbor.example"},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["show_reason"] is False
    assert client.get("/api/v1/publishers/harbor", headers=ADMIN).json()["contact_email"] == (
        "desk@harbor.example"
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'"harbor"', 400),
        (b"", 400),
        (b'{"slug": "x", "name": NaN}', 400),
        (b"\xff\xfe", 400),
        (json.dumps({"name": "No Slug"}).encode(), 422),
        (json.dumps({"slug": "ok"}).encode(), 422),
        (json.dumps({"slug": "Bad Slug!", "name": "X"}).encode(), 422),
        (json.dumps({"slug": "ok", "name": "X", "colour": "red"}).encode(), 422),
        (json.dumps({"slug": "ok", "name": "X", "licence": "WTFPL"}).encode(), 422),
        (json.dumps({"slug": "ok", "name": "X", "home_url": "javascript:x"}).encode(), 422),
        (json.dumps({"slug": "ok", "name": "X", "credit_template": "{nope}"}).encode(), 422),
        (json.dumps({"slug": "ok", "name": "X", "show_reason": "maybe"}).encode(), 422),
        (json.dumps({"slug": "ok", "name": 7}).encode(), 422),
        (json.dumps({"slug": "harbor", "name": "Again"}).encode(), 409),
    ],
)
def test_publisher_create_bad_input_stores_nothing(
    client: WebClient, db: Database, token: str, body: bytes, status: int
) -> None:
    before = counts(db)
    response = client.post(
        "/api/v1/publishers",
        content=body,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert_error(response, status)
    assert counts(db) == before


def test_publisher_create_wrong_content_type(client: WebClient, db: Database) -> None:
    before = counts(db)
    response = client.post(
        "/api/v1/publishers",
        content=b"slug=x&name=X",
        headers={**ADMIN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415)
    assert_error(client.post("/api/v1/publishers", content=b"{}", headers=ADMIN), 415)
    assert counts(db) == before


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/publishers/nobody", {"name": "X"}, 404),
        ("/api/v1/publishers/harbor", {"licence": "WTFPL"}, 422),
        ("/api/v1/publishers/harbor", {"slug": "renamed"}, 422),
        ("/api/v1/publishers/harbor", {"name": "X", "domains": [1, 2]}, 422),
        ("/api/v1/publishers/harbor", {"api_token_sha256": "0" * 64}, 422),
    ],
)
def test_publisher_patch_bad_input_changes_nothing(
    client: WebClient, db: Database, token: str, path: str, body: Any, status: int
) -> None:
    before = client.get("/api/v1/publishers/harbor", headers=ADMIN).json()
    assert_error(client.patch(path, json=body, headers=ADMIN), status)
    assert client.get("/api/v1/publishers/harbor", headers=ADMIN).json() == before
    assert publishers.publisher_for_token(db, token) is not None


def test_publisher_show_unknown(client: WebClient) -> None:
    assert_error(client.get("/api/v1/publishers/nobody", headers=ADMIN), 404)


# Pushing stories ---------------------------------------------------------------------


def test_push_new_unchanged_updated(client: WebClient, db: Database, token: str) -> None:
    response = client.post("/api/v1/stories", json=payload(), headers=bearer(token))
    assert response.status_code == 201, response.text
    story = response.json()
    assert story["publisher"] == "harbor"
    assert story["canonical_url"] == STORY_URL
    assert story["bylines"] == ["Mara Lind", "Olu Adeyemi"]
    assert story["published_at"] == "2026-03-07T14:30:00+00:00"
    assert (story["revision"], story["republishable"], story["override"]) == (1, True, None)
    assert story["snippet_url"] == f"http://127.0.0.1:8000/api/v1/stories/{story['id']}/snippet"
    assert story["republish_url"] == f"http://127.0.0.1:8000/republish/{story['id']}"
    for key in ("dek", "section", "tags", "origin", "origin_evidence", "reason", "updated_at"):
        assert key in story

    again = client.post("/api/v1/stories", json=payload(), headers=bearer(token))
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["revision"]) == (story["id"], 1)

    changed = client.post(
        "/api/v1/stories",
        json=payload(body_html="<p>The ferry is back, and fares are lower.</p>"),
        headers=bearer(token),
    )
    assert changed.status_code == 200
    assert (changed.json()["id"], changed.json()["revision"]) == (story["id"], 2)
    assert counts(db)["story_revisions"] == 2


def test_push_with_admin_token_names_the_publisher(client: WebClient, token: str) -> None:
    response = client.post(
        "/api/v1/stories", json={**payload(), "publisher": "harbor"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    assert response.json()["publisher"] == "harbor"


def test_push_wire_story_is_stored_but_not_offered(client: WebClient, token: str) -> None:
    story = push(client, token, body_html="<p>GULL ISLAND (AP) — The ferry is back.</p>")
    assert story["origin"] == "AP"
    assert story["republishable"] is False and "AP" in story["reason"]
    snippet = client.get(f"/api/v1/stories/{story['id']}/snippet").json()
    assert snippet == {
        "republishable": False,
        "reason": story["reason"],
        "html": "",
        "head": "",
        "text": "",
    }


@pytest.mark.parametrize(
    ("headers", "extra", "status"),
    [
        ({}, {}, 401),
        (bearer("rp_not-a-real-token"), {}, 401),
        (bearer("test-admin-token-but-longer"), {"publisher": "harbor"}, 401),
        (ADMIN, {}, 422),
        (ADMIN, {"publisher": "nobody"}, 404),
        (ADMIN, {"publisher": ["harbor"]}, 422),
        ("token", {"publisher": "other"}, 403),
    ],
    ids=["no-token", "wrong-token", "near-admin", "admin-no-publisher", "admin-unknown",
         "admin-bad-publisher", "other-publisher"],
)  # fmt: skip
def test_push_auth_failures_store_nothing(
    client: WebClient,
    db: Database,
    token: str,
    headers: Any,
    extra: dict[str, Any],
    status: int,
) -> None:
    publishers.create_publisher(db, "other", "Other Paper")
    if headers == "token":
        headers = bearer(token)
    before = counts(db)
    assert_error(
        client.post("/api/v1/stories", json={**payload(), **extra}, headers=headers), status
    )
    assert counts(db) == before


BAD_PUSHES: list[tuple[str, Any, int]] = [
    ("malformed", b'{"url": ', 400),
    ("array", b"[]", 400),
    ("null", b"null", 400),
    ("nan", b'{"headline": Infinity}', 400),
    ("deep", b"[" * 100_000 + b"]" * 100_000, 400),
    ("unknown-field", payload(colour="red"), 422),
    ("no-headline", payload(headline=""), 422),
    ("headline-type", payload(headline=["x"]), 422),
    ("no-body", payload(body_html=None), 422),
    ("script-only-body", payload(body_html="<script>alert(1)</script>"), 422),
    ("no-url", payload(url=None), 422),
    ("bad-url", payload(url="javascript:alert(1)"), 422),
    ("relative-url", payload(url="/2026/ferry"), 422),
    ("bad-date", payload(published_at="last Tuesday"), 422),
    ("bad-tags", payload(tags="transport"), 422),
    ("bad-bylines", payload(bylines=[1]), 422),
    ("long-headline", payload(headline="x" * 5000), 422),
]


@pytest.mark.parametrize(("body", "status"), [(b, s) for _, b, s in BAD_PUSHES],
                         ids=[name for name, _, _ in BAD_PUSHES])  # fmt: skip
def test_push_bad_input_stores_nothing(
    client: WebClient, db: Database, token: str, body: Any, status: int
) -> None:
    before = counts(db)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(
        "/api/v1/stories",
        content=raw,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert_error(response, status)
    assert counts(db) == before


def test_push_wrong_content_type_and_oversized_body(
    client: WebClient, db: Database, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(db)
    form = client.post("/api/v1/stories", data={"url": STORY_URL}, headers=bearer(token))
    assert_error(form, 415)
    monkeypatch.setattr(_http, "MAX_BODY_BYTES", 1000)
    big = payload(body_html="<p>" + "word " * 1000 + "</p>")
    assert_error(client.post("/api/v1/stories", json=big, headers=bearer(token)), 413)

    async def chunks() -> Any:  # no Content-Length: the limit applies while reading
        for _ in range(10):
            yield b" " * 500

    streamed = client.post(
        "/api/v1/stories",
        content=chunks(),
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert_error(streamed, 413)
    assert counts(db) == before


ARTICLE = """<!doctype html><html><head><title>Lighthouse keeper retires</title>
<link rel="canonical" href="{url}">
<meta property="og:title" content="Lighthouse keeper retires after 40 years">
<meta name="author" content="Ines Okafor">
<meta property="article:published_time" content="2026-02-01T09:00:00Z">
</head><body><article><h1>Lighthouse keeper retires after 40 years</h1>
<p class="byline">By Ines Okafor</p>
<p>For four decades, Tomas Vey climbed the 112 steps of the Gull Point light every evening.</p>
<p>On Friday he climbed them for the last time, watched by neighbours who brought soup.</p>
<p>The light is automatic now, but the town council says the keeper's cottage will stay open
as a small museum about the island's fishing families.</p>
</article></body></html>"""


def test_push_by_url_fetches_the_page(
    client: WebClient, db: Database, token: str, http_server: LoopbackServer
) -> None:
    url = http_server.url("/2026/lighthouse")
    http_server.route("/2026/lighthouse", Response(200, ARTICLE.format(url=url).encode()))
    response = client.post("/api/v1/stories", json={"url": url}, headers=bearer(token))
    assert response.status_code == 201, response.text
    story = response.json()
    assert story["canonical_url"] == url
    assert story["headline"].startswith("Lighthouse keeper retires")
    with db.connect() as conn:
        source = conn.execute(sa.select(story_revisions.c.source)).scalar_one()
    assert source == "url"


def test_push_by_url_failures_store_nothing(
    client: WebClient, db: Database, token: str, http_server: LoopbackServer
) -> None:
    before = counts(db)
    missing = http_server.url("/gone")
    for body in ({"url": missing}, {"url": "ftp://harbor.example/x"}, {"url": 42}):
        assert_error(client.post("/api/v1/stories", json=body, headers=bearer(token)), 422)
    assert counts(db) == before


# Reading stories ---------------------------------------------------------------------


def test_list_get_revisions_snippet(client: WebClient, db: Database, token: str) -> None:
    first = push(client, token)
    second = push(
        client,
        token,
        url="https://harbor.example/2026/04/bridge",
        published_at="2026-04-01T08:00:00Z",
    )
    push(client, token, url=STORY_URL, body_html="<p>Updated: the ferry is back.</p>")
    _, other_token = publishers.create_publisher(db, "other", "Other Paper")
    push(client, other_token, url="https://other.example/a")

    everything = client.get("/api/v1/stories").json()
    assert (everything["limit"], everything["offset"]) == (50, 0)
    assert len(everything["stories"]) == 3
    harbor = client.get("/api/v1/stories", params={"publisher": "harbor"}).json()["stories"]
    assert [s["id"] for s in harbor] == [second["id"], first["id"]]  # newest first
    page = client.get("/api/v1/stories", params={"publisher": "harbor", "limit": 1, "offset": 1})
    assert [s["id"] for s in page.json()["stories"]] == [first["id"]]

    shown = client.get(f"/api/v1/stories/{first['id']}").json()
    assert (shown["id"], shown["revision"]) == (first["id"], 2)
    assert "body_html" not in shown

    revisions = client.get(f"/api/v1/stories/{first['id']}/revisions").json()
    assert revisions["story_id"] == first["id"]
    assert [r["revision"] for r in revisions["revisions"]] == [1, 2]
    assert {r["source"] for r in revisions["revisions"]} == {"push"}

    response = client.get(f"/api/v1/stories/{first['id']}/snippet")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=60"
    assert "access-control-allow-credentials" not in response.headers
    snippet = response.json()
    assert set(snippet) == {"republishable", "reason", "html", "head", "text"}
    assert snippet["republishable"] is True
    assert "Updated: the ferry is back." in snippet["html"]
    assert f"/p/{first['id']}.gif" in snippet["html"]
    assert snippet["head"] == f'<link rel="canonical" href="{STORY_URL}">'


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"limit": "0"}, 422),
        ({"limit": "501"}, 422),
        ({"limit": "ten"}, 422),
        ({"offset": "-1"}, 422),
        ({"publisher": "nobody"}, 404),
    ],
)
def test_list_bad_query(client: WebClient, query: dict[str, str], status: int) -> None:
    assert_error(client.get("/api/v1/stories", params=query), status)


@pytest.mark.parametrize("suffix", ["", "/revisions", "/snippet", "/overrides"])
def test_unknown_story(client: WebClient, suffix: str) -> None:
    assert_error(client.get(f"/api/v1/stories/nosuchstory{suffix}", headers=ADMIN), 404)


# Overrides ---------------------------------------------------------------------------


def test_override_allow_deny_clear_with_history(client: WebClient, token: str) -> None:
    story = push(client, token, body_html="<p>GULL ISLAND (AP) — The ferry is back.</p>")
    assert story["republishable"] is False
    path = f"/api/v1/stories/{story['id']}/override"

    allowed = client.post(
        path,
        json={"republishable": True, "reason": "Licensed from AP", "actor": "ana@harbor.example"},
        headers=ADMIN,
    )
    assert allowed.status_code == 200, allowed.text
    body = allowed.json()
    assert body["republishable"] is True
    assert body["override"]["actor"] == "ana@harbor.example"
    assert client.get(f"/api/v1/stories/{story['id']}/snippet").json()["republishable"]

    denied = client.post(
        path, json={"republishable": False, "reason": "Legal hold"}, headers=bearer(token)
    )
    assert denied.json()["republishable"] is False
    assert denied.json()["reason"] == "Legal hold"
    assert denied.json()["override"]["actor"] == "publisher:harbor"

    cleared = client.post(path, json={"republishable": None, "reason": "Done"}, headers=ADMIN)
    assert cleared.json()["override"] is None
    assert cleared.json()["republishable"] is False  # the policy decides again: AP

    history = client.get(f"/api/v1/stories/{story['id']}/overrides", headers=bearer(token))
    assert history.status_code == 200
    entries = history.json()["overrides"]
    assert [(e["republishable"], e["reason"]) for e in entries] == [
        (True, "Licensed from AP"),
        (False, "Legal hold"),
        (None, "Done"),
    ]
    assert all(e["at"] for e in entries)


@pytest.mark.parametrize(
    ("auth", "body", "status"),
    [
        ("none", {"republishable": True}, 401),
        ("wrong", {"republishable": True}, 401),
        ("other", {"republishable": True}, 403),
        ("admin", {}, 422),
        ("admin", {"republishable": "yes"}, 422),
        ("admin", {"republishable": 1}, 422),
        ("admin", {"republishable": True, "reason": 5}, 422),
        ("admin", {"republishable": True, "reason": "x" * 2001}, 422),
        ("admin", {"republishable": True, "actor": ""}, 422),
        ("admin", {"republishable": True, "actor": "x" * 201}, 422),
        ("admin", {"republishable": True, "until": "2027-01-01"}, 422),
        ("admin", [True], 400),
    ],
)
def test_override_bad_requests_store_nothing(
    client: WebClient, db: Database, token: str, auth: str, body: Any, status: int
) -> None:
    story = push(client, token)
    _, other_token = publishers.create_publisher(db, "other", "Other Paper")
    headers = {
        "none": {},
        "wrong": bearer("rp_wrong"),
        "other": bearer(other_token),
        "admin": ADMIN,
    }[auth]
    before = counts(db)
    path = f"/api/v1/stories/{story['id']}/override"
    assert_error(client.post(path, json=body, headers=headers), status)
    assert counts(db) == before
    assert client.get(f"/api/v1/stories/{story['id']}").json()["override"] is None


def test_override_unknown_story(client: WebClient, db: Database) -> None:
    before = counts(db)
    response = client.post(
        "/api/v1/stories/nosuchstory/override", json={"republishable": True}, headers=ADMIN
    )
    assert_error(response, 404)
    assert counts(db) == before


def test_override_history_needs_a_token(client: WebClient, db: Database, token: str) -> None:
    story = push(client, token)
    _, other_token = publishers.create_publisher(db, "other", "Other Paper")
    path = f"/api/v1/stories/{story['id']}/overrides"
    assert_error(client.get(path), 401)
    assert_error(client.get(path, headers=bearer(other_token)), 403)
    assert client.get(path, headers=ADMIN).json() == {"story_id": story["id"], "overrides": []}


# Input only the database refuses -------------------------------------------------------


def test_nul_characters_are_refused(client: WebClient, db: Database, token: str) -> None:
    before = counts(db)
    for changes in ({"headline": "Ferry\x00"}, {"tags": ["a\x00"]}, {"section": "\x00"}):
        response = client.post("/api/v1/stories", json=payload(**changes), headers=bearer(token))
        assert_error(response, 422)
    publisher = {"slug": "nul", "name": "N\x00"}
    assert_error(client.post("/api/v1/publishers", json=publisher, headers=ADMIN), 422)
    assert counts(db) == before
    assert_error(client.get("/api/v1/stories/ab%00cd"), 400)
    assert_error(client.get("/api/v1/widget?publisher=harbor&url=https://h.example/%00"), 400)
    assert client.get("/republish/ab%00cd").status_code == 400


def test_values_too_long_for_a_column_are_422_not_500(
    client: WebClient, db: Database, token: str
) -> None:
    # Validation knows the column sizes, so every database answers the same clear 422.
    before = counts(db)
    response = client.post(
        "/api/v1/stories", json=payload(section="s" * 500), headers=bearer(token)
    )
    long_home = {"slug": "long", "name": "L", "home_url": "https://x.example/" + "a" * 3000}
    created = client.post("/api/v1/publishers", json=long_home, headers=ADMIN)
    assert_error(response, 422)
    assert "section" in response.json()["error"]
    assert_error(created, 422)
    assert "home_url" in created.json()["error"]
    assert counts(db) == before


# The pixel inside the app ------------------------------------------------------------


def test_pixel_is_served_when_given(settings: Settings, db: Database, tmp_path: Any) -> None:
    from republish.pixel.app import GIF, PixelApp

    log_dir = tmp_path / "hits"
    with WebClient(create_app(settings, database=db, pixel=PixelApp(log_dir))) as web:
        human = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko Firefox/128.0"}
        for path in ("/p/k3x9q2m7ab.gif", "/p/not/a/story", "/p/%00.gif"):
            response = web.get(path, headers=human)
            assert (response.status_code, response.content) == (200, GIF), path
            assert response.headers["content-type"] == "image/gif"
        assert web.get("/healthz").json() == {"ok": True}
    # Stopping the app stopped the pixel: its hit log segment is sealed, with our hits.
    sealed = list((log_dir / "segments").glob("*.seg"))
    assert len(sealed) == 1 and not list((log_dir / "segments").glob("*.open"))
    assert b"k3x9q2m7ab" in sealed[0].read_bytes()


def test_no_pixel_unless_given(client: WebClient) -> None:
    assert client.get("/p/k3x9q2m7ab.gif").status_code == 404


def test_push_by_url_goes_through_the_fetch_guard(
    settings: Settings, db: Database, token: str, http_server: LoopbackServer
) -> None:
    # Without the test-only allowance, loopback is refused before any request is made.
    url = http_server.url("/2026/lighthouse")
    http_server.route("/2026/lighthouse", Response(200, ARTICLE.format(url=url).encode()))
    guarded = settings.replace(fetch_allow=())
    before = counts(db)
    with WebClient(create_app(guarded, database=db)) as web:
        response = web.post("/api/v1/stories", json={"url": url}, headers=bearer(token))
    assert_error(response, 422)
    assert counts(db) == before
    assert http_server.requests == []
