"""Every XSS vector in ../shared/data/security/xss, pushed through the API into a snippet.

Each vector goes in as a story body (between two harmless paragraphs) and, where it
fits, as headline, dek, byline and tag. The snippet HTML the API returns, its head tag
and the standalone republish page are parsed the way a browser would (html5lib) and
must hold these invariants:

- no script-capable or embedding element (script, style, iframe, svg, form, ...);
- the only ``<img>`` is our pixel with exactly our attributes;
- no attribute but ``a@href``, ``time@datetime`` and the pixel's own: so no ``on*``
  handler and no ``style`` except the pixel's;
- every link is http, https or mailto after browser-style URL clean-up.

One test per corpus file; a failure lists the vectors that broke an invariant.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import html5lib
import lxml.html
import pytest

from republish import publishers
from republish.config import Settings
from republish.ingest.run import ingest_file
from republish.snippet import render_snippet
from republish.snippet.render import PIXEL_STYLE
from republish.store import publishers as publisher_store
from republish.store.db import Database
from tests.webclient import WebClient, bearer

pytestmark = pytest.mark.shared

XSS = Path("data") / "security" / "xss"
FORBIDDEN = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "form",
    "meta",
    "link",
    "base",
    "frame",
    "frameset",
    "applet",
    "template",
    "input",
    "button",
    "textarea",
    "select",
    "video",
    "audio",
    "source",
    "picture",
    "noscript",
    "xmp",
    "plaintext",
    "noembed",
    "noframes",
    "isindex",
    "marquee",
    "bgsound",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "time": {"datetime"}}
SAFE_SCHEMES = {"http", "https", "mailto"}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")

Vector = tuple[str, str]  # (label for the failure report, payload)


# Corpora -----------------------------------------------------------------------------


def _dompurify(root: Path) -> list[Vector]:
    cases = json.loads((root / "dompurify-fixtures" / "expect.json").read_text("utf-8"))
    return [
        (f"dompurify #{i} {case.get('title', '')[:50]}", case["payload"])
        for i, case in enumerate(cases)
    ]


def _html5lib(root: Path) -> list[Vector]:
    cases = json.loads((root / "html5lib-sanitizer" / "tests1.json").read_text("utf-8"))
    return [(f"html5lib {case['name']}", case["input"]) for case in cases]


def _html5sec_items(root: Path) -> list[Vector]:
    data = json.loads((root / "html5sec" / "items.json").read_text("utf-8"))
    return [
        (f"html5sec #{item['id']} {item['name'][:40]}", item["vector"]) for item in data["items"]
    ]


def _html5sec_dump(root: Path) -> list[Vector]:
    text = (root / "html5sec" / "vectors.txt").read_text("utf-8", errors="replace")
    parts = re.split(r'(?=<div id="\d+">)', text)
    vectors = [(f"html5sec vectors.txt part {i}", part) for i, part in enumerate(parts) if part]
    return vectors + [("html5sec vectors.txt whole", text)]


def _bleach(root: Path) -> list[Vector]:
    vectors = []
    for path in sorted((root / "bleach-xss-data").glob("*.test")):
        hostile = path.read_text("utf-8").split("\n--\n", 1)[0]
        vectors.append((f"bleach {path.name}", hostile))
    return vectors


def _owasp(root: Path) -> list[Vector]:
    text = (root / "owasp-xss-filter-evasion" / "XSS_Filter_Evasion_Cheat_Sheet.md").read_text(
        "utf-8"
    )
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    return [(f"owasp block {i}", block) for i, block in enumerate(blocks)]


def _payloads(root: Path, name: str) -> list[Vector]:
    path = root / "payloadsallthethings" / name
    lines = path.read_text("utf-8", errors="replace").splitlines()
    vectors: list[Vector] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        vectors.append((f"{name}:{number}", line))
        if "event_handlers" in name:
            # Lists of handler names: try each one as an attribute.
            handler = line.strip()
            vectors.append(
                (
                    f"{name}:{number} as attribute",
                    f'<p {handler}="alert(1)">x</p><a href="https://a.example" {handler}=alert(1)>'
                    f"y</a><img src=x {handler}=alert(1)><body {handler}=alert(1)>",
                )
            )
    return vectors


PAYLOAD_FILES = (
    "0xcela_event_handlers.txt",
    "BRUTELOGIC-XSS-JS.txt",
    "BRUTELOGIC-XSS-STRINGS.txt",
    "IntrudersXSS.txt",
    "JHADDIX_XSS.txt",
    "MarioXSSVectors.txt",
    "RSNAKE_XSS.txt",
    "XSSDetection.txt",
    "XSS_Polyglots.txt",
    "port_swigger_xss_cheatsheet_event_handlers.txt",
    "xss_alert.txt",
    "xss_payloads_quick.txt",
)

CORPORA: dict[str, Any] = {
    "dompurify-fixtures": _dompurify,
    "html5lib-sanitizer": _html5lib,
    "html5sec-items": _html5sec_items,
    "html5sec-vectors": _html5sec_dump,
    "bleach-xss-data": _bleach,
    "owasp-xss-filter-evasion": _owasp,
    **{
        f"payloadsallthethings/{name}": (lambda root, name=name: _payloads(root, name))
        for name in PAYLOAD_FILES
    },
}

#: Our own additions: characters and shapes the corpora lack.
EXTRA_VECTORS: list[Vector] = [
    ("nul bytes", "<p>a\x00b</p><scr\x00ipt>alert(1)</scr\x00ipt><a href='java\x00script:x'>n</a>"),
    ("comment breakout", "<!-- --><script>alert(1)</script> -->"),
    ("textarea breakout", "</textarea><script>alert(1)</script>"),
    ("tab in scheme", "<a href='jav\tascript:alert(1)'>t</a><a href=' javascript:alert(1)'>s</a>"),
    ("entity scheme", "<a href='&#106;avascript:alert(1)'>e</a><a href='data:text/html,x'>d</a>"),
    ("protocol relative", "<a href='//evil.example/x'>p</a><a href='\\\\evil.example'>b</a>"),
]


# Invariants --------------------------------------------------------------------------


def _elements(html: str) -> list[Any]:
    document = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)
    return [element for element in document.iter() if isinstance(element.tag, str)]


def _tag(element: Any) -> str:
    return str(element.tag).rsplit("}", 1)[-1].lower()


def _scheme(url: str) -> str:
    """The scheme a browser would see: tabs and newlines removed, leading controls stripped."""
    cleaned = re.sub(r"[\t\n\r]", "", url).lstrip("".join(chr(c) for c in range(0x21)))
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else ""


def snippet_problems(html: str, pixel_src: str) -> list[str]:
    """What is wrong with one snippet's HTML (empty when it is safe)."""
    problems = []
    pixels = 0
    for element in _elements(html):
        tag = _tag(element)
        if tag in {"html", "head", "body"}:
            continue
        attributes = {
            str(name).rsplit("}", 1)[-1].lower(): value for name, value in element.items()
        }
        if tag in FORBIDDEN:
            problems.append(f"<{tag}> element")
        if tag == "img":
            pixels += 1
            expected = {
                "src": pixel_src,
                "width": "1",
                "height": "1",
                "alt": "",
                "referrerpolicy": "no-referrer-when-downgrade",
                "style": PIXEL_STYLE,
            }
            if attributes != expected:
                problems.append(f"img that is not our pixel: {attributes}")
            continue
        extra = set(attributes) - ALLOWED_ATTRIBUTES.get(tag, set())
        if extra:
            problems.append(f"<{tag}> has attributes {sorted(extra)}")
        href = attributes.get("href")
        if href is not None and _scheme(href) not in SAFE_SCHEMES:
            problems.append(f"<a href={href!r}>")
    if pixels != 1:
        problems.append(f"{pixels} images instead of one pixel")
    return problems


