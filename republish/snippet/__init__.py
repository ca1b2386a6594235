"""The snippet a republisher copies (HTML, head tag, text) and the republishing rules."""

from __future__ import annotations

from republish.snippet.guidelines import default_canonical_guide_md, default_guidelines_md
from republish.snippet.render import Snippet, guidelines_summary, render_preview, render_snippet

__all__ = [
    "Snippet",
    "default_canonical_guide_md",
    "default_guidelines_md",
    "guidelines_summary",
    "render_preview",
    "render_snippet",
]
