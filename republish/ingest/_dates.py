"""Dates found on pages, as aware UTC datetimes."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime

from dateutil import parser as date_parser

# Zone abbreviations newsrooms print after times; unknown ones are read as UTC.
_TZ_OFFSETS_S = {
    name: hours * 3600
    for name, hours in {
        "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
        "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "BST": 1,
        "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "JST": 9, "AEST": 10, "AEDT": 11,
    }.items()
}  # fmt: skip

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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                parsed = date_parser.parse(
                    text, fuzzy=not _ISO_DATE.match(text), tzinfos=_TZ_OFFSETS_S
                )
        except (ValueError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
