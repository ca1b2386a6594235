"""The demo: a fictional newsroom with sample stories, served by the real app."""

from __future__ import annotations

from republish.demo.pages import demo_routes, republish_box
from republish.demo.seed import (
    ARTICLES,
    DEMO_SLUG,
    DemoError,
    DemoSite,
    article_url,
    reset_database,
    seed_demo,
)

__all__ = [
    "ARTICLES",
    "DEMO_SLUG",
    "DemoError",
    "DemoSite",
    "article_url",
    "demo_routes",
    "republish_box",
    "reset_database",
    "seed_demo",
]
