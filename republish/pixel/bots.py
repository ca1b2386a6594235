"""Bot filter for pixel hits: User-Agent rules shipped as data, verdicts cached per User-Agent.

The rules live in ``bot_rules/patterns.txt`` (one regex per line; sources and licences in
``bot_rules/SOURCE.md``). For speed they are split up: plain words go into one
trie-shaped regex searched in the lower-cased User-Agent, words anchored with ``^`` into
another matched at its start, each real regex runs only when the User-Agent contains a
substring all its matches need (its "needle"), and the few regexes without one share a
case-insensitive alternation. About 5 µs per new User-Agent instead of about 110 µs for
one alternation of every rule (``bench/bots/run.py``); repeats are served from the cache.
An empty or blank User-Agent is a bot (no browser sends none), and so is one longer than
``MAX_UA_CHARS`` (no browser sends one that long, and it would bloat the cache).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple, TypeAlias

__all__ = [
    "EMPTY_RULE",
    "MAX_UA_CHARS",
    "OVERSIZED_RULE",
    "BotFilter",
    "CacheStats",
    "default_filter",
    "parse_rules",
    "shipped_rules",
]

MAX_UA_CHARS = 1024
EMPTY_RULE = "(empty user agent)"
OVERSIZED_RULE = f"(user agent over {MAX_UA_CHARS} characters)"

# A rule is a plain word when it is made only of ordinary characters, escaped punctuation
# (``\/``, ``\.``) and ``\xHH`` escapes.
_WORD_TOKEN = r"\\x[0-9A-Fa-f]{2}|\\[^0-9A-Za-z]|[^\\.^$*+?{}\[\]|()]"
_WORD = re.compile(f"(?:{_WORD_TOKEN})+")
_WORD_TOKENS = re.compile(_WORD_TOKEN)

_Trie: TypeAlias = dict[str, "_Trie"]


class CacheStats(NamedTuple):
    """Hits, misses and size of a filter's per-User-Agent cache."""

    hits: int
    misses: int
    size: int
    max_size: int


@dataclass(frozen=True)
class _Rule:
    """One line of the rules: a plain word, a word at the start, or a regex.

    A regex carries ``needle``, lower-case text every match must contain (may be empty),
    so most regexes are skipped by a substring test before the regex engine runs.
    """

    pattern: str
    kind: str  # "word", "prefix" or "regex"
    text: str  # the lower-cased word, or the pattern itself for a regex
    needle: str = ""

    def hits(self, user_agent: str, lowered: str) -> bool:
        if self.kind == "word":
            return self.text in lowered
        if self.kind == "prefix":
            return lowered.startswith(self.text)
        if self.needle not in lowered:
            return False
        return re.search(self.text, user_agent, re.IGNORECASE) is not None


def _as_word(pattern: str) -> str | None:
    """The literal text ``pattern`` matches, or None when it is a real regex."""
    if not _WORD.fullmatch(pattern):
        return None
    chars = []
    for token in _WORD_TOKENS.findall(pattern):
        if token.startswith("\\x"):
            chars.append(chr(int(token[2:], 16)))
        elif token.startswith("\\"):
            chars.append(token[1])
        else:
            chars.append(token)
    return "".join(chars).lower()


def _to_rule(pattern: str) -> _Rule:
    if not pattern.strip():
        raise ValueError("empty bot rule (it would match every User-Agent)")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad bot rule {pattern!r}: {exc}") from exc
    word = _as_word(pattern)
    if word is not None:
        return _Rule(pattern, "word", word)
    if pattern.startswith("^"):
        word = _as_word(pattern[1:])
        if word is not None:
            return _Rule(pattern, "prefix", word)
    # In verbose mode spaces in the pattern match nothing, so no needle can be read off it.
    needle = "" if compiled.flags & re.VERBOSE else _needle(pattern)
    return _Rule(pattern, "regex", pattern, needle)


def _needle(pattern: str) -> str:
    """The longest run of plain characters every match of ``pattern`` contains, lower-cased.

    Only characters outside groups, classes and quantifiers count, and a top-level ``|``
    gives none, so the run is always required; the test suite checks this on every rule.
    """
    best, run = "", ""
    i, size = 0, len(pattern)
    while i < size:
        char = pattern[i]
        literal: str | None = None
        if char == "\\":
            escaped = pattern[i + 1 : i + 2]
            hex_code = re.fullmatch(r"x[0-9A-Fa-f]{2}", pattern[i + 1 : i + 4])
            if hex_code:
                literal, i = chr(int(hex_code.group()[1:], 16)), i + 4
            else:
                literal = escaped if escaped and not escaped.isalnum() else None
                i += 2
        elif char == "[":
            i = _skip_class(pattern, i)
        elif char == "(":
            i = _skip_group(pattern, i)
        elif char == "|":
            return ""
        elif char in ".^$":
            i += 1
        elif char in "?*+{":
            # The character before a quantifier is optional or repeated: drop it.
            run = run[:-1]
            i = pattern.find("}", i) + 1 if char == "{" else i + 1
            if i == 0:
                return ""
            if i < size and pattern[i] in "?+":
                i += 1
            best = max(best, run, key=len)
            run = ""
            continue
        else:
            literal, i = char, i + 1
        if literal is None:
            best = max(best, run, key=len)
            run = ""
        else:
            run += literal
    return max(best, run, key=len).lower()


