# ruff: noqa: E501  (page templates: one line of HTML per line of output)
"""Write the newsroom-chrome page set: ``tests/data/chrome/*.html`` and ``manifest.json``.

Run from the project root (the output is committed; re-running rewrites it identically)::

    .venv/bin/python bench/extract/make_chrome_pages.py

Six fictional stories written for the project, each rendered in four CMS-like skins
(WordPress-like, Arc-like, Drupal-like, Ghost-like), with newsroom chrome written for the
project placed around and inside the story: skip links, browser notices, donation
appeals, newsletter sign-ups, "republish this story" boxes, related-story lists, share
bars, comment prompts, ads and author bios. Some chrome carries telltale class names,
some only telltale text (class names such as ``module`` or ``box``).

The manifest records for every page its story paragraphs (which must all be kept), its
chrome phrases (none may appear in the body) and its metadata. The Arc-like pages carry
JSON-LD; the others express metadata only through meta tags, microdata and visible
markup (bylines, ``<time>``, tag links), which is the set the metadata rates are
measured on.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "chrome"

STORIES = [
    {
        "slug": "ferry-night-route",
        "site": "harborledger.example",
        "site_name": "The Harbor Ledger",
        "headline": "Night ferry to Gull Island keeps running through March",
        "dek": "The county found money for one more winter of late sailings.",
        "bylines": ["Ines Valcourt", "Teodor Mbeki-Lund"],
        "published": "2026-11-04T02:30:00+00:00",
        "updated": "2026-11-04T17:15:00+00:00",
        "section": "Local Government",
        "tags": ["ferries", "Gull Island", "county budget"],
        "paragraphs": [
            "The county board voted 5-2 on Tuesday to keep the 9:40 p.m. ferry to Gull "
            "Island running until the end of March, reversing a plan to cut it in December.",
            "Night-shift workers at the island's fish plant had packed two earlier meetings "
            "to say the last boat was the only way home after their shifts end.",
            "The extension costs about $210,000, most of it covered by a transfer from the "
            "harbor reserve fund and a small surcharge on weekend car fares.",
            "Board member Rosalind Achebe, who voted against the plan, said the reserve fund "
            "was meant for dock repairs and would be empty by 2028 at this rate.",
            "The ferry district will present a longer-term schedule at the board's first "
            "meeting in February, including a smaller boat for the late runs.",
        ],
        "heading": "What the extension costs",
        "items": [
            "a one-time transfer from the harbor reserve fund",
            "a 50-cent surcharge on weekend car fares",
            "a state grant the district applied for in September",
        ],
        "quote": "If the last boat goes, half of us lose our jobs or our homes, one or the other.",
    },
    {
        "slug": "library-reading-room",
        "site": "millbrooksentinel.example",
        "site_name": "Millbrook Sentinel",
        "headline": "Millbrook library reopens its reading room eleven months after the flood",
        "dek": "Volunteers dried four thousand books by hand.",
        "bylines": ["Odile Frankel"],
        "published": "2026-10-02T14:00:00+00:00",
        "updated": None,
        "section": "Community",
        "tags": ["libraries", "flood recovery"],
        "paragraphs": [
            "The reading room of the Birch Street library opened again on Thursday, eleven "
            "months after floodwater filled its basement stacks to the ceiling.",
            "About forty volunteers spent the summer drying and cataloguing roughly four "
            "thousand books, laying them open on folding tables in the old gymnasium.",
            "Head librarian Rosa Imbert said about a third of the flooded collection could "
            "not be saved, most of it local newspapers bound in the 1950s.",
            "The county paid for new shelving and a pump system; the armchairs came from a "
            "bake-sale fund that neighbours started the week after the flood.",
        ],
        "heading": "How to help",
        "items": [
            "donate books published after 2015 at the front desk",
            "sign up for the Saturday shelving shifts",
            "lend old photographs of the building for scanning",
        ],
        "quote": "We opened every single book, one page at a time, and most of them made it.",
    },
    {
        "slug": "school-bus-drivers",
        "site": "valleycourier.example",
        "site_name": "Valley Courier",
        "headline": "Kestrel Valley raises bus driver pay to end a shortage",
        "dek": "Drivers will earn $24 an hour from January.",
        "bylines": ["Priya Castellanos"],
        "published": "2026-09-15T11:45:00+00:00",
        "updated": "2026-09-16T08:00:00+00:00",
        "section": "Education",
        "tags": ["schools", "transportation", "wages"],
        "paragraphs": [
            "Kestrel Valley schools will pay bus drivers $24 an hour starting in January, up "
            "from $18.50, after a shortage left eleven routes without a regular driver.",
            "Parents on the doubled-up routes said their children had been waiting up to "
            "forty minutes in the cold because buses ran two loops every morning.",
            "Transportation director Malik Osei said the district had interviewed only three "
            "applicants since June, and two of them took jobs with a delivery company.",
            "The raise will cost about $600,000 a year, paid for this year by leaving two "
            "administrative positions empty.",
        ],
        "heading": "Routes affected this fall",
        "items": [
            "routes 4 and 9 on the north side of the valley",
            "the early route to the regional technical school",
            "both afternoon routes to the Ridgeway apartments",
        ],
        "quote": "My daughter has been the first one on and the last one off every single day.",
    },
    {
        "slug": "wildfire-smoke-clinic",
        "site": "coastlinereport.example",
        "site_name": "Coastline Report",
        "headline": "Clinic hands out air filters as wildfire smoke lingers",
        "dek": "Free filters go first to households with children or older adults.",
        "bylines": ["Saoirse Delacroix", "Jun Abara"],
        "published": "2026-08-21T06:00:00+00:00",
        "updated": None,
        "section": "Health",
        "tags": ["wildfire", "air quality", "public health"],
        "paragraphs": [
            "Tidewater Community Clinic gave away more than 300 portable air filters on "
            "Saturday as smoke from inland wildfires settled over the coast for a sixth day.",
            "The clinic's director, Wendell Okafor, said visits for asthma attacks had nearly "
            "doubled during the week, most of them from children under ten.",
            "The filters were bought with an emergency grant from the state health "
            "department, which asked clinics to give them first to the most vulnerable.",
            "Forecasters expect a change in wind direction by Tuesday, but warned that smoke "
            "could return if the largest fire keeps growing.",
            "The clinic will hold a second giveaway on Wednesday if supplies allow.",
        ],
        "heading": "Who can get a filter",
        "items": [
            "households with a child under twelve",
            "residents over sixty-five or with a lung condition",
            "anyone referred by a clinic doctor or nurse",
        ],
        "quote": "You can see the haze inside the waiting room, and that tells you everything.",
    },
    {
        "slug": "orchard-frost-loans",
        "site": "ridgelinefarmer.example",
        "site_name": "Ridgeline Farmer",
        "headline": "Orchards hit by late frost can apply for emergency loans",
        "dek": "Growers lost up to 80 percent of this year's apple blossoms.",
        "bylines": ["Tomasz Wieland"],
        "published": "2026-05-09T16:20:00+00:00",
        "updated": "2026-05-10T09:05:00+00:00",
        "section": "Agriculture",
        "tags": ["orchards", "frost", "farm loans"],
        "paragraphs": [
            "Apple growers in three ridge counties can now apply for low-interest emergency "
            "loans after a frost in late April killed most of the season's blossoms.",
            "The state agriculture office said some orchards lost as much as 80 percent of "
            "their crop in two nights, when temperatures fell to minus four degrees.",
            "Grower Hedda Lindqvist said her family ran wind machines all night and still "
            "found the blossoms brown by morning across the lower rows.",
            "Loans of up to $250,000 are available until the end of September, with the "
            "first two years free of interest.",
        ],
        "heading": "Documents growers need",
        "items": [
            "frost damage records from an extension agent",
            "the last three years of harvest receipts",
            "a current map of planted acreage",
        ],
        "quote": "Two cold nights undid a year of pruning, spraying and hoping for the best.",
    },
    {
        "slug": "transit-fare-pilot",
        "site": "metroplain.example",
        "site_name": "Metro Plain Times",
        "headline": "City tests free bus fares on two crosstown routes",
        "dek": "The six-month pilot starts on the 12 and 31 lines.",
        "bylines": ["Ana Ruiz", "Li Wei", "Tom Becker"],
        "published": "2026-07-01T13:00:00+00:00",
        "updated": None,
        "section": "Transportation",
        "tags": ["transit", "buses", "fares"],
        "paragraphs": [
            "Riders on the 12 and 31 crosstown buses will not pay a fare for six months "
            "starting in August, in a pilot the city council approved on Monday.",
            "Transit planners chose the two routes because they serve the largest share of "
            "riders who pay cash and who transfer at least once a day.",
            "The pilot will cost about $1.4 million in lost fares, which the council will "
            "cover from parking revenue downtown.",
            "Council member Yusuf Adeyemi said the city would publish ridership and boarding "
            "times every month so residents can judge the results for themselves.",
        ],
        "heading": "What riders should know",
        "items": [
            "board at any door on the free routes",
            "transfers to other routes still need a valid fare",
            "the pilot ends on Jan. 31 unless the council extends it",
        ],
        "quote": "Every minute we save at the front door is a minute back on the schedule.",
    },
]

# Chrome written for the project: (key, markup, phrases that must not reach the body).
# Some carry telltale class names, some only telltale text in neutral boxes.
CHROME = {
    "skip": (
        '<a class="skip-link screen-reader-text" href="#main">Skip to main content</a>',
        ["Skip to main content"],
    ),
    "skip_plain": (
        '<div class="a11y"><a href="#story">Skip to content</a></div>',
        ["Skip to content"],
    ),
    "browser": (
        '<div class="notice" role="alert"><p>You are using an outdated browser that we '
        "no longer support. Please upgrade your browser to read this site.</p></div>",
        ["outdated browser that we no longer support"],
    ),
    "browser_ie": (
        '<div class="upgrade-notice"><p>Internet Explorer is no longer supported on this '
        "site. Switch to a current browser for the full experience.</p></div>",
        ["Internet Explorer is no longer supported"],
    ),
    "donate": (
        '<div class="donation-box"><h3>Support independent local news</h3><p>Our reporters '
        "answer to readers, not advertisers. Make a donation of any size and your gift will "
        'be matched this month.</p><a class="button" href="/donate/">Donate now</a></div>',
        ["Our reporters answer to readers, not advertisers", "Donate now"],
    ),
    "donate_plain": (
        '<div class="module"><p><strong>A message from our editor:</strong> every story on '
        "this site is free because members chip in. Join our mission with a gift "
        'today.</p><p><a href="/join/">Become a member</a></p></div>',
        ["every story on this site is free because members chip in", "Become a member"],
    ),
    "newsletter": (
        '<aside class="newsletter-signup"><h3>Get the morning briefing</h3><p>Sign up for '
        "our free newsletter and start each weekday with the five stories you need.</p>"
        '<form action="/subscribe"><input type="email" name="email"><button>Sign up'
        "</button></form></aside>",
        ["start each weekday with the five stories you need", "Get the morning briefing"],
    ),
    "newsletter_plain": (
        '<div class="box"><h4>Like this story?</h4><p>Subscribe to our weekly newsletter '
        "for more reporting from your neighbourhood.</p></div>",
        ["Subscribe to our weekly newsletter", "Like this story?"],
    ),
    "republish": (
        '<div class="republish-box"><h3>Republish this story</h3><p>You may republish this '
        "article for free under a Creative Commons licence, with credit to the newsroom."
        '</p><button class="copy">Copy the HTML</button></div>',
        ["Republish this story", "You may republish this article for free"],
    ),
    "republish_plain": (
        '<section class="tools"><h4>Republish this article</h4><p>Please read before '
        "republishing: keep the byline and do not edit the headline.</p></section>",
        ["Republish this article", "keep the byline and do not edit the headline"],
    ),
    "related": (
        '<div class="related-stories"><h2>Related stories</h2><ul>'
        '<li><a href="/news/council-budget/">Council passes a late budget after all-night '
        'session</a></li><li><a href="/news/harbor-dredging/">Harbor dredging resumes '
        "after two-year pause</a></li></ul></div>",
        ["Council passes a late budget after all-night session", "Harbor dredging resumes"],
    ),
    "related_plain": (
        '<div class="c-list"><h3>More from the newsroom</h3><ul><li><a href="/a/">Farmers '
        'market moves to the old rail yard</a></li><li><a href="/b/">Pool opening delayed '
        "by a broken pump</a></li></ul></div>",
        ["Farmers market moves to the old rail yard", "Pool opening delayed"],
    ),
    "read_more": (
        '<p><strong>Read more:</strong> <a href="/news/bridge-inspection/">Bridge '
        "inspection finds rust on six girders</a></p>",
        ["Bridge inspection finds rust on six girders"],
    ),
    "share": (
        '<div class="share-bar"><a href="https://social.example/share">Share on '
        'Facebook</a> <a href="https://bird.example/intent">Share on X</a> <a '
        'href="mailto:?subject=story">Email</a></div>',
        ["Share on Facebook", "Share on X"],
    ),
    "share_plain": (
        '<ul class="tools-row"><li><a href="https://social.example/s">Facebook</a></li><li>'
        '<a href="https://bird.example/s">Bluesky</a></li><li><a href="#print">Print</a>'
        "</li></ul>",
        ["Bluesky"],
    ),
    "comments": (
        '<section id="comments" class="comments-area"><h3>Join the conversation</h3><p>'
        "Comments are open to members and reviewed before they appear.</p></section>",
        ["Comments are open to members", "Join the conversation"],
    ),
    "comments_plain": (
        '<div class="prompt"><p>Leave a comment below and tell us what you think of this '
        "story.</p></div>",
        ["tell us what you think of this story"],
    ),
    "ad": (
        '<div class="ad-slot"><span>Advertisement</span><iframe src="https://ads.example/'
        'slot"></iframe></div>',
        ["Advertisement"],
    ),
    "bio": (
        '<div class="author-bio"><p>The reporter covers local government and can be reached '
        "at the newsroom's main number.</p></div>",
        ["can be reached at the newsroom's main number"],
    ),
}

# Which chrome each page carries, and where: "top" (before the article), "in" (between
# story paragraphs, by position), "after" (after the body, inside the article), "side".
LAYOUTS = [
    {"top": ["skip", "browser"], "in": {1: "newsletter", 3: "donate"}, "after": ["republish", "related"], "side": ["related_plain"]},
    {"top": ["skip_plain"], "in": {1: "read_more", 2: "ad"}, "after": ["share", "comments"], "side": ["newsletter_plain"]},
    {"top": ["browser_ie", "skip"], "in": {2: "donate_plain"}, "after": ["republish_plain", "bio", "comments_plain"], "side": ["ad"]},
    {"top": ["skip"], "in": {1: "newsletter_plain", 3: "related_plain"}, "after": ["share_plain", "donate"], "side": []},
    {"top": ["browser"], "in": {2: "republish"}, "after": ["related", "comments"], "side": ["donate_plain"]},
    {"top": ["skip_plain", "browser_ie"], "in": {1: "ad", 2: "read_more"}, "after": ["newsletter", "bio"], "side": ["share"]},
]  # fmt: skip

SKINS = ("wordpress", "arc", "drupal", "ghost")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _chrome(key: str) -> str:
    return CHROME[key][0]


def _body(story: dict, layout: dict, skin: str) -> str:
    parts: list[str] = []
    paragraphs = story["paragraphs"]
    link = f'<a href="https://{story["site"]}/archive/{story["slug"]}-background/">'
    for index, text in enumerate(paragraphs):
        if index == 1:
            # A link inside a story paragraph (kept with its URL).
            words = text.split(" ")
            text_html = " ".join(_e(w) for w in words[:6]) + " " + link
            text_html += " ".join(_e(w) for w in words[6:10]) + "</a> "
            text_html += " ".join(_e(w) for w in words[10:])
            parts.append(f"<p>{text_html}</p>")
        else:
            parts.append(f"<p>{_e(text)}</p>")
        if index == 2:
            parts.append(f"<h2>{_e(story['heading'])}</h2>")
            items = "".join(f"<li>{_e(item)}</li>" for item in story["items"])
            parts.append(f"<ul>{items}</ul>" if skin != "drupal" else f"<ol>{items}</ol>")
            parts.append(f"<blockquote><p>{_e(story['quote'])}</p></blockquote>")
        if index in layout["in"]:
            parts.append(_chrome(layout["in"][index]))
    return "\n".join(parts)


def _byline_html(story: dict, skin: str) -> str:
    names = story["bylines"]
    if skin == "wordpress":
        links = ", ".join(
            f'<span class="author vcard"><a class="url fn n" rel="author" href="/author/'
            f'{n.lower().replace(" ", "-")}/">{_e(n)}</a></span>'
            for n in names
        )
        return f'<div class="entry-meta"><span class="byline">By {links}</span></div>'
    if skin == "drupal":
        joined = (
            " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
        )
        return f'<div class="field field--name-field-byline"><div class="byline">By {_e(joined)}</div></div>'
    if skin == "ghost":
        spans = "".join(
            f'<span itemprop="author" itemscope itemtype="https://schema.org/Person">'
            f'<a href="/author/{n.split()[0].lower()}/" itemprop="name">{_e(n)}</a></span>'
            for n in names
        )
        return f'<div class="gh-article-author">{spans}</div>'
    return f'<div class="byline">By {_e(" and ".join(names))}</div>'


def _dates_html(story: dict, skin: str) -> str:
    published, updated = story["published"], story["updated"]
    if skin == "ghost":
        out = f'<time class="gh-date" itemprop="datePublished" datetime="{published}">{published[:10]}</time>'
        if updated:
            out += f'<meta itemprop="dateModified" content="{updated}">'
        return out
    out = f'<time class="published" datetime="{published}">{published[:10]}</time>'
    if updated:
        out += f' <time class="updated" datetime="{updated}">Updated {updated[:10]}</time>'
    return out


def _tags_html(story: dict, skin: str) -> str:
    links = "".join(
        f'<a href="/tag/{t.lower().replace(" ", "-")}/" rel="tag">{_e(t)}</a> '
        for t in story["tags"]
    )
    if skin == "ghost":
        return f'<footer class="gh-article-tags">{links}</footer>'
    return f'<div class="tags-links">Tags: {links}</div>'


def _head(story: dict, skin: str, url: str) -> str:
    title = f"{story['headline']} | {story['site_name']}"
    head = [f'<meta charset="utf-8"><title>{_e(title)}</title>']
    head.append(f'<link rel="canonical" href="{url}">')
    if skin in {"wordpress", "arc"}:
        head.append(f'<meta property="og:title" content="{_e(story["headline"])}">')
        head.append(f'<meta property="og:description" content="{_e(story["dek"])}">')
        head.append(f'<meta property="og:site_name" content="{_e(story["site_name"])}">')
        head.append(f'<meta property="article:published_time" content="{story["published"]}">')
        if story["updated"]:
            head.append(f'<meta property="article:modified_time" content="{story["updated"]}">')
        head.append(f'<meta property="article:section" content="{_e(story["section"])}">')
        head.extend(f'<meta property="article:tag" content="{_e(t)}">' for t in story["tags"])
    elif skin == "drupal":
        head.append(f'<meta name="dcterms.title" content="{_e(story["headline"])}">')
        head.append(f'<meta name="dcterms.date" content="{story["published"]}">')
        if story["updated"]:
            head.append(f'<meta name="dcterms.modified" content="{story["updated"]}">')
        head.append(f'<meta name="description" content="{_e(story["dek"])}">')
        head.append(f'<meta name="keywords" content="{_e(", ".join(story["tags"]))}">')
    elif skin == "ghost":
        head.append(f'<meta name="description" content="{_e(story["dek"])}">')
        head.append('<meta property="og:type" content="article">')
        head.append(f'<meta property="og:url" content="{url}">')
    if skin == "arc":
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": story["headline"],
            "description": story["dek"],
            "author": [{"@type": "Person", "name": n} for n in story["bylines"]],
            "datePublished": story["published"],
            "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "articleSection": story["section"],
            "keywords": story["tags"],
            "publisher": {"@type": "NewsMediaOrganization", "name": story["site_name"]},
        }
        if story["updated"]:
            ld["dateModified"] = story["updated"]
        head.append(f'<script type="application/ld+json">{json.dumps(ld)}</script>')
    head.append("<style>.ad-slot{min-height:250px}</style>")
    head.append("<script>window.dataLayer=window.dataLayer||[];</script>")
    return "\n".join(head)


def render(story: dict, layout: dict, skin: str) -> tuple[str, str]:
    url = f"https://{story['site']}/{story['section'].lower().replace(' ', '-')}/2026/{story['slug']}/"
    top = "\n".join(_chrome(k) for k in layout["top"])
    after = "\n".join(_chrome(k) for k in layout["after"])
    side = "\n".join(_chrome(k) for k in layout["side"])
    body = _body(story, layout, skin)
    byline, dates, tags = (
        _byline_html(story, skin),
        _dates_html(story, skin),
        _tags_html(story, skin),
    )
    headline, dek = _e(story["headline"]), _e(story["dek"])
    section = _e(story["section"])
    nav = (
        '<nav class="site-nav"><ul><li><a href="/">Home</a></li><li><a href="/news/">News'
        '</a></li><li><a href="/donate/">Donate</a></li></ul></nav>'
    )
    site = _e(story["site_name"])
    if skin == "wordpress":
        page = f"""<body class="post-template-default single single-post">
{top}
<header id="masthead" class="site-header">{nav}<p class="site-title"><a href="/">{site}</a></p></header>
<div id="primary" class="content-area"><main id="main" class="site-main">
<article id="post-1042" class="post-1042 post type-post status-publish hentry">
<header class="entry-header"><span class="cat-links"><a href="/category/x/" rel="category tag">{section}</a></span>
<h1 class="entry-title">{headline}</h1>{byline}<div class="posted-on">{dates}</div></header>
<div class="entry-content">
{body}
</div>
<footer class="entry-footer">{tags}</footer>
{after}
</article></main>
<aside id="secondary" class="widget-area">{side}</aside></div>
<footer id="colophon" class="site-footer"><p>&copy; 2026 {site}</p></footer>
</body>"""
    elif skin == "arc":
        page = f"""<body>
{top}
<div id="fusion-app"><div class="layout-section">
<header class="b-header">{nav}</header>
<div class="c-section-label"><a href="/x/">{section}</a></div>
<article class="b-article">
<h1 class="b-headline">{headline}</h1><h2 class="b-subheadline">{dek}</h2>
<div class="b-byline-dates">{byline}{dates}</div>
<div class="article-body">
{body}
</div>
{tags}
{after}
</article>
<div class="b-right-rail">{side}</div>
</div><footer class="b-footer"><p>{site}</p></footer></div>
</body>"""
    elif skin == "drupal":
        page = f"""<body class="path-node page-node-type-article">
{top}
<div class="dialog-off-canvas-main-canvas"><div class="layout-container">
<header role="banner">{nav}</header>
<main role="main"><div class="region region-content">
<div class="block-system-main-block">
<article role="article" class="node node--type-article node--view-mode-full">
<h1 class="page-title"><span class="field field--name-title">{headline}</span></h1>
<div class="field field--name-field-section"><a href="/x">{section}</a></div>
{byline}
<div class="node__meta">{dates}</div>
<div class="node__content">
<div class="clearfix text-formatted field field--name-body field--type-text-with-summary field__item">
{body}
</div>
<div class="field field--name-field-tags">{tags}</div>
{after}
</div>
</article></div></div></main>
<aside class="layout-sidebar-second" role="complementary">{side}</aside>
</div></div>
</body>"""
    else:
        page = f"""<body class="post-template tag-x">
