"""Who a story came from when it is not the publisher's own: wires and partners.

Pure. Markers are looked for only where they live: a dateline at the opening of the
first paragraph (``JERUSALEM (JTA) —``), a closing wire sign-off (``— Reuters``), credit
lines in the last paragraphs or the page's credit text ("This article originally appeared
in Haaretz"), and wire bylines ("The Associated Press", "JTA Staff"). An agency named in
passing ("told the Associated Press") is not an origin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from republish.models import Origin

#: Spellings of wires and partners, lower-cased, to the canonical origin name.
ALIASES: dict[str, str] = {
    "ap": "AP",
    "associated press": "AP",
    "the associated press": "AP",
    "reuters": "Reuters",
    "thomson reuters": "Reuters",
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "bloomberg": "Bloomberg",
    "bloomberg news": "Bloomberg",
    "jta": "JTA",
    "jewish telegraphic agency": "JTA",
    "the jewish telegraphic agency": "JTA",
    "haaretz": "Haaretz",
    "upi": "UPI",
    "united press international": "UPI",
    "dpa": "dpa",
    "deutsche presse-agentur": "dpa",
    "efe": "EFE",
    "ansa": "ANSA",
    "kyodo": "Kyodo",
    "kyodo news": "Kyodo",
    "xinhua": "Xinhua",
    "xinhua news agency": "Xinhua",
    "tns": "TNS",
    "tribune news service": "TNS",
    "tribune content agency": "TNS",
    "cnn": "CNN Wire",
    "cnn wire": "CNN Wire",
    "pti": "PTI",
    "press trust of india": "PTI",
    "ians": "IANS",
    "aap": "AAP",
    "australian associated press": "AAP",
    "cp": "The Canadian Press",
    "canadian press": "The Canadian Press",
    "the canadian press": "The Canadian Press",
    "pa": "PA Media",
    "pa media": "PA Media",
    "yonhap": "Yonhap",
    "yonhap news agency": "Yonhap",
    "anadolu": "Anadolu",
    "anadolu agency": "Anadolu",
    "tass": "TASS",
}
_AGENCY = (
    r"AP|Reuters|AFP|Bloomberg(?: News)?|JTA|UPI|dpa|EFE|ANSA|Kyodo|Xinhua|CNN|TNS|PTI|IANS"
    r"|AAP|CP|Yonhap|TASS"
)
_DASH = r"(?:--?|\u2013|\u2014|\u2012|\u2015)"
# "JERUSALEM (JTA) —", "WASHINGTON, Nov 3 (Reuters) -", "(AP) —", "(Bloomberg) --"
_DATELINE = re.compile(
    rf"^(?:[A-Z][A-Za-z.'\u2019\- ]{{1,40}}(?:,\s*[A-Za-z0-9.' ]{{1,30}})?\s*)?"
    rf"\((?P<agency>{_AGENCY})\)\s*{_DASH}"
)
# A closing sign-off: the last paragraph ends "— Reuters" or is just "Reuters".
_SIGN_OFF = re.compile(
    rf"(?:^|\s){_DASH}\s*(?P<agency>{_AGENCY}|Associated Press|Agence France-Presse)\s*\.?$"
)
_NAME = (
    r"(?P<name>(?:[Tt]he\s+)?[A-Z0-9][\w'\u2019&.\-]*"
    r"(?:\s+(?:of|for|the|and|&|on|[A-Z0-9][\w'\u2019&.\-]*)){0,6})"
)
_CREDITS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b(?:was\s+|is\s+)?originally\s+(?:appeared|published|ran|posted|produced)"
        rf"\s+(?:in|on|by|at|with)\s+{_NAME}"
    ),
    re.compile(
        rf"\b[Rr]e(?:published|printed)\s+with\s+(?:the\s+)?permission\s+(?:of|from)\s+{_NAME}"
    ),
    re.compile(rf"\b[Rr]eprinted\s+from\s+{_NAME}"),
    re.compile(rf"\b[Dd]istributed\s+by\s+{_NAME}"),
    re.compile(rf"\b[Tt]his\s+(?:article|story)\s+(?:is|was)\s+(?:by|from)\s+{_NAME}"),
    re.compile(
        r"(?:\u00a9|\(c\)|[Cc]opyright)\s*(?:\d{4}\s+)?"
        r"(?P<name>(?:The\s+)?Associated Press|Reuters|Agence France-Presse|AFP|Bloomberg"
        r"(?: L\.P\.| News)?|Jewish Telegraphic Agency|JTA)\b"
    ),
)
_MONTHS = re.compile(
    r"^(?:the\s+)?(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sept?(ember)?"
    r"|oct(ober)?|nov(ember)?|dec(ember)?)\b|^\d|^(this|our|its)$",
    re.I,
)
_TRAILING_JOINERS = re.compile(r"(?:\s+(?:of|for|the|and|&|on))+$")
_WIRE_BYLINE = re.compile(
    r"^(?:by\s+)?(?P<name>(?:the\s+)?associated press|ap|reuters|afp|agence france-presse|"
    r"bloomberg(?: news)?|jta|jewish telegraphic agency|upi|united press international|"
    r"haaretz|xinhua|kyodo(?: news)?|dpa|efe|tribune news service|tribune content agency|"
    r"pti|press trust of india|ians|aap|australian associated press|(?:the\s+)?canadian press|"
    r"pa media|yonhap(?: news agency)?|anadolu(?: agency)?|tass)"
    r"(?:\s+(?:staff|wire|news service|reporters?|correspondents?))?\.?$",
    re.I,
)


def canonical_origin(name: str) -> str:
    """The canonical spelling of a wire or partner: "Associated Press" -> "AP"."""
    cleaned = " ".join(name.split()).strip(" .,;:")
    # "appeared in the Saltmarsh Gazette": a lower-case article is not part of the name.
    if cleaned.startswith("the "):
        cleaned = cleaned[4:]
    return ALIASES.get(cleaned.casefold(), cleaned)


def _blocks(body_text: str) -> list[str]:
    return [block.strip() for block in re.split(r"\n\s*\n", body_text) if block.strip()]


def _from_dateline(blocks: list[str]) -> Origin | None:
    for block in blocks[:2]:
        match = _DATELINE.match(block[:160])
        if match:
            return Origin(
                canonical_origin(match.group("agency")), match.group(0).strip(), "dateline"
            )
    return None


def _from_sign_off(blocks: list[str]) -> Origin | None:
    if not blocks:
        return None
    last = blocks[-1]
    if re.fullmatch(rf"{_DASH}?\s*(?:{_AGENCY})\.?", last):
        agency = last.strip(" .-\u2013\u2014")
        return Origin(canonical_origin(agency), last, "dateline")
    match = _SIGN_OFF.search(last[-60:])
    if match:
        return Origin(canonical_origin(match.group("agency")), match.group(0).strip(), "dateline")
    return None


#: Words that follow "originally appeared in" without naming a publication.
_NOT_PUBLICATIONS = frozenset(
    {
        "english", "spanish", "french", "german", "hebrew", "yiddish", "arabic", "russian",
        "chinese", "portuguese", "italian", "ukrainian", "print", "a", "an",
    }
)  # fmt: skip


def _credit_name(raw: str) -> str:
    name = _TRAILING_JOINERS.sub("", raw.strip()).rstrip(".,;:'\u2019")
    # "The Harbor Ledger's print edition" names The Harbor Ledger.
    name = re.sub(r"['\u2019]s\b.*$", "", name).strip()
    if _MONTHS.match(name) or name.casefold() in _NOT_PUBLICATIONS:
        return ""
    return name


def _from_credit(texts: list[str]) -> Origin | None:
    for text in texts:
        for line in text.splitlines():
            line = " ".join(line.split())
            if not line or len(line) > 500:
                continue
            for pattern in _CREDITS:
                match = pattern.search(line)
                if match:
                    name = _credit_name(match.group("name"))
                    if name:
                        start = line.rfind(". ", 0, match.start()) + 1
                        end = match.start("name") + len(name)
                        evidence = line[start:end].strip() + (
                            "." if line[end : end + 1] == "." else ""
                        )
                        return Origin(canonical_origin(name), evidence, "credit")
    return None


def _from_bylines(bylines: Sequence[str]) -> Origin | None:
    for byline in bylines:
        text = " ".join(byline.split())
        match = _WIRE_BYLINE.match(text)
        if match:
            return Origin(canonical_origin(match.group("name")), text, "byline")
    return None


def detect_origin(
    body_text: str, bylines: Sequence[str] = (), *, credit_text: str = ""
) -> Origin | None:
    """The wire or partner a story came from, with the evidence, or None if it is ours.

    ``body_text`` is the plain text of the body (blocks separated by blank lines);
    ``credit_text`` is any credit or syndication note found outside the body.
    """
    blocks = _blocks(body_text)
    return (
        _from_dateline(blocks)
        or _from_bylines(bylines)
        or _from_sign_off(blocks)
        or _from_credit([credit_text, *blocks[-3:]] if credit_text else blocks[-3:])
    )
