"""Ingest: fetch story pages, extract them, detect their origin, store them."""

from __future__ import annotations

__all__ = ["extract", "origin", "push", "run"]
