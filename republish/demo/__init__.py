"""The demo: a fictional newsroom with sample stories, served by the real app."""

from __future__ import annotations

from republish.demo.hits import SimulatedHits, hit_log_dir, reset_hit_log, simulate_hits
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
    "SimulatedHits",
    "article_url",
    "demo_routes",
    "hit_log_dir",
    "republish_box",
    "reset_database",
    "reset_hit_log",
    "seed_demo",
    "simulate_hits",
]
