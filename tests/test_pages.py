"""HTML pages: the standalone republish page, the lookup redirect, guidelines, widget data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lxml.html
import pytest

from republish import publishers
from republish.store.db import Database
from republish.web import widget
from tests.webclient import ADMIN, WebClient, bearer

STORY_URL = "https://harbor.example/2026/03/ferry-returns"


@pytest.fixture
def token(db: Database) -> str:
    _, api_token = publishers.create_publisher(
        db,
        "harbor",
        "Harbor Gazette",
        {"home_url": "https://harbor.example/", "contact_email": "desk@harbor.example"},
    )
    return api_token


def push(client: WebClient, token: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": STORY_URL,
        "headline": "The ferry returns to Gull Island",
        "body_html": "<p>After two winters, the ferry is back.</p><h2>Fares</h2><p>Same.</p>",
        "bylines": ["Mara Lind"],
        "published_at": "2026-03-07T14:30:00Z",
    }
    body.update(changes)
    response = client.post("/api/v1/stories", json=body, headers=bearer(token))
    assert response.status_code in {200, 201}, response.text
    data: dict[str, Any] = response.json()
    return data


def html_of(response: Any) -> lxml.html.HtmlElement:
    assert response.headers["content-type"].startswith("text/html")
    return lxml.html.document_fromstring(response.text)


def assert_page_headers(response: Any) -> None:
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


def test_republish_page(client: WebClient, token: str) -> None:
    story = push(client, token)
    response = client.get(f"/republish/{story['id']}")
    assert response.status_code == 200
    assert_page_headers(response)
    page = html_of(response)
    assert page.xpath("//meta[@name='robots']/@content") == ["noindex"]
    assert page.xpath("//link[@rel='canonical']/@href") == [STORY_URL]
    assert len(page.xpath("//h1")) == 1
    assert len(page.xpath("//main")) == 1
    assert not page.xpath("//script")
    # Each textarea is read-only and labelled; their text is exactly what the API gives.
    snippet = client.get(f"/api/v1/stories/{story['id']}/snippet").json()
    areas = {area.get("id"): area for area in page.xpath("//textarea")}
    assert set(areas) == {"snippet-html", "snippet-head", "snippet-text"}
    for key, area in zip(("html", "head", "text"), areas.values(), strict=True):
        assert area.get("readonly") is not None
        assert page.xpath(f"//label[@for='{area.get('id')}']")
        assert area.text_content() == snippet[key]
    # The preview shows the story but never loads the pixel (a preview is not a read).
    assert not page.xpath("//img")
    preview = page.xpath("//div[@class='preview']")[0].text_content()
    assert "After two winters, the ferry is back." in preview
    assert page.xpath("//a[@href='http://127.0.0.1:8000/guidelines/harbor']")
    assert "Creative Commons" in page.text_content()


def test_republish_page_for_a_refused_story(client: WebClient, db: Database, token: str) -> None:
    story = push(client, token, body_html="<p>GULL ISLAND (AP) — The ferry is back.</p>")
    page = html_of(client.get(f"/republish/{story['id']}"))
    assert not page.xpath("//textarea")
    assert story["reason"] in page.text_content()
    assert len(page.xpath("//h1")) == 1

    publishers.edit_publisher(db, "harbor", {"show_reason": False})
    response = client.get(f"/republish/{story['id']}")
    assert response.status_code == 200
    hidden = html_of(response)
    assert story["reason"] not in hidden.text_content()
    assert "does not offer this story" in hidden.text_content()


def test_republish_page_unknown_story(client: WebClient) -> None:
    response = client.get("/republish/nosuchstory")
    assert response.status_code == 404
    assert_page_headers(response)
    assert html_of(response).xpath("//h1")


def test_republish_lookup_redirects(client: WebClient, token: str) -> None:
    story = push(client, token)
    response = client.get(
        "/republish",
        params={"publisher": "harbor", "url": "http://www.harbor.example/2026/03/ferry-returns/"},
    )
    assert response.status_code == 302
    assert response.headers["location"] == f"/republish/{story['id']}"
    for params in (
        {"publisher": "harbor", "url": "https://harbor.example/other"},
        {"publisher": "nobody", "url": STORY_URL},
        {"publisher": "harbor", "url": "not a url"},
    ):
        assert client.get("/republish", params=params).status_code == 404
    assert client.get("/republish", params={"publisher": "harbor"}).status_code == 400


def test_default_guidelines_come_from_the_policy(client: WebClient, token: str) -> None:
    response = client.get("/guidelines/harbor")
    assert response.status_code == 200
    assert_page_headers(response)
    page = html_of(response)
    assert len(page.xpath("//h1")) == 1
    text = page.text_content()
    for expected in ("Credit Harbor Gazette", "tracking image", "canonical link", "photos"):
        assert expected in text, expected
    assert "Reuters" in text  # the publisher's excluded origins
    assert page.xpath("//a[@href='mailto:desk@harbor.example']")
    assert page.xpath("//a[@href='http://127.0.0.1:8000/guidelines/harbor/canonical']")


def test_publisher_guidelines_markdown_is_sanitized(client: WebClient, token: str) -> None:
    markdown = (
        "# Our rules\n\nPlease *credit* us. [Write](mailto:desk@harbor.example)\n\n"
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
        "[click](javascript:alert(3)) ![pic](https://harbor.example/a.png)\n\n"
        '<a href="https://evil.example" onclick="x()">raw link</a>\n'
    )
    response = client.patch(
        "/api/v1/publishers/harbor", json={"guidelines_md": markdown}, headers=ADMIN
    )
    assert response.status_code == 200
    page = html_of(client.get("/guidelines/harbor"))
    main = page.xpath("//main")[0]
    assert [h.text_content() for h in main.xpath(".//h1")] == [
        "Republishing guidelines: Harbor Gazette"
    ]
    assert main.xpath(".//h2")[0].text_content() == "Our rules"
    assert main.xpath(".//em")[0].text_content() == "credit"
    assert not page.xpath("//script | //img | //*[@onclick] | //*[@onerror]")
    hrefs = page.xpath("//main//a/@href")
    assert "mailto:desk@harbor.example" in hrefs
    assert all(href.startswith(("http://", "https://", "mailto:")) for href in hrefs)
    assert "https://evil.example" not in hrefs
    assert "<script>alert(1)</script>" in main.text_content()  # shown as text, not run


def test_canonical_guide(client: WebClient, token: str) -> None:
    page = html_of(client.get("/guidelines/harbor/canonical"))
    text = page.text_content()
    assert '<link rel="canonical"' in text
    for cms in ("WordPress", "Drupal", "Ghost"):
        assert cms in text
    client.patch(
        "/api/v1/publishers/harbor",
        json={"canonical_guide_md": "Ask **Sam** on the web desk."},
        headers=ADMIN,
    )
    custom = html_of(client.get("/guidelines/harbor/canonical"))
    assert custom.xpath("//strong")[0].text_content() == "Sam"
    assert "WordPress" not in custom.text_content()


def test_guidelines_unknown_publisher(client: WebClient) -> None:
    assert client.get("/guidelines/nobody").status_code == 404
    assert client.get("/guidelines/nobody/canonical").status_code == 404


def test_unknown_page_is_html_404(client: WebClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert_page_headers(response)


def test_stylesheet(client: WebClient) -> None:
    response = client.get("/static/republish.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "textarea" in response.text


# Widget data and assets --------------------------------------------------------------


def test_widget_finds_a_story_by_url_or_id(client: WebClient, token: str) -> None:
    story = push(client, token)
    response = client.get(
        "/api/v1/widget",
        params={"publisher": "harbor", "url": STORY_URL + "?utm_source=newsletter#comments"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    data = response.json()
    snippet = client.get(f"/api/v1/stories/{story['id']}/snippet").json()
    assert data["found"] is True and data["show"] is True and data["republishable"] is True
    assert (data["story_id"], data["headline"]) == (story["id"], story["headline"])
    assert (data["html"], data["head"], data["text"]) == (
        snippet["html"],
        snippet["head"],
        snippet["text"],
    )
    assert data["publisher"] == {"name": "Harbor Gazette", "slug": "harbor"}
    assert data["guidelines_url"] == "http://127.0.0.1:8000/guidelines/harbor"
    assert data["canonical_guide_url"] == "http://127.0.0.1:8000/guidelines/harbor/canonical"
    assert data["republish_url"] == f"http://127.0.0.1:8000/republish/{story['id']}"
    assert data["contact_email"] == "desk@harbor.example"
    assert "Harbor Gazette" in data["guidelines_summary"]
    by_id = client.get("/api/v1/widget", params={"publisher": "harbor", "story": story["id"]})
    assert by_id.json() == data


def test_widget_refused_story_shows_or_hides_the_reason(
    client: WebClient, db: Database, token: str
) -> None:
    story = push(client, token, body_html="<p>GULL ISLAND (AP) — The ferry is back.</p>")
    params = {"publisher": "harbor", "url": STORY_URL}
    shown = client.get("/api/v1/widget", params=params).json()
    assert (shown["found"], shown["republishable"], shown["show"]) == (True, False, True)
    assert shown["reason"] == story["reason"] and shown["html"] == ""
    publishers.edit_publisher(db, "harbor", {"show_reason": False})
    hidden = client.get("/api/v1/widget", params=params).json()
    assert (hidden["found"], hidden["show"], hidden["reason"]) == (True, False, None)


def test_widget_story_not_found(client: WebClient, db: Database, token: str) -> None:
    _, other_token = publishers.create_publisher(db, "other", "Other Paper")
    elsewhere = push(client, other_token, url="https://other.example/a")
    for params in (
        {"publisher": "harbor", "url": "https://harbor.example/not-ingested"},
        {"publisher": "harbor", "story": "nosuchstory"},
        {"publisher": "harbor", "story": elsewhere["id"]},  # another publisher's story
    ):
        response = client.get("/api/v1/widget", params=params)
        assert response.status_code == 200
        data = response.json()
        assert (data["found"], data["show"], data["story_id"], data["html"]) == (
            False,
            False,
            None,
            "",
        )
        assert data["publisher"]["slug"] == "harbor"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"publisher": "nobody", "url": STORY_URL}, 404),
        ({"url": STORY_URL}, 422),
        ({"publisher": "harbor"}, 422),
        ({"publisher": "harbor", "url": "javascript:alert(1)"}, 422),
    ],
)
def test_widget_bad_queries(
    client: WebClient, token: str, params: dict[str, str], status: int
) -> None:
    response = client.get("/api/v1/widget", params=params)
    assert response.status_code == status
    assert response.json()["error"]


@pytest.mark.parametrize(("name", "kind"), [("widget.js", "javascript"), ("widget.css", "css")])
def test_widget_assets(client: WebClient, name: str, kind: str) -> None:
    response = client.get(f"/{name}")
    if not (widget.ASSETS_DIR / name).is_file():
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert kind in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.content == (widget.ASSETS_DIR / name).read_bytes()


def test_widget_asset_missing(
    client: WebClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget, "ASSETS_DIR", tmp_path)
    assert client.get("/widget.js").status_code == 404
    (tmp_path / "widget.css").write_text(".rp{}", encoding="utf-8")
    assert client.get("/widget.css").text == ".rp{}"


def test_widget_errors_are_readable_cross_origin(client: WebClient) -> None:
    for path in ("/api/v1/widget?publisher=nobody&url=https://a.example/", "/api/v1/widget"):
        response = client.get(path)
        assert response.status_code in {404, 422}
        assert response.headers["access-control-allow-origin"] == "*"
    missing = client.get("/api/v1/stories/nosuchstory/snippet")
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "*"
    admin = client.get("/api/v1/publishers")
    assert admin.status_code == 401 and "access-control-allow-origin" not in admin.headers
