"""Bot filter benchmark: how the pixel's User-Agent rules score on labelled sets, and how fast.

Run from the project root::

    .venv/bin/python bench/bots/run.py [--no-write]

Scores ``republish.pixel.bots.BotFilter`` (the shipped rules) on the labelled sets in
``../shared/data/security/user-agents`` (bots: monperrus example UAs, isbot crawlers.yml,
Matomo fixtures-bots.yml; non-bots: microlink top 100, isbot browsers.yml, Matomo desktop
and smartphone fixtures), side by side with isbot's patterns alone (section 1 of the
shipped rules, as upstream has them) and the ``crawlerdetect`` package from PyPI. Times
each classifier uncached (every UA classified afresh) and cached (the same UAs again).
Writes the "Bot filter" section of ``bench/RESULTS.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "security" / "user-agents"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION_START = "<!-- bots:start -->"
SECTION_END = "<!-- bots:end -->"
COMMAND = ".venv/bin/python bench/bots/run.py"
BOT_SETS = ("monperrus instances", "isbot crawlers.yml", "Matomo fixtures-bots.yml")
HUMAN_SETS = (
    "microlink top 100",
    "isbot browsers.yml",
    "Matomo fixtures-desktop.yml",
    "Matomo fixtures-smartphone.yml",
)
MATOMO_HUMANS = HUMAN_SETS[2:]
TIMING_PASSES = 5

sys.path.insert(0, str(ROOT))

from republish.pixel.bots import BotFilter, parse_rules  # noqa: E402


def load_sets() -> dict[str, list[str]]:
    """Every labelled set, by name, as a list of User-Agents (duplicates kept)."""
    import yaml

    def yml(path: Path) -> object:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    def grouped(path: Path) -> list[str]:
        data = yml(path)
        assert isinstance(data, dict)
        return [str(ua) for uas in data.values() for ua in uas]

    def matomo(name: str) -> list[str]:
        data = yml(DATA / "matomo-device-detector" / name)
        assert isinstance(data, list)
        return [str(entry["user_agent"]) for entry in data]

    monperrus = json.loads(
        (DATA / "monperrus-crawler-user-agents" / "crawler-user-agents.json").read_text()
    )
    return {
        "monperrus instances": [ua for entry in monperrus for ua in entry["instances"]],
        "isbot crawlers.yml": grouped(DATA / "isbot-fixtures" / "crawlers.yml"),
        "Matomo fixtures-bots.yml": matomo("fixtures-bots.yml"),
        "microlink top 100": json.loads(
            (DATA / "microlink-top-user-agents" / "index.json").read_text()
        ),
        "isbot browsers.yml": grouped(DATA / "isbot-fixtures" / "browsers.yml"),
        "Matomo fixtures-desktop.yml": matomo("fixtures-desktop.yml"),
        "Matomo fixtures-smartphone.yml": matomo("fixtures-smartphone.yml"),
    }


def isbot_section() -> list[str]:
    """Section 1 of the shipped rules: isbot's patterns as upstream has them."""
    text = (ROOT / "republish" / "pixel" / "bot_rules" / "patterns.txt").read_text()
    section = text.split("# -- 1.", 1)[1].split("# -- 2.", 1)[0]
    return parse_rules(section.split("\n", 1)[1])


class Classifier:
    """A name, an uncached verdict, a cached verdict."""

    def __init__(
        self, name: str, fresh: Callable[[str], bool], cached: Callable[[str], bool]
    ) -> None:
        self.name, self.fresh, self.cached = name, fresh, cached


def classifiers() -> tuple[list[Classifier], str]:
    """Ours, isbot's rules alone, and crawlerdetect when installed (and a note on it)."""
    ours, ours_fresh = BotFilter(), BotFilter(cache_size=0)
    isbot, isbot_fresh = BotFilter(isbot_section()), BotFilter(isbot_section(), cache_size=0)
    # The same shipped rules as one plain alternation: what the fast paths must agree with.
    plain = re.compile("|".join(f"(?:{p})" for p in ours.patterns), re.IGNORECASE)

    @functools.lru_cache(maxsize=10_000)
    def plain_cached(ua: str) -> bool:
        return plain.search(ua) is not None

    found = [
        Classifier("republish (shipped rules)", ours_fresh.is_bot, ours.is_bot),
        Classifier(
            "same rules, one plain `re` alternation",
            lambda ua: not ua.strip() or plain.search(ua) is not None,
            lambda ua: not ua.strip() or plain_cached(ua),
        ),
        Classifier("isbot patterns alone", isbot_fresh.is_bot, isbot.is_bot),
    ]
    try:
        from crawlerdetect import CrawlerDetect
    except ImportError:
        return found, "crawlerdetect is not installed (`pip install crawlerdetect`): skipped."

    class Peer(CrawlerDetect):  # type: ignore[misc]
        CACHE_SIZE = 10_000  # its default (1,024) would thrash on our 5,809 UAs

    peer = Peer()
    # _check_crawler is the uncached check behind is_crawler's lru_cache (1,024 entries).
    found.append(
        Classifier(
            f"crawlerdetect {version('crawlerdetect')}",
            lambda ua: bool(peer._check_crawler(ua)[0]),
            lambda ua: bool(peer.is_crawler(ua)),
        )
    )
    note = (
        "crawlerdetect (PyPI, MIT; a port of PHP CrawlerDetect's rules) says an empty "
        "User-Agent is not a crawler; we count it as a bot. Matomo's own Python port, "
        "`device-detector`, was not measured: its rules are the ones that labelled the "
        "Matomo sets. crawlerdetect's cache was raised to 10,000 entries like ours."
    )
    return found, note


