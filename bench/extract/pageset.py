"""Scores on the project's own page set (``tests/data/chrome``, written by
``make_chrome_pages.py``): newsroom chrome leaked into the body, story paragraphs kept,
and metadata exact-match rates on the pages without JSON-LD.

Text comparisons use lower-cased ``\\w+`` words: a chrome phrase leaks when its words
occur in a row in the body text; a story block (paragraph, subheading, list item,
quotation) is kept when its words occur in a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROME_SET = ROOT / "tests" / "data" / "chrome"
FIELDS = ("headline", "bylines", "published", "published (day)", "updated", "canonical",
          "section", "tags")  # fmt: skip


@dataclass
class SetPage:
    name: str
    path: Path
    url: str
    manifest: dict[str, Any]


def load() -> list[SetPage]:
    manifest = json.loads((CHROME_SET / "manifest.json").read_text(encoding="utf-8"))
    return [
        SetPage(name, CHROME_SET / name, page["url"], page)
        for name, page in sorted(manifest.items())
    ]


_WORD = re.compile(r"\w+")


def _words(text: str) -> str:
    return " " + " ".join(_WORD.findall(text.lower())) + " "


@dataclass
class ChromeScore:
    leaked: int
    phrases: int
    kept: int
    blocks: int
    clean_pages: int
    pages: int


def chrome_score(pages: list[SetPage], text: Callable[[Path, str], str]) -> ChromeScore:
    leaked = phrases = kept = blocks = clean = 0
    for page in pages:
        body = _words(text(page.path, page.url))
        page_leaks = sum(1 for p in page.manifest["chrome"] if _words(p) in body)
        page_kept = sum(1 for b in page.manifest["body"] if _words(b) in body)
        leaked += page_leaks
        phrases += len(page.manifest["chrome"])
        kept += page_kept
        blocks += len(page.manifest["body"])
        clean += page_leaks == 0 and page_kept == len(page.manifest["body"])
    return ChromeScore(leaked, phrases, kept, blocks, clean, len(pages))


Found = dict[str, object]


def _expected(manifest: dict[str, Any]) -> Found:
    meta = manifest["meta"]
    published = datetime.fromisoformat(meta["published"])
    updated = datetime.fromisoformat(meta["updated"]) if meta["updated"] else None
    return {
        "headline": meta["headline"],
        "bylines": list(meta["bylines"]),
        "published": published,
        "published (day)": published.date(),
        "updated": updated,
        "canonical": meta["canonical"],
        "section": meta["section"],
        "tags": list(meta["tags"]),
    }


def ours_metadata(path: Path, url: str) -> Found:
    from republish.ingest.run import extract_file

    story = extract_file(path)  # no --url: the page's own canonical URL is read
    return {
        "headline": story.headline,
        "bylines": list(story.bylines),
        "published": story.published_at,
        "published (day)": story.published_at.date() if story.published_at else None,
        "updated": story.updated_at,
        "canonical": story.canonical_url,
        "section": story.section,
        "tags": list(story.tags),
    }


def trafilatura_metadata(path: Path, url: str) -> Found:
    """trafilatura's ``extract_metadata``: it gives a day, not a time, and no update date
    (those rows are left empty); its tags are split on commas in its favour."""
    import trafilatura

    doc = trafilatura.extract_metadata(path.read_text(encoding="utf-8"))
    if doc is None:
        return {}
    day = datetime.fromisoformat(doc.date).date() if doc.date else None
    return {
        "headline": doc.title or "",
        "bylines": [a.strip() for a in (doc.author or "").split(";") if a.strip()],
        "published (day)": day,
        "canonical": doc.url or "",
        "section": (doc.categories or [""])[0],
        "tags": [t.strip() for tag in doc.tags or [] for t in tag.split(",") if t.strip()],
    }


def metadata_rates(
    pages: list[SetPage], reader: Callable[[Path, str], Found]
) -> dict[str, tuple[int, int]]:
    """Per field: (exact matches, pages) on the pages without JSON-LD; a field the reader
    does not give is absent from the result."""
    chosen = [page for page in pages if not page.manifest["json_ld"]]
    results = [(reader(page.path, page.url), _expected(page.manifest)) for page in chosen]
    rates: dict[str, tuple[int, int]] = {}
    for field in FIELDS:
        if not any(field in found for found, _ in results):
            continue
        rates[field] = (
            sum(1 for found, want in results if found.get(field) == want[field]),
            len(results),
        )
    return rates