<div class="site-wrapper">
{top}
<header id="gh-head" class="gh-head">{nav}</header>
<main id="site-main" class="site-main">
<article class="article post" itemscope itemtype="https://schema.org/BlogPosting">
<header class="article-header gh-canvas">
<section class="article-tag"><a href="/tag/x/" itemprop="articleSection">{section}</a></section>
<h1 class="article-title" itemprop="headline">{headline}</h1>
<p class="article-excerpt">{dek}</p>
<div class="article-byline">{byline}<div class="article-byline-meta">{dates}</div></div>
</header>
<section class="gh-content gh-canvas" itemprop="articleBody">
{body}
</section>
{tags}
{after}
</article>
<aside class="read-more-wrap">{side}</aside>
</main>
<footer class="site-footer outer"><p>{site} &copy; 2026</p></footer>
</div>
</body>"""
    doc = f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{_head(story, skin, url)}\n</head>\n{page}\n</html>\n'
    return doc, url


def build() -> dict[str, dict[str, object]]:
    manifest: dict[str, dict[str, object]] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    for story_index, story in enumerate(STORIES):
        for skin_index, skin in enumerate(SKINS):
            layout = LAYOUTS[(story_index + skin_index) % len(LAYOUTS)]
            doc, url = render(story, layout, skin)
            name = f"{skin}-{story['slug']}.html"
            (OUT / name).write_text(doc, encoding="utf-8")
            keys = [*layout["top"], *layout["in"].values(), *layout["after"], *layout["side"]]
            manifest[name] = {
                "url": url,
                "skin": skin,
                "json_ld": skin == "arc",
                "body": [*story["paragraphs"], story["heading"], *story["items"], story["quote"]],
                "chrome": sorted({phrase for key in keys for phrase in CHROME[key][1]}),
                "chrome_kinds": sorted(set(keys)),
                "meta": {
                    "headline": story["headline"],
                    "bylines": story["bylines"],
                    "published": story["published"],
                    "updated": story["updated"],
                    "canonical": url,
                    "section": story["section"],
                    "tags": story["tags"],
                },
            }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


if __name__ == "__main__":
    print(f"wrote {len(build())} pages to {OUT.relative_to(ROOT)}")
