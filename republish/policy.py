"""May this story be republished, and if not, why not. Pure: story + publisher rules."""

from __future__ import annotations

from republish.models import Decision, Publisher, Story


def _norm(value: str) -> str:
    return " ".join(value.casefold().split())


def _matches(value: str, excluded: tuple[str, ...]) -> str | None:
    wanted = _norm(value)
    if not wanted:
        return None
    for item in excluded:
        if _norm(item) == wanted:
            return item
    return None


def decide(story: Story, publisher: Publisher) -> Decision:
    """Decide whether ``story`` may be offered for republication under ``publisher``'s rules.

    A story withdrawn at its source is never offered (not even by an override: what is
    gone must not be republished). Then an editor's override wins. Otherwise a story is
    refused when its origin, section, one of its tags or one of its authors is on the
    publisher's exclusion lists.
    """
    if story.withdrawn_at is not None:
        return Decision(
            False,
            f"{publisher.name} has withdrawn this story; it is no longer offered for "
            "republication.",
            "withdrawn",
            {"withdrawn_at": story.withdrawn_at.isoformat(), "why": story.withdrawn_reason},
        )
    if story.override is not None:
        if story.override.republishable:
            return Decision(
                True,
                f"{publisher.name} offers this story for republication.",
                "override",
                {"note": story.override.reason, "actor": story.override.actor},
            )
        reason = story.override.reason.strip() or "The editors have not made this story available."
        return Decision(False, reason, "override", {"actor": story.override.actor})

    if story.origin:
        hit = _matches(story.origin, publisher.excluded_origins)
        if hit is not None:
            return Decision(
                False,
                f"This story came from {story.origin} and is not ours to offer for "
                "republication. Please contact "
                f"{story.origin} for permission.",
                "origin",
                {"origin": story.origin, "evidence": story.origin_evidence},
            )
    section = _matches(story.section, publisher.excluded_sections)
    if section is not None:
        return Decision(
            False,
            f"Stories in the {story.section} section are not offered for republication.",
            "section",
            {"section": story.section},
        )
    for tag in story.tags:
        if _matches(tag, publisher.excluded_tags) is not None:
            return Decision(
                False,
                f"Stories tagged \u201c{tag}\u201d are not offered for republication.",
                "tag",
                {"tag": tag},
            )
    for author in story.bylines:
        if _matches(author, publisher.excluded_authors) is not None:
            return Decision(
                False,
                f"Stories by {author} are not offered for republication.",
                "author",
                {"author": author},
            )
    return Decision(True, f"{publisher.name} offers this story for republication.", "ok")
