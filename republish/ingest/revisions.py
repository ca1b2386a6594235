"""What changed between two stored revisions of a story: unified diffs of headline and text."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from republish.models import Revision


@dataclass(frozen=True)
class RevisionDiff:
    """Unified diffs (empty when that part did not change) from one revision to another."""

    story_id: str
    old: int  # 0: compared against nothing (the first revision)
    new: int
    headline: str
    body: str

    @property
    def changed(self) -> bool:
        return bool(self.headline or self.body)


def _lines(text: str) -> list[str]:
    # One paragraph per line, as body_text keeps them; a trailing newline on each keeps
    # the unified diff well formed.
    return [line + "\n" for line in text.splitlines()]


def _unified(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(_lines(old), _lines(new), old_name, new_name, n=1))


def diff_revisions(old: Revision | None, new: Revision) -> RevisionDiff:
    """The diff from ``old`` (None: from nothing) to ``new``, of headline and body text."""
    old_name = f"revision {old.revision}" if old else "nothing"
    new_name = f"revision {new.revision}"
    return RevisionDiff(
        story_id=new.story_id,
        old=old.revision if old else 0,
        new=new.revision,
        headline=_unified(old.headline if old else "", new.headline, old_name, new_name),
        body=_unified(old.body_text if old else "", new.body_text, old_name, new_name),
    )
