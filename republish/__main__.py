"""``python -m republish`` runs the command line."""

from __future__ import annotations

from republish.cli import main

if __name__ == "__main__":
    main()
