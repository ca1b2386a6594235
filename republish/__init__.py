"""republish: offer a newsroom's stories for free republication and see where they ran."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
