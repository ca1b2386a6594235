"""The pixel's bot filter: shipped rules, thresholds on labelled sets, cases, cache."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
import yaml

from republish.pixel.bots import (
    EMPTY_RULE,
    MAX_UA_CHARS,
    OVERSIZED_RULE,
    BotFilter,
    default_filter,
    parse_rules,
    shipped_rules,
)

BROWSERS = {
    "chrome-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "firefox-linux": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 "
    "Firefox/133.0",
    "safari-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "safari-iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "chrome-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "samsung-internet": "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "cubot-phone": "Mozilla/5.0 (Linux; Android 11; CUBOT_X30 Build/RP1A.200720.011) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.210 Mobile Safari/537.36",
    "cubot-kingkong": "Mozilla/5.0 (Linux; Android 9; Cubot KingKong Build/PPR1.180610.011) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
    "facebook-in-app": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/442.0.0.35.108;"
    "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBLC/en_US;FBOP/5]",
    "instagram-in-app": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 307.0.0.34.111 "
    "(iPhone14,5; iOS 17_1; en_US; en; scale=3.00; 1170x2532; 530327223)",
    "opera": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "yandex-browser": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 YaBrowser/24.12.0.0 Safari/537.36",
    "google-app-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/290.0.579396604 Mobile/15E148 Safari/604.1",
    "android-webview": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro Build/AP2A.240805.005; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/127.0.6533.103 Mobile "
    "Safari/537.36",
}

BOTS = {
    # Headless and scripted clients
    "headless-chrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.109 Safari/537.36",
    "phantomjs": "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
    "PhantomJS/2.1.1 Safari/538.1",
    "lighthouse": "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "curl": "curl/8.5.0",
    "wget": "Wget/1.21.4",
    "python-requests": "python-requests/2.31.0",
    "python-httpx": "python-httpx/0.27.0",
    "go-http-client": "Go-http-client/2.0",
    "okhttp": "okhttp/4.12.0",
    "scrapy": "Scrapy/2.11.0 (+https://scrapy.org)",
    # Search engines
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "googlebot-smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.199 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "applebot": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; "
    "+http://www.apple.com/go/applebot)",
    # Link-preview fetchers
    "slackbot": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "slack-imgproxy": "Slack-ImgProxy (+https://api.slack.com/robots)",
    "facebookexternalhit": "facebookexternalhit/1.1 "
    "(+http://www.facebook.com/externalhit_uatext.php)",
    "twitterbot": "Twitterbot/1.0",
    "whatsapp": "WhatsApp/2.23.20.0 A",
    "discordbot": "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "telegrambot": "TelegramBot (like TwitterBot)",
    "linkedinbot": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient "
    "+http://www.linkedin.com)",
    "mastodon": "http.rb/5.1.1 (Mastodon/4.2.1; +https://social.example/)",
    "bluesky-cardyb": "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
    # AI fetchers
    "gptbot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot",
    "chatgpt-user": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; "
    "ChatGPT-User/1.0; +https://openai.com/bot",
    "claudebot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; "
    "ClaudeBot/1.0; +claudebot@anthropic.com)",
    # Feed readers
    "feedly": "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 42 subscribers; "
    "like FeedFetcher-Google)",
    "feedbin": "Feedbin feed-id:1234 - 42 subscribers",
    "inoreader": "Mozilla/5.0 (compatible; inoreader.com; 12 subscribers)",
    "newsblur": "NewsBlur Feed Fetcher - 5 subscribers - https://www.newsblur.com/site/1/x",
    "feedfetcher-google": "FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)",
    "miniflux": "Mozilla/5.0 (compatible; Miniflux/2.0.50; +https://miniflux.app)",
    "freshrss": "FreshRSS/1.23.1 (Linux; https://freshrss.org)",
    "tiny-tiny-rss": "Tiny Tiny RSS/22.08 (https://tt-rss.org/)",
    # Uptime monitors
    "uptimerobot": "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "pingdom": "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "statuscake": "Mozilla/5.0 (compatible; StatusCake)",
    "better-uptime": "Better Uptime Bot Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169 Safari/537.36",
    "site24x7": "Site24x7",
}

USER_AGENTS = Path("data") / "security" / "user-agents"


@pytest.mark.parametrize("user_agent", list(BROWSERS.values()), ids=list(BROWSERS))
def test_browsers_are_not_bots(user_agent: str) -> None:
    bots = default_filter()
    assert not bots.is_bot(user_agent)
    assert bots.match(user_agent) is None


@pytest.mark.parametrize("user_agent", list(BOTS.values()), ids=list(BOTS))
def test_bots_are_flagged_with_the_rule_that_matched(user_agent: str) -> None:
    bots = default_filter()
    assert bots.is_bot(user_agent)
    rule = bots.match(user_agent)
    assert rule in bots.patterns
    assert rule is not None and re.search(rule, user_agent, re.IGNORECASE)


@pytest.mark.parametrize(
    "user_agent", [None, "", "   ", "\t"], ids=["none", "empty", "spaces", "tab"]
)
def test_a_missing_user_agent_is_a_bot(user_agent: str | None) -> None:
    bots = BotFilter()
    assert bots.is_bot(user_agent)
    assert bots.match(user_agent) == EMPTY_RULE
    assert bots.cache_info().size == 0


def test_an_oversized_user_agent_is_a_bot_and_not_cached() -> None:
    bots = BotFilter()
    huge = BROWSERS["chrome-windows"] + " x" * MAX_UA_CHARS
    assert bots.is_bot(huge)
    assert bots.match(huge) == OVERSIZED_RULE
    assert bots.cache_info().size == 0


def test_the_same_user_agent_twice_hits_the_cache() -> None:
    bots = BotFilter()
    assert not bots.is_bot(BROWSERS["firefox-linux"])
    assert not bots.is_bot(BROWSERS["firefox-linux"])
    assert bots.is_bot(BOTS["curl"])
    info = bots.cache_info()
    assert (info.hits, info.misses, info.size) == (1, 2, 2)
    bots.cache_clear()
    assert bots.cache_info().size == 0


def test_the_cache_is_bounded() -> None:
    bots = BotFilter(cache_size=3)
    verdicts = [bots.is_bot(f"ExampleReader/{n}.0 (like a browser)") for n in range(10)]
    verdicts += [bots.is_bot(f"curl/8.{n}") for n in range(10)]
    assert verdicts == [False] * 10 + [True] * 10
    assert bots.cache_info().size == 3
    assert bots.cache_info().max_size == 3
    uncached = BotFilter(cache_size=0)
    assert uncached.is_bot("curl/8.0") and uncached.cache_info().size == 0
    with pytest.raises(ValueError):
        BotFilter(cache_size=-1)


def test_default_filter_is_built_once_from_the_shipped_rules() -> None:
    assert default_filter() is default_filter()
    assert default_filter().patterns == tuple(shipped_rules())
    assert len(shipped_rules()) > 200


def test_own_patterns_are_case_insensitive_and_validated() -> None:
    bots = BotFilter(["newsroombot", r"^acme/\d"])
    assert bots.is_bot("Mozilla/5.0 (compatible; NewsroomBot/1.0)")
    assert bots.is_bot("ACME/2 (Linux)")
    assert not bots.is_bot("Mozilla/5.0 ACME/2")
    assert not BotFilter([]).is_bot(BROWSERS["edge"])
    for bad in ["", "  ", "(unclosed"]:
        with pytest.raises(ValueError):
            BotFilter([bad])
    with pytest.raises(TypeError):
        BotFilter("curl")


# Each fast path (word trie, anchored words, needle before the regex, one alternation)
# must say exactly what a plain re.search of every rule says.
TRICKY_RULES = [
    r"ab[cd]ef",
    r"colou?r",
    r"x(?:y|z)w",
    r"^foo|bar",
    r"qa{2}b",
    r"\x20daum[ /]",
    r"(?<! cu)bots?(?:\b|_)",
    r"^zed\.",
    r"tail$",
    r"^[^ ]{12,}$",
    r"lazy.*?end",
    r"(?x) spi der \d",
    r"a\.b{0}c",
    r"(ab)\1",
]
TRICKY_UAS = [
    "abcef",
    "ABDEF now",
    "abef",
    "my color",
    "COLOUR",
    "xyw",
    "xzw",
    "xw",
    "foo first",
    "not foo but bar",
    "qaab",
    "qab",
    "Mozilla daum/1",
    "daum/1",
    "cubot",
    "a bots_here",
    "Zed.app",
    "a zed.app",
    "a tail",
    "tail a",
    "NoSpacesHereAtAll",
    "lazy and end",
    "spider1",
    "spi der1",
    "a.c",
    "a.bc",
    "xABab",
]


@pytest.mark.parametrize("rule", TRICKY_RULES)
def test_fast_paths_agree_with_plain_regex_search(rule: str) -> None:
    bots = BotFilter([rule], cache_size=0)
    for ua in TRICKY_UAS:
        expected = re.search(rule, ua, re.IGNORECASE) is not None
        assert bots.is_bot(ua) == expected, ua
        assert (bots.match(ua) == rule) == expected, ua


def test_parse_rules_skips_comments_and_keeps_escaped_spaces() -> None:
    text = "# header\n\nfoo\n  # indented comment\n\\x20bar\nbaz\\x20 \n"
    assert parse_rules(text) == ["foo", "\\x20bar", "baz\\x20"]


def test_rules_ship_with_their_licences_and_source() -> None:
    folder = resources.files("republish.pixel").joinpath("bot_rules")
    names = {item.name for item in folder.iterdir()}
    assert {"patterns.txt", "SOURCE.md", "LICENSE-Unlicense-isbot"} <= names
    assert "LICENSE-MIT-monperrus" in names
    header = folder.joinpath("patterns.txt").read_text(encoding="utf-8")[:3000]
    assert "Unlicense" in header and "MIT" in header


# --- the labelled sets in ../shared ---------------------------------------------------


def _yaml(path: Path) -> object:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def _grouped(path: Path) -> list[str]:
    data = _yaml(path)
    assert isinstance(data, dict)
    return [str(ua) for uas in data.values() for ua in uas]


def _matomo(path: Path) -> list[str]:
    data = _yaml(path)
    assert isinstance(data, list)
    return [str(entry["user_agent"]) for entry in data]


@pytest.fixture(scope="module")
def labelled(shared_dir: Path) -> dict[str, list[str]]:
    """The labelled User-Agent sets, by name."""
    root = shared_dir / USER_AGENTS
    monperrus = json.loads(
        (root / "monperrus-crawler-user-agents" / "crawler-user-agents.json").read_text()
    )
    return {
        "bots/monperrus": [ua for entry in monperrus for ua in entry["instances"]],
        "bots/isbot": _grouped(root / "isbot-fixtures" / "crawlers.yml"),
        "bots/matomo": _matomo(root / "matomo-device-detector" / "fixtures-bots.yml"),
        "top100": json.loads((root / "microlink-top-user-agents" / "index.json").read_text()),
        "browsers/isbot": _grouped(root / "isbot-fixtures" / "browsers.yml"),
        "humans/matomo": _matomo(root / "matomo-device-detector" / "fixtures-desktop.yml")
        + _matomo(root / "matomo-device-detector" / "fixtures-smartphone.yml"),
    }


@pytest.mark.shared
def test_at_least_99_percent_of_labelled_bots_are_flagged(
    labelled: dict[str, list[str]],
) -> None:
    bots = default_filter()
    uas = labelled["bots/monperrus"] + labelled["bots/isbot"] + labelled["bots/matomo"]
    assert len(uas) > 4000
    missed = [ua for ua in uas if not bots.is_bot(ua)]
    assert len(missed) <= 0.01 * len(uas), missed


@pytest.mark.shared
def test_none_of_the_top_100_browser_user_agents_is_flagged(
    labelled: dict[str, list[str]],
) -> None:
    bots = default_filter()
    assert len(labelled["top100"]) == 100
    assert [(ua, bots.match(ua)) for ua in labelled["top100"] if bots.is_bot(ua)] == []


@pytest.mark.shared
def test_at_most_2_percent_of_matomo_non_bots_are_flagged(
    labelled: dict[str, list[str]],
) -> None:
    bots = default_filter()
    uas = labelled["humans/matomo"]
    assert len(uas) > 1000
    flagged = [(ua, bots.match(ua)) for ua in uas if bots.is_bot(ua)]
    assert len(flagged) <= 0.02 * len(uas), flagged


@pytest.mark.shared
def test_few_of_isbots_browser_user_agents_are_flagged(labelled: dict[str, list[str]]) -> None:
    # Not a goal of the issue: a guard. The few flagged are fetchers isbot calls browsers
    # (GTmetrix, Amzn-User, coding agents...), flagged on purpose (bot_rules/SOURCE.md).
    bots = default_filter()
    uas = labelled["browsers/isbot"]
    flagged = [(ua, bots.match(ua)) for ua in uas if bots.is_bot(ua)]
    assert len(flagged) <= 0.02 * len(uas), flagged


@pytest.mark.shared
def test_fast_paths_agree_with_plain_regex_on_every_labelled_user_agent(
    labelled: dict[str, list[str]],
) -> None:
    bots = BotFilter(cache_size=0)
    plain = [re.compile(rule, re.IGNORECASE) for rule in bots.patterns]
    disagree = []
    for ua in (ua for uas in labelled.values() for ua in uas):
        expected = any(rx.search(ua) for rx in plain)
        if bots.is_bot(ua) != expected or (bots.match(ua) is not None) != expected:
            disagree.append(ua)
    assert disagree == []
