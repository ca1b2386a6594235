"""The pixel: the hot path that counts each republished view (see app.py)."""
