"""Stories, revisions, overrides and snippets as JSON (the API and the CLI print the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from republish.ingest.revisions import RevisionDiff
from republish.models import Publisher, Revision, Story
from republish.policy import decide
from republish.snippet import Snippet


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def api_url(base_url: str, path: str) -> str:
    """An absolute URL of this service."""
    return base_url.rstrip("/") + path


def snippet_url(base_url: str, story_id: str) -> str:
    """Where the API serves a story's snippet."""
    return api_url(base_url, f"/api/v1/stories/{quote(story_id, safe='')}/snippet")


def republish_url(base_url: str, story_id: str) -> str:
    """The standalone republish page of a story (works without JavaScript)."""
    return api_url(base_url, f"/republish/{quote(story_id, safe='')}")


def guidelines_url(base_url: str, slug: str) -> str:
    """A publisher's republishing guidelines page."""
    return api_url(base_url, f"/guidelines/{quote(slug, safe='')}")


def canonical_guide_url(base_url: str, slug: str) -> str:
    """A publisher's page on adding the canonical link."""
    return guidelines_url(base_url, slug) + "/canonical"


def story_to_json(story: Story, publisher: Publisher, base_url: str) -> dict[str, Any]:
    """A story as the API shows it: metadata and the policy decision, no body."""
    decision = decide(story, publisher)
    override = None
    if story.override is not None:
        override = {
            "republishable": story.override.republishable,
            "reason": story.override.reason,
            "actor": story.override.actor,
            "at": _iso(story.override.at),
        }
    return {
        "id": story.id,
        "publisher": publisher.slug,
        "canonical_url": story.canonical_url,
        "headline": story.headline,
        "dek": story.dek,
        "bylines": list(story.bylines),
        "published_at": _iso(story.published_at),
        "updated_at": _iso(story.updated_at),
        "section": story.section,
        "tags": list(story.tags),
        "origin": story.origin,
        "origin_evidence": story.origin_evidence,
        "revision": story.revision,
        "republishable": decision.republishable,
        "reason": decision.reason,
        "override": override,
        "withdrawn_at": _iso(story.withdrawn_at),
        "withdrawn_reason": story.withdrawn_reason,
        "created_at": _iso(story.created_at),
        "modified_at": _iso(story.modified_at),
        "snippet_url": snippet_url(base_url, story.id),
        "republish_url": republish_url(base_url, story.id),
    }


def revision_to_json(revision: Revision) -> dict[str, Any]:
    """One revision's metadata (bodies stay out: a refused story's text is not served)."""
    return {
        "revision": revision.revision,
        "content_hash": revision.content_hash,
        "headline": revision.headline,
        "dek": revision.dek,
        "bylines": list(revision.bylines),
        "source": revision.source,
        "created_at": _iso(revision.created_at),
    }


def diff_to_json(diff: RevisionDiff) -> dict[str, Any]:
    """What changed from one revision to another (unified diffs; "" where nothing did)."""
    return {
        "story_id": diff.story_id,
        "from": diff.old,
        "to": diff.new,
        "changed": diff.changed,
        "headline_diff": diff.headline,
        "body_diff": diff.body,
    }


def override_to_json(entry: dict[str, Any]) -> dict[str, Any]:
    """One entry of a story's override history."""
    return {
        "republishable": entry["republishable"],
        "reason": entry["reason"],
        "actor": entry["actor"],
        "at": _iso(entry["at"]),
    }


def snippet_to_json(snippet: Snippet) -> dict[str, Any]:
    """A snippet as ``GET /api/v1/stories/{id}/snippet`` and ``republish snippet`` give it."""
    return {
        "republishable": snippet.republishable,
        "reason": snippet.reason,
        "html": snippet.html,
        "head": snippet.head,
        "text": snippet.text,
    }
