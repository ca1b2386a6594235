"""Package hygiene: public API, version, and the one-way import rule."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import republish

ROOT = Path(republish.__file__).parent

# Which top-level modules each layer may import (see DESIGN.md: cli, web → features →
# store → models). Low-level shared modules may be imported from anywhere above them.
SHARED = {"models", "config", "urls", "clean", "net", "hits", "periodic"}
FEATURES = {"ingest", "snippet", "policy", "publishers", "pixel", "stats", "notify"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("republish.")
        ):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("republish."):
                    found.add(alias.name.split(".")[1])
    return found


def _layer(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return _public(relative.parts[0].removesuffix(".py"))


def _public(name: str) -> str:
    # Private helper modules (``_netguard``) belong to the module they serve (``net``).
    for shared in SHARED:
        if name.startswith("_" + shared):
            return shared
    return name


def test_imports_flow_one_way() -> None:
    problems = []
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        layer = _layer(path)
        imported = {_public(name) for name in _imports(path)} - {layer}
        if layer in SHARED | {"store"}:
            allowed = SHARED if layer != "models" else set()
            if layer == "store":
                allowed = {"models", "urls", "config"}
        elif layer in FEATURES:
            allowed = SHARED | {"store", "policy"} if layer != "policy" else SHARED
        else:  # cli, web, demo, __main__, __init__: top layers
            allowed = imported
        bad = imported - allowed - {"__init__"}
        if bad:
            problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert problems == []


def test_version_matches_changelog() -> None:
    changelog = (ROOT.parent / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.M)
    assert released and released[0] == republish.__version__
    assert "## [Unreleased]" in changelog


def test_public_api() -> None:
    assert republish.__all__ == ["__version__"]
    assert (ROOT / "py.typed").exists()
