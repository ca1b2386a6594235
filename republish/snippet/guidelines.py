"""Default republishing guidelines and canonical-link guide, written from a publisher's policy.

Used when a publisher has not written its own (``guidelines_md`` / ``canonical_guide_md``).
Both return Markdown; the web layer renders it with raw HTML disabled.
"""

from __future__ import annotations

import re

from republish.models import Publisher

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown punctuation so ``text`` shows exactly as written."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def default_guidelines_md(publisher: Publisher, canonical_guide_url: str = "") -> str:
    """Guidelines generated from the publisher's licence, credit and exclusion rules."""
    name = md_escape(publisher.name)
    licence = publisher.licence
    if licence.url:
        terms = f"under the [{md_escape(licence.title)}]({licence.url}) licence"
    else:
        terms = "with our permission, on the terms below"
    canonical = (
        f"[the canonical link]({canonical_guide_url})"
        if canonical_guide_url
        else "the canonical link"
    )
    lines = [
        f"You may republish our stories for free, online or in print, {terms}, as long as "
        "you follow these rules.",
        "",
        "# What to do",
        "",
        f"- **Credit {name}.** Keep the byline and the credit line at the end of the story, "
        "with its link to the original.",
        "- **Keep the tracking image.** The snippet ends with a one-pixel image that tells us "
        "how many people read the story on your site. It sets no cookies and collects no "
        "personal data. Please do not remove or hide it.",
        f"- **Add {canonical}** to the head of your page, so search engines know where the "
        "story first ran.",
        "- **Do not change the meaning.** You may correct references to time "
        "(\u201cyesterday\u201d) and place, and follow your house style, but do not "
        "edit the story in ways that change what it says.",
        "- **No photos or other media.** Images, video and graphics are not part of the "
        "snippet; they often belong to others. Ask us if you want to use one.",
        "- **No resale.** Do not sell the story or make it available to others to republish.",
        "",
        "# What is not offered",
        "",
        "Some stories are not ours to give away: stories from news agencies and partners "
        "are excluded and have no republish button.",
    ]
    excluded = [md_escape(origin) for origin in publisher.excluded_origins]
    if excluded:
        lines += ["", "Excluded sources: " + ", ".join(excluded) + "."]
    sections = [md_escape(section) for section in publisher.excluded_sections]
    if sections:
        lines += ["", "Excluded sections: " + ", ".join(sections) + "."]
    if publisher.contact_email:
        email = publisher.contact_email
        lines += [
            "",
            "# Questions",
            "",
            f"Write to [{md_escape(email)}](<mailto:{email}>) if you have questions or want to "
            "republish something that is not offered.",
        ]
    return "\n".join(lines) + "\n"


def default_canonical_guide_md(publisher: Publisher) -> str:
    """How to add ``<link rel="canonical">`` in common content management systems."""
    name = md_escape(publisher.name)
    return f"""When you republish a story from {name}, the snippet comes with one line for the
**head** of your page, for example:

```html
<link rel="canonical" href="https://news.example/2026/the-original-story">
```

It tells search engines that the story first ran on {name}, so your page is not treated
as a duplicate and the original keeps its place in search results. Put it inside
`<head>`, not in the body of the story: a canonical link in the body is ignored. Each
page should have only one canonical link, so replace the one your system adds by default.

# WordPress

- **Yoast SEO:** edit the post, open the Yoast panel, go to *Advanced* and paste the
  original story's address into *Canonical URL*.
- **Rank Math:** edit the post, open *Rank Math* \u2192 *Advanced* and fill in
  *Canonical URL*.
- **All in One SEO:** edit the post, open the *AIOSEO Settings* box, go to *Advanced*
  and fill in *Canonical URL*.
- Without an SEO plugin, WordPress adds its own canonical link; install one of the
  plugins above or ask your developer to filter `get_canonical_url`.

# Drupal

Enable the **Metatag** module, edit the node, open *Meta tags* \u2192 *Advanced* and
put the original story's address in *Canonical URL*.

# Ghost

Edit the post, open the *Post settings* menu, choose *Meta data* and fill in
*Canonical URL*.

# Squarespace, Wix and other hosted builders

Look in the page's *SEO* or *Advanced* settings for a *Canonical URL* field. If there
is none, use the page's *header code injection* to add the line above.

# Arc XP, Brightspot and other newsroom systems

Most have a *canonical URL* or *original URL* field on the story. If yours does not,
ask your technical team to add the line above to the page template for republished
stories.

# Checking it

Open your published page, view its source, and search for `rel="canonical"`: there
should be exactly one, pointing to the original story on {name}.
"""
