"""The web app: JSON API, widget endpoints, republish and guidelines pages."""

from __future__ import annotations

from republish.web.app import create_app

__all__ = ["create_app"]
