"""Origin detection: wire datelines, credit lines and bylines, and what must not count."""

from __future__ import annotations

import pytest

from republish.ingest.origin import canonical_origin, detect_origin

BODY = "The council met for three hours on Tuesday night.\n\nMembers voted 4-3 to approve it."

# (id, body_text, bylines, credit_text, expected name or None, expected kind or None)
CASES: list[tuple[str, str, tuple[str, ...], str, str | None, str | None]] = [
    # Datelines at the opening of the first paragraph.
    ("jta-city", "JERUSALEM (JTA) \u2014 The plant opened.\n\nMore.", (), "", "JTA", "dateline"),
    ("jta-bare", "(JTA) \u2014 The plant opened on Tuesday.", (), "", "JTA", "dateline"),
    ("ap-bare", "(AP) \u2014 Stocks rose sharply.", (), "", "AP", "dateline"),
    ("ap-city", "NEW YORK (AP) \u2014 Stocks rose sharply.", (), "", "AP", "dateline"),
    ("ap-en-dash", "DENVER (AP) \u2013 Snow closed the pass.", (), "", "AP", "dateline"),
    ("reuters-hyphen", "WASHINGTON (Reuters) - The Senate voted.", (), "", "Reuters", "dateline"),
    (
        "reuters-date",
        "LONDON, Nov 3 (Reuters) - Shares in the lender fell.",
        (),
        "",
        "Reuters",
        "dateline",
    ),
    ("bloomberg", "(Bloomberg) -- Oil slipped for a third day.", (), "", "Bloomberg", "dateline"),
    ("afp", "PARIS (AFP) \u2014 Museums reopened.", (), "", "AFP", "dateline"),
    ("upi", "CHICAGO (UPI) -- A storm hit the city.", (), "", "UPI", "dateline"),
    (
        "dateline-second-block",
        "Listen to this article\n\nROME (AP) \u2014 The vote was close.",
        (),
        "",
        "AP",
        "dateline",
    ),
    (
        "sign-off-reuters",
        BODY + "\n\nThe talks resume Monday. \u2014 Reuters",
        (),
        "",
        "Reuters",
        "dateline",
    ),
    ("sign-off-alone", BODY + "\n\n\u2014 AFP", (), "", "AFP", "dateline"),
    # Credit lines in the last paragraphs or the page's credit text.
    (
        "haaretz-appeared",
        BODY + "\n\nThis article originally appeared in Haaretz.",
        (),
        "",
        "Haaretz",
        "credit",
    ),
    (
        "published-by-partner",
        BODY + "\n\nThis story was originally published by CalMatters and is republished here.",
        (),
        "",
        "CalMatters",
        "credit",
    ),
    (
        "published-by-the-partner",
        BODY + "\n\nThis story was originally published by The Tidewater Tribune.",
        (),
        "",
        "The Tidewater Tribune",
        "credit",
    ),
    (
        "appeared-on-lowercase-the",
        BODY + "\n\nThis piece originally appeared on the Saltmarsh Gazette website.",
        (),
        "",
        "Saltmarsh Gazette",
        "credit",
    ),
    (
        "republished-permission",
        BODY + "\n\nRepublished with permission of the Jewish Telegraphic Agency.",
        (),
        "",
        "JTA",
        "credit",
    ),
    (
        "reprinted-from",
        BODY + "\n\nReprinted from Haaretz with permission.",
        (),
        "",
        "Haaretz",
        "credit",
    ),
    (
        "distributed-by-tca",
        BODY + "\n\nDistributed by Tribune Content Agency, LLC.",
        (),
        "",
        "TNS",
        "credit",
    ),
    (
        "copyright-ap",
        BODY + "\n\nCopyright 2026 The Associated Press. All rights reserved.",
        (),
        "",
        "AP",
        "credit",
    ),
    (
        "credit-text-outside-body",
        BODY,
        (),
        "This article originally appeared in Haaretz.",
        "Haaretz",
        "credit",
    ),
    # Wire bylines.
    ("byline-jta-staff", BODY, ("JTA Staff",), "", "JTA", "byline"),
    ("byline-ap-full", BODY, ("Associated Press",), "", "AP", "byline"),
    ("byline-by-the-ap", BODY, ("By The Associated Press",), "", "AP", "byline"),
    ("byline-reuters-staff", BODY, ("Reuters Staff",), "", "Reuters", "byline"),
    ("byline-afp", BODY, ("AFP",), "", "AFP", "byline"),
    ("byline-second-author", BODY, ("Ana Ruiz", "Associated Press"), "", "AP", "byline"),
    ("byline-bloomberg-news", BODY, ("Bloomberg News",), "", "Bloomberg", "byline"),
    ("byline-pti", BODY, ("PTI",), "", "PTI", "byline"),
    ("byline-canadian-press", BODY, ("The Canadian Press",), "", "The Canadian Press", "byline"),
    (
        "dateline-pti",
        "NEW DELHI (PTI) \u2014 The monsoon arrived early.",
        (),
        "",
        "PTI",
        "dateline",
    ),
    (
        "dateline-cp",
        "TORONTO (CP) \u2014 Transit fares rose.",
        (),
        "",
        "The Canadian Press",
        "dateline",
    ),
    # Negatives: the agency named in passing, quoted, or as an ordinary word.
    ("told-the-ap", "The mayor told the Associated Press that she would run.", (), "", None, None),
    (
        "according-to-reuters",
        "The deal is worth $2 billion, according to Reuters.",
        (),
        "",
        None,
        None,
    ),
    (
        "quoting-ap-report",
        BODY + "\n\nAn AP report last year found the same pattern in 14 states.",
        (),
        "",
        None,
        None,
    ),
    ("local-dateline", "SPRINGFIELD \u2014 The city council met on Tuesday.", (), "", None, None),
    (
        "local-tv-dateline",
        "SPRINGFIELD (WXYZ) \u2014 A fire closed Main Street.",
        (),
        "",
        None,
        None,
    ),
    ("ap-stylebook", "The AP Stylebook now allows the singular they.\n\nMore.", (), "", None, None),
    ("ap-exam", "Students who pass the AP exam earn college credit.", (), "", None, None),
    ("ap-photo-caption", "(AP Photo/Jane Doe) Crowds gathered downtown.", (), "", None, None),
    (
        "reuters-mid-story",
        BODY + "\n\nIn a statement to Reuters, the company denied it.\n\nThe end.",
        (),
        "",
        None,
        None,
    ),
    (
        "dateline-deep-in-story",
        BODY + "\n\nWASHINGTON (AP) \u2014 quoted from a wire report.\n\nThe end.",
        (),
        "",
        None,
        None,
    ),
    ("ordinary-bylines", BODY, ("Ana Ruiz", "Tom Becker"), "", None, None),
    ("person-named-like-agency", BODY, ("Apollonia Reuters-Smith",), "", None, None),
    (
        "originally-published-date",
        BODY + "\n\nThis story was originally published on Nov. 3, 2026.",
        (),
        "",
        None,
        None,
    ),
    (
        "credit-line-mid-story",
        "This article originally appeared in Haaretz, the editor said.\n\n"
        + BODY
        + "\n\nOne.\n\nTwo.\n\nThree.",
        (),
        "",
        None,
        None,
    ),
    ("empty", "", (), "", None, None),
    (
        "originally-in-a-language",
        BODY + "\n\nThis story originally appeared in Spanish.",
        (),
        "",
        None,
        None,
    ),
    (
        "possessive-print-edition",
        BODY + "\n\nThis article originally appeared in The Tidewater Tribune's print edition.",
        (),
        "",
        "The Tidewater Tribune",
        "credit",
    ),
    ("bloomberg-in-passing", "Bloomberg reported the merger first.\n\nMore.", (), "", None, None),
]


@pytest.mark.parametrize(
    ("body", "bylines", "credit", "name", "kind"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_detect_origin(
    body: str, bylines: tuple[str, ...], credit: str, name: str | None, kind: str | None
) -> None:
    found = detect_origin(body, bylines, credit_text=credit)
    if name is None:
        assert found is None
    else:
        assert found is not None
        assert (found.name, found.kind) == (name, kind)
        # The evidence is text that is really there.
        assert found.evidence
        assert found.evidence in body + "\n" + credit + "\n" + "\n".join(bylines)


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert sum(1 for case in CASES if case[4] is None) >= 12


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Associated Press", "AP"),
        ("the associated press", "AP"),
        ("Jewish Telegraphic Agency", "JTA"),
        ("Agence France-Presse", "AFP"),
        ("Tribune Content Agency", "TNS"),
        ("  Reuters. ", "Reuters"),
        ("Saltmarsh Gazette", "Saltmarsh Gazette"),
    ],
)
def test_canonical_origin(raw: str, name: str) -> None:
    assert canonical_origin(raw) == name