def rate(flagged: int, total: int) -> str:
    return f"{flagged}/{total} ({100 * flagged / total:.2f}%)" if total else "0/0"


def per_ua_us(fn: Callable[[str], bool], uas: list[str]) -> float:
    """Best over passes of the mean time per UA, in microseconds (the best pass is the one
    least disturbed by other work on the machine)."""
    times = []
    for _ in range(TIMING_PASSES):
        start = time.perf_counter()
        for ua in uas:
            fn(ua)
        times.append((time.perf_counter() - start) / len(uas) * 1e6)
    return min(times)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    load = "/".join(f"{n:.2f}" for n in os.getloadavg())
    return (
        f"`nproc` {nproc}, {cpu}; Python {platform.python_version()}; stdlib `re`; "
        f"load average {load} at start (the machine is shared, so timings are noisy)"
    )


def report(sets: dict[str, list[str]]) -> str:
    found, note = classifiers()
    lines = [
        "## Bot filter",
        "",
        f"`{COMMAND}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}.",
        "Data: `../shared/data/security/user-agents` (see each `SOURCE.md`). "
        "Rules were chosen looking only at monperrus, isbot and microlink; Matomo's sets "
        "were held out (no shipped rule was written from them), so they test generalisation. "
        "The 8 isbot browsers.yml UAs we flag are on purpose: fetchers and testers that isbot "
        "calls browsers but that are no person reading a page (see "
        "`republish/pixel/bot_rules/SOURCE.md`).",
        "",
        "Share of each set flagged as bot (bots: higher is better; non-bots: lower).",
        "",
        "| set | kind | " + " | ".join(c.name for c in found) + " |",
        "| --- | --- |" + " --- |" * len(found),
    ]
    verdicts = {
        c.name: {name: [c.fresh(ua) for ua in uas] for name, uas in sets.items()} for c in found
    }

    def row(label: str, kind: str, names: tuple[str, ...]) -> str:
        cells = []
        for c in found:
            flagged = sum(sum(verdicts[c.name][name]) for name in names)
            total = sum(len(sets[name]) for name in names)
            cells.append(rate(flagged, total))
        return f"| {label} | {kind} | " + " | ".join(cells) + " |"

    for name in BOT_SETS:
        lines.append(row(name, "bot", (name,)))
    lines.append(row("**all bots** (goal ≥ 99%)", "bot", BOT_SETS))
    lines.append(row("microlink top 100 (goal 0)", "non-bot", (HUMAN_SETS[0],)))
    lines.append(row(HUMAN_SETS[1], "non-bot", (HUMAN_SETS[1],)))
    for name in MATOMO_HUMANS:
        lines.append(row(name, "non-bot", (name,)))
    lines.append(row("**Matomo non-bots** (goal ≤ 2%)", "non-bot", MATOMO_HUMANS))

    every = [ua for uas in sets.values() for ua in uas]
    humans = [ua for name in HUMAN_SETS for ua in sets[name]]
    lines += [
        "",
        f"Speed (best of {TIMING_PASSES} passes, one process). Uncached: every UA classified "
        f"afresh, over all {len(every)} UAs and over the {len(humans)} non-bots alone (a "
        "browser runs every check, a bot stops at its first hit); cached: all UAs again, "
        "all in the cache.",
        "",
        "| classifier | uncached µs/UA (all) | uncached UAs/s (all) "
        "| uncached µs/UA (non-bots) | cached µs/UA | cached UAs/s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in found:
        for ua in every:
            c.cached(ua)
        fresh_us, human_us = per_ua_us(c.fresh, every), per_ua_us(c.fresh, humans)
        cached_us = per_ua_us(c.cached, every)
        lines.append(
            f"| {c.name} | {fresh_us:.2f} | {1e6 / fresh_us:,.0f} | {human_us:.2f} | "
            f"{cached_us:.3f} | {1e6 / cached_us:,.0f} |"
        )
    lines += ["", note, ""]

    ours = BotFilter()
    misses = [(n, ua) for n in BOT_SETS for ua in sets[n] if not ours.is_bot(ua)]
    wrong = [(n, ua) for n in HUMAN_SETS for ua in sets[n] if ours.is_bot(ua)]
    lines.append(f"Bots the shipped rules miss ({len(misses)}):")
    lines.append("")
    lines += [f"- {n}: `{ua}`" for n, ua in misses]
    lines += ["", f"Non-bots the shipped rules flag ({len(wrong)}), with the rule:", ""]
    lines += [f"- {n}: `{ua}` ← `{ours.match(ua)}`" for n, ua in wrong]
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    block = f"{SECTION_START}\n{section.strip()}\n{SECTION_END}"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        _, tail = rest.split(SECTION_END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is not here (it lives in the project's shared/ folder)")
        return 0
    try:
        version("pyyaml")
    except PackageNotFoundError:
        print("skipped: PyYAML is needed to read the fixtures (pip install -e '.[dev]')")
        return 0
    section = report(load_sets())
    print(section)
    if not args.no_write:
        write(section)
        print(f"wrote the bot filter section of {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
