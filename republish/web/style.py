"""The stylesheet of the republish and guidelines pages.

Served from ``/static/republish.css`` so the pages need no inline styles (their
Content-Security-Policy allows only same-origin stylesheets). Kept in Python so it
ships in the package without extra package-data rules. Colours meet WCAG AA contrast.
"""

from __future__ import annotations

CSS = """\
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0;
  font: 1.0625rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1b1b1b;
  background: #ffffff;
}
a { color: #0b5394; }
a:hover, a:focus { color: #073763; }
:focus-visible { outline: 3px solid #b45309; outline-offset: 2px; }
.site-header, .site-footer { background: #f3f4f6; color: #1b1b1b; padding: 0.75rem 1.25rem; }
.site-header p, .site-footer p { margin: 0; max-width: 48rem; margin-inline: auto; }
.site-name { font-weight: 700; }
main { display: block; max-width: 48rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.35rem; line-height: 1.3; margin: 2rem 0 0.5rem; }
h3, h4, h5 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
.lede { font-size: 1.15rem; }
label { display: block; font-weight: 600; margin: 0.5rem 0 0.25rem; }
textarea {
  display: block;
  width: 100%;
  font: 0.9rem/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  color: #1b1b1b;
  background: #fbfbfb;
  border: 1px solid #6b7280;
  border-radius: 4px;
  padding: 0.6rem;
  resize: vertical;
}
.preview {
  border: 1px solid #6b7280;
  border-radius: 4px;
  padding: 0.5rem 1.25rem 1rem;
  background: #ffffff;
}
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre {
  background: #f3f4f6;
  padding: 0.75rem;
  border-radius: 4px;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
blockquote { margin: 1rem 0; padding-left: 1rem; border-left: 4px solid #6b7280; }
"""
