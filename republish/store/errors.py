"""Errors raised by store functions."""

from __future__ import annotations


class NotFound(LookupError):
    """No row matches."""


class Conflict(ValueError):
    """The row would clash with one already stored (e.g. a slug in use)."""
