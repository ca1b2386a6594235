"""Daily random salts for the visitor hash, shared by every pixel process on a machine.

A salt lives in ``<dir>/<YYYY-MM-DD>.salt`` and is deleted 48 hours after its day began,
after which nobody (not even us) can link two hashes to the same reader.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SALT_BYTES = 32
DIGEST_BYTES = 16
KEEP = timedelta(hours=48)


class DailySalts:
    """``salts.visitor_hash(day, ip, ua, story)`` -> hex digest keyed by that day's salt."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[date, bytes] = {}

    def salt_for(self, day: date) -> bytes:
        """The salt of ``day``, created (atomically, once across processes) if missing."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{day.isoformat()}.salt"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            salt = path.read_bytes()
            if len(salt) != SALT_BYTES:  # a writer died mid-write: its salt was never used
                salt = self._replace(path)
        else:
            salt = secrets.token_bytes(SALT_BYTES)
            try:
                os.write(fd, salt)
                os.fsync(fd)
            finally:
                os.close(fd)
        self._cache = {day: salt}  # keep only today's in memory
        self.delete_expired(datetime.combine(day, datetime.min.time(), UTC))
        return salt

    def _replace(self, path: Path) -> bytes:
        salt = secrets.token_bytes(SALT_BYTES)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(salt)
        os.replace(tmp, path)
        return path.read_bytes()

    def delete_expired(self, now: datetime) -> list[Path]:
        """Remove salts whose day began more than 48 hours before ``now``."""
        removed = []
        for path in self.directory.glob("*.salt"):
            try:
                day = date.fromisoformat(path.stem)
            except ValueError:
                continue
            if datetime.combine(day, datetime.min.time(), UTC) + KEEP < now:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def keyed(self, day: date) -> hashlib.blake2b:
        """An empty BLAKE2b keyed with ``day``'s salt: ``h = keyed.copy(); h.update(m)``
        gives the visitor hash of ``m`` without hashing the key block again."""
        return hashlib.blake2b(key=self.salt_for(day), digest_size=DIGEST_BYTES)

    def visitor_hash(self, day: date, ip: str, user_agent: str, story_id: str) -> str:
        """Keyed BLAKE2b of IP, User-Agent and story under ``day``'s salt (128 bits, hex)."""
        return visitor_hash(self.keyed(day), ip, user_agent, story_id)


def visitor_message(ip: str, user_agent: str, story_id: str) -> bytes:
    """What the visitor hash is taken of: IP, User-Agent and story, NUL-separated."""
    return "\x00".join((ip, user_agent, story_id)).encode("utf-8", "replace")


def visitor_hash(keyed: hashlib.blake2b, ip: str, user_agent: str, story_id: str) -> str:
    """The visitor hash (hex) under a hasher from :meth:`DailySalts.keyed`."""
    hasher = keyed.copy()
    hasher.update(visitor_message(ip, user_agent, story_id))
    return hasher.hexdigest()