def _skip_class(pattern: str, start: int) -> int:
    """The index just past the character class opening at ``start``."""
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _skip_group(pattern: str, start: int) -> int:
    """The index just past the group opening at ``start``."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _skip_class(pattern, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any of ``words``, shaped as a trie so each position costs
    a few steps instead of one try per word."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(trie)


def _emit(node: _Trie) -> str:
    if "" in node:
        # A word ends here: longer words through this node can only match where it does.
        return ""
    branches = [re.escape(char) + _emit(child) for char, child in sorted(node.items())]
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


_NEVER = re.compile(r"(?!)")
_SOLO = re.compile(r"\\[1-9]|\(\?P=|\(\?[aiLmsux]+\)")


def _compile(rules: Sequence[_Rule]) -> Callable[[str], bool]:
    """The fast verdict: True when any rule hits ``user_agent``."""
    words = [rule.text for rule in rules if rule.kind == "word"]
    prefixes = [rule.text for rule in rules if rule.kind == "prefix"]
    regexes = [rule for rule in rules if rule.kind == "regex"]
    # Rules with a backreference or a global inline flag cannot share one alternation
    # (group numbers shift; flags must lead the pattern): they run alone, like sieved ones.
    alone = [r for r in regexes if r.needle or _SOLO.search(r.text)]
    together = [r.text for r in regexes if r not in alone]
    try:
        combined = "|".join(f"(?:{p})" for p in together)
        regex_rx = re.compile(combined, re.IGNORECASE) if together else _NEVER
    except re.error:
        alone, regex_rx = regexes, _NEVER
    sieved = tuple((r.needle, re.compile(r.text, re.IGNORECASE)) for r in alone)
    word_rx = re.compile(_trie_pattern(words)) if words else _NEVER
    prefix_rx = re.compile(_trie_pattern(prefixes)) if prefixes else _NEVER

    def is_bot(user_agent: str) -> bool:
        lowered = user_agent.lower()
        if prefix_rx.match(lowered) or word_rx.search(lowered):
            return True
        for needle, rx in sieved:
            if needle in lowered and rx.search(user_agent):
                return True
        return regex_rx.search(user_agent) is not None

    return is_bot


def parse_rules(text: str) -> list[str]:
    """The rules in a patterns file: one per line, ``#`` comments and blank lines skipped."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append(line)
    return rules


def shipped_rules() -> list[str]:
    """The rules shipped in ``republish/pixel/bot_rules/patterns.txt``."""
    path = resources.files("republish.pixel").joinpath("bot_rules", "patterns.txt")
    return parse_rules(path.read_text(encoding="utf-8"))


class BotFilter:
    """Tells bots from browsers by User-Agent, remembering the last ``cache_size`` verdicts."""

    def __init__(self, patterns: Sequence[str] | None = None, cache_size: int = 10_000) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must be 0 or more")
        if isinstance(patterns, str):
            raise TypeError("patterns is a sequence of regexes, not one string")
        self.patterns: tuple[str, ...] = tuple(shipped_rules() if patterns is None else patterns)
        self._rules = tuple(_to_rule(pattern) for pattern in self.patterns)
        self._classify = _compile(self._rules)
        # The cache wraps a closure over the compiled regexes, not a bound method, so a
        # filter holds no reference cycle through its own cache.
        self._cached = functools.lru_cache(maxsize=cache_size)(self._classify)
        self._max_size = cache_size

    def is_bot(self, user_agent: str | None) -> bool:
        """True when the User-Agent is empty, oversized, or matches a rule (cached)."""
        if not user_agent or not user_agent.strip() or len(user_agent) > MAX_UA_CHARS:
            return True
        return self._cached(user_agent)

    def match(self, user_agent: str | None) -> str | None:
        """The first rule that flags the User-Agent, or None for a browser (not cached)."""
        if not user_agent or not user_agent.strip():
            return EMPTY_RULE
        if len(user_agent) > MAX_UA_CHARS:
            return OVERSIZED_RULE
        lowered = user_agent.lower()
        for rule in self._rules:
            if rule.hits(user_agent, lowered):
                return rule.pattern
        return None

    def cache_info(self) -> CacheStats:
        """How the per-User-Agent cache is doing."""
        info = self._cached.cache_info()
        return CacheStats(info.hits, info.misses, info.currsize, self._max_size)

    def cache_clear(self) -> None:
        """Forget every cached verdict."""
        self._cached.cache_clear()


@functools.cache
def default_filter() -> BotFilter:
    """The filter with the shipped rules, built once on first use."""
    return BotFilter()
