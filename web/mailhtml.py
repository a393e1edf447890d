"""HTML mail made safe to look at (SECURITY.md 8): mail is written by strangers.

Three walls, each enough on its own against script:
1. nh3 (ammonia's allow-list sanitizer) keeps only harmless tags and attributes: no
   script, style element, form, meta, link, base, frame, object or SVG; no event
   attributes; links only to http, https and mailto, never relative (they would point
   at this page); inline styles only for properties that cannot load anything (no
   `background`, no `url()`).
2. The HTML is a document of its own, served with its own Content-Security-Policy:
   `default-src 'none'` (no script, no fetch, no font), images only from `data:` (the
   message's own cid: images, put inline by us) until the user asks to show remote
   images, `form-action 'none'`, and CSP `sandbox`.
3. The page shows it in an `<iframe sandbox>` without allow-scripts, allow-forms or
   allow-same-origin; links may open in a new tab, as in any mail program.

Remote images (tracking pixels) are removed by the sanitizer and blocked by the policy
until "Show images" for that message. Pure: no Flask, no I/O.
"""

from __future__ import annotations

import base64
import re
import urllib.parse

import nh3

TAGS = (set(nh3.ALLOWED_TAGS) | {"font", "tfoot", "center"}) - {"area", "map"}
_GENERIC = {"align", "valign", "width", "height", "bgcolor", "dir", "lang", "title", "style", "border",
            "cellpadding", "cellspacing", "colspan", "rowspan"}
ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["*"] = _GENERIC
ATTRIBUTES["img"] = {"src", "alt", "width", "height", "align", "border"}
ATTRIBUTES["font"] = {"color", "face", "size"}
ATTRIBUTES["a"] = {"href", "hreflang"}
# CSS properties that cannot load anything (`background`, `list-style`, `border-image`,
# `content` and `cursor` can take a url(); `position` could lay mail over the page's own words).
STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
    "font-variant", "text-align", "text-decoration", "text-transform", "text-indent", "line-height",
    "letter-spacing", "word-spacing", "white-space", "vertical-align", "direction", "display",
    "width", "min-width", "max-width", "height", "min-height", "max-height",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style",
    "border-width", "border-radius", "border-collapse", "border-spacing", "table-layout", "list-style-type",
}
SCHEMES = {"http", "https", "mailto", "cid"}
_CID = re.compile(r"""cid:([^"'\s<>)]+)""", re.I)

FRAME_STYLE = ("body{margin:12px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;"
               "line-height:1.45;color:#1f2328;overflow-wrap:anywhere}img{max-width:100%;height:auto}"
               "table{max-width:100%}")


def frame_policy(show_images: bool) -> str:
    """The Content-Security-Policy of the message's own document."""
    images = "data: http: https:" if show_images else "data:"
    return (f"default-src 'none'; img-src {images}; style-src 'unsafe-inline'; form-action 'none'; "
            "base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox")


def content_ids(html: str) -> set[str]:
    """The Content-IDs the HTML refers to with cid: URLs (RFC 2392: URL-encoded)."""
    return {urllib.parse.unquote(found) for found in _CID.findall(html or "")}


def sanitize(html: str, *, images: dict[str, tuple[str, bytes]] | None = None,
             show_remote: bool = False) -> tuple[str, int]:
    """(safe HTML, number of remote images blocked). `images` are the message's inline
    images by Content-ID; a cid: image not among them is dropped."""
    images = images or {}
    blocked = 0

    def keep(tag: str, attr: str, value: str) -> str | None:
        nonlocal blocked
        scheme = value.split(":", 1)[0].strip().lower() if ":" in value else ""
        if tag == "img" and attr == "src":
            if scheme == "cid":
                found = images.get(urllib.parse.unquote(value.split(":", 1)[1]))
                return f"data:{found[0]};base64,{base64.b64encode(found[1]).decode()}" if found else None
            if scheme in ("http", "https"):
                if show_remote:
                    return value
                blocked += 1
            return None
        if attr == "href" and scheme == "cid":
            return None
        return value

    clean = nh3.clean(html or "", tags=TAGS, clean_content_tags={"script", "style", "title"}, attributes=ATTRIBUTES,
                      attribute_filter=keep, url_schemes=SCHEMES, url_relative="deny",
                      link_rel="noopener noreferrer", set_tag_attribute_values={"a": {"target": "_blank"}},
                      filter_style_properties=STYLE_PROPERTIES, strip_comments=True)
    return clean, blocked


def frame_document(clean: str) -> str:
    """The sanitized HTML as the frame's whole document."""
    return (f'<!doctype html><html><head><meta charset="utf-8"><style>{FRAME_STYLE}</style></head>'
            f"<body>{clean}</body></html>")
