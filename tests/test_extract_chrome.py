"""The newsroom-chrome page set (tests/data/chrome, written for the project by
bench/extract/make_chrome_pages.py): every story paragraph kept, no chrome phrase in
the body, and metadata exact on the pages with JSON-LD."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from republish.ingest.extract import extract

CHROME = Path(__file__).parent / "data" / "chrome"
MANIFEST: dict[str, dict[str, Any]] = json.loads((CHROME / "manifest.json").read_text())


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def test_the_set_is_varied() -> None:
    assert len(MANIFEST) >= 20
    assert {page["skin"] for page in MANIFEST.values()} == {"wordpress", "arc", "drupal", "ghost"}
    kinds = {
        kind.removesuffix("_plain") for page in MANIFEST.values() for kind in page["chrome_kinds"]
    }
    assert {"skip", "browser", "donate", "newsletter", "republish", "related", "share"} <= kinds
    for name in MANIFEST:
        assert (CHROME / name).is_file()


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_no_chrome_and_all_body_kept(name: str) -> None:
    page = MANIFEST[name]
    story = extract((CHROME / name).read_bytes(), page["url"])
    body = _words(story.body_text)
    leaked = [phrase for phrase in page["chrome"] if _words(phrase) in body]
    missing = [text for text in page["body"] if _words(text) not in body]
    assert not leaked, leaked
    assert not missing, missing


@pytest.mark.parametrize("name", sorted(n for n, p in MANIFEST.items() if p["json_ld"]))
def test_json_ld_metadata_is_exact(name: str) -> None:
    page, want = MANIFEST[name], MANIFEST[name]["meta"]
    story = extract((CHROME / name).read_bytes(), page["url"])
    assert story.headline == want["headline"]
    assert list(story.bylines) == want["bylines"]
    assert story.published_at == datetime.fromisoformat(want["published"])
    updated = want["updated"]
    assert story.updated_at == (datetime.fromisoformat(updated) if updated else None)
    assert story.canonical_url == want["canonical"]
    assert story.section == want["section"]
    assert list(story.tags) == want["tags"]


@pytest.mark.parametrize("name", sorted(n for n, p in MANIFEST.items() if not p["json_ld"]))
def test_metadata_without_json_ld(name: str) -> None:
    # Meta tags, microdata, rel=tag links and visible bylines/times only.
    page, want = MANIFEST[name], MANIFEST[name]["meta"]
    story = extract((CHROME / name).read_bytes(), page["url"])
    assert (story.headline, list(story.bylines), story.canonical_url) == (
        want["headline"],
        want["bylines"],
        want["canonical"],
    )
    assert story.published_at == datetime.fromisoformat(want["published"])
    assert (story.section, list(story.tags)) == (want["section"], want["tags"])
