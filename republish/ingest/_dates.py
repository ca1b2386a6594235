"""Dates found on pages, as aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateutil import parser as date_parser

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_date(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 (or common textual) date; naive means UTC."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None:
        # Textual dates ("November 3, 2026 4:05 PM EST") only when they carry a year.
        if not re.search(r"\b(19|20)\d{2}\b", text):
            return None
        try:
            parsed = date_parser.parse(text, fuzzy=not _ISO_DATE.match(text))
        except (ValueError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