def head_problems(head: str) -> list[str]:
    """The head snippet is one canonical link to an http(s) URL."""
    elements = [e for e in _elements(head) if _tag(e) not in {"html", "head", "body"}]
    if len(elements) != 1 or _tag(elements[0]) != "link":
        return [f"head is not one link: {head!r}"]
    attributes = dict(elements[0].items())
    if set(attributes) != {"rel", "href"} or attributes["rel"] != "canonical":
        return [f"head link attributes {attributes}"]
    if _scheme(attributes["href"]) not in {"http", "https"}:
        return [f"canonical href {attributes['href']!r}"]
    return []


def page_problems(html: str, snippet_html: str) -> list[str]:
    """The standalone page: no script anywhere, no handlers, snippet only as textarea text.

    Parsed with lxml (fast): the page is our template, and every story value in it is
    escaped text, which the snippet checks above already parse the browser's way.
    """
    problems = []
    areas = []
    for element in lxml.html.document_fromstring(html).iter():
        if not isinstance(element.tag, str):
            continue
        tag = _tag(element)
        if tag in {"script", "iframe", "object", "embed", "svg", "math", "form", "base", "img"}:
            problems.append(f"page has <{tag}>")
        for name, value in element.items():
            lowered = str(name).lower()
            if lowered.startswith("on") or lowered == "style":
                problems.append(f"page <{tag}> has {name}")
            if lowered in {"href", "src"} and not (
                value.startswith("/") and not value.startswith("//")
            ):
                if _scheme(value) not in SAFE_SCHEMES:
                    problems.append(f"page <{tag} {name}={value!r}>")
        if tag == "textarea":
            areas.append(element)
    if len(areas) != 3 or (areas[0].text or "") != snippet_html:
        problems.append("snippet textarea does not hold exactly the snippet")
    return problems


# The tests ---------------------------------------------------------------------------


@pytest.fixture
def token(db: Database) -> str:
    _, api_token = publishers.create_publisher(
        db, "harbor", "Harbor Gazette", {"home_url": "https://harbor.example/"}
    )
    return api_token


def _metadata(vector: str) -> dict[str, Any]:
    flat = " ".join(vector.split())
    fields: dict[str, Any] = {}
    if 0 < len(flat) <= 2000:
        fields["headline"] = flat
        fields["dek"] = flat
    if 0 < len(flat) <= 200:
        fields["bylines"] = [flat]
        fields["tags"] = [flat]
    return fields


def _push(client: WebClient, token: str, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/stories", json=body, headers=bearer(token))


def check_vectors(client: WebClient, token: str, label: str, vectors: list[Vector]) -> None:
    assert vectors, f"no vectors found for {label}"
    failures: list[str] = []
    for index, (name, vector) in enumerate(vectors):
        base = {
            "url": f"https://harbor.example/xss/{label.replace('/', '-')}/{index}",
            "headline": f"Test story {index}",
            "body_html": f"<p>Lead paragraph {index}.</p>{vector}<p>Closing paragraph.</p>",
        }
        response = _push(client, token, base | _metadata(vector))
        if "\x00" in vector:
            # No text may hold NUL (PostgreSQL cannot store it): refused as a whole.
            if response.status_code != 422:
                failures.append(f"{name}: NUL accepted with {response.status_code}")
            continue
        if response.status_code not in {200, 201}:
            failures.append(f"{name}: push answered {response.status_code} {response.text[:200]}")
            continue
        story = response.json()
        if not story["republishable"]:
            # The hostile byline looked like a wire: push plain metadata to test the body.
            response = _push(client, token, base)
            story = response.json()
        snippet = client.get(f"/api/v1/stories/{story['id']}/snippet").json()
        if not snippet["republishable"]:
            failures.append(f"{name}: not republishable ({snippet['reason']})")
            continue
        pixel = f"http://127.0.0.1:8000/p/{story['id']}.gif"
        problems = snippet_problems(snippet["html"], pixel) + head_problems(snippet["head"])
        page = client.get(f"/republish/{story['id']}")
        if page.status_code != 200:
            problems.append(f"page answered {page.status_code}")
        else:
            problems += page_problems(page.text, snippet["html"])
        failures += [f"{name}: {problem}" for problem in problems]
    assert not failures, f"{len(failures)} problems, first ones:\n" + "\n".join(failures[:25])


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_xss_corpus(client: WebClient, token: str, shared_dir: Path, corpus: str) -> None:
    vectors = CORPORA[corpus](shared_dir / XSS)
    check_vectors(client, token, corpus, vectors)


def test_xss_extra_vectors(client: WebClient, token: str) -> None:
    check_vectors(client, token, "extra", EXTRA_VECTORS)


def test_every_corpus_folder_is_covered(shared_dir: Path) -> None:
    folders = {path.name for path in (shared_dir / XSS).iterdir() if path.is_dir()}
    covered = {name.split("/")[0].removeprefix("html5sec-") for name in CORPORA}
    covered = {"html5sec" if name in {"items", "vectors"} else name for name in covered}
    assert folders <= covered, folders - covered
    listed = {path.name for path in (shared_dir / XSS / "payloadsallthethings").glob("*.txt")}
    assert listed == set(PAYLOAD_FILES)


def test_xss_through_file_ingest(
    db: Database, settings: Settings, token: str, shared_dir: Path, tmp_path: Path
) -> None:
    """A sample of vectors inside a saved article page, ingested from the file."""
    items = _html5sec_items(shared_dir / XSS) + _bleach(shared_dir / XSS)
    with db.connect() as conn:
        publisher = publisher_store.get_publisher(conn, "harbor")
    failures = []
    for start in range(0, len(items), 20):
        chunk = items[start : start + 20]
        paragraphs = "\n".join(
            f"<p>Paragraph {i} of the council report on the new ferry timetable.</p>{vector}"
            for i, (_, vector) in enumerate(chunk)
        )
        page = tmp_path / f"page{start}.html"
        page.write_text(
            "<!doctype html><html><head><title>Ferry timetable</title></head><body>"
            f"<article><h1>Ferry timetable changes {start}</h1>"
            f"<p class='byline'>By Mara Lind</p>{paragraphs}</article></body></html>",
            encoding="utf-8",
        )
        story = ingest_file(db, "harbor", page, f"https://harbor.example/file/{start}").story
        snippet = render_snippet(story, publisher, settings.base_url)
        if not snippet.republishable:
            failures.append(f"chunk {start}: not republishable ({snippet.reason})")
            continue
        pixel = f"{settings.base_url}/p/{story.id}.gif"
        failures += [f"chunk {start}: {p}" for p in snippet_problems(snippet.html, pixel)]
    assert not failures, "\n".join(failures[:25])


def test_nul_vectors_rendered_directly(shared_dir: Path) -> None:
    """The API refuses NUL; a body holding it some other way still renders safely."""
    from republish.models import Publisher, Story

    vectors = [v for v in _html5lib(shared_dir / XSS) + EXTRA_VECTORS if "\x00" in v[1]]
    assert vectors
    publisher = Publisher(id=1, slug="harbor", name="Harbor Gazette")
    failures = []
    for name, vector in vectors:
        story = Story(
            id="k3x9q2m7ab",
            publisher_id=1,
            canonical_url="https://harbor.example/nul",
            headline=vector,
            body_html=f"<p>Lead.</p>{vector}",
            body_text="Lead.",
            bylines=(vector,),
        )
        snippet = render_snippet(story, publisher, "https://r.example")
        pixel = "https://r.example/p/k3x9q2m7ab.gif"
        failures += [f"{name}: {p}" for p in snippet_problems(snippet.html, pixel)]
        if "\x00" in snippet.html + snippet.text:
            failures.append(f"{name}: NUL in output")
    assert not failures, "\n".join(failures)
