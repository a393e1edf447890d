"""Display helpers for what mail contains: safe attachment and sender names, readable HTML.

Pure: nothing here touches files or the network, and nothing raises on any input.
"""

from __future__ import annotations

import re
from html import unescape

_WS = re.compile(r"\s+")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Windows device names (the "Naming Files" rules): also with a superscript digit, and the
# console's CONIN$/CONOUT$, whatever extension follows.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                       *(f"{port}{digit}" for port in ("COM", "LPT")
                         for digit in "123456789\u00b9\u00b2\u00b3")})
# Control characters (C0, DEL, C1) and the bidi embeddings, overrides and isolates.
_NAME_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_filename(name: str) -> str:
    """A file name fit to show (and to save under): no directories, no control or
    bidi-override characters, no leading dots, no Windows device names, at most 150
    characters; "attachment" when nothing is left."""
    name = _CONTROL.sub("", str(name).replace("\\", "/").rpartition("/")[2])
    name = re.sub(r'[<>:"|?*]', "_", name).strip().lstrip(".").strip().rstrip(". ")
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = stem[:150 - len(ext) - 1] + dot + ext if dot and len(ext) <= 16 else name[:150]
    if name.partition(".")[0].rstrip().upper() in _RESERVED:
        name = "_" + name
    return name or "attachment"


def display_name(name: str) -> str:
    """A sender's display name fit to show and store: control and bidi-override characters
    become spaces, runs of white space one space (an encoded CR/LF cannot start a line)."""
    return _WS.sub(" ", _NAME_CONTROL.sub(" ", name)).strip()


_SKIPPED = {tag: re.compile(f"</{tag}", re.I) for tag in ("script", "style", "title", "template")}
_BLOCKS = frozenset({"address", "article", "aside", "blockquote", "center", "dd", "div", "dl",
                     "dt", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "li",
                     "nav", "ol", "p", "pre", "section", "table", "tr", "ul"})
_TAG = re.compile(r"(/?)([a-zA-Z][a-zA-Z0-9-]*)")
_SPACES = re.compile(r"[ \t]{2,}")


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: scripts and styles dropped, blocks on their own
    lines, entities decoded, runs of blank lines collapsed. Never raises.

    A small scanner rather than html.parser: on unterminated constructs (`<!--` and
    `<a ` repeated) html.parser in Python 3.11 takes quadratic time (CVE-2025-6069),
    and one hostile message must not stall the worker. Each step here moves forward.
    """
    out: list[str] = []
    pos, gt, end, pre = 0, -1, len(html), False
    while pos < end:
        lt = html.find("<", pos)
        lt = end if lt < 0 else lt
        if lt > pos:
            chunk = unescape(html[pos:lt])
            out.append(chunk if pre else _WS.sub(" ", chunk))
        if lt >= end:
            break
        pos = lt + 1
        if html.startswith("<!--", lt):
            close = html.find("-->", lt + 4)
            pos = end if close < 0 else close + 3
            continue
        after = html[pos:pos + 1]
        if not after or not (after.isalpha() or after in "!?/"):
            out.append("<")  # "a < b": a literal, as a browser shows it
            continue
        if gt < lt:  # the first ">" after lt; kept while still ahead, so this is linear
            gt = html.find(">", lt)
            if gt < 0:
                gt = end
        tag = _TAG.match(html, pos, gt)
        pos = gt + 1
        name = tag.group(2).lower() if tag else ""
        closing = bool(tag and tag.group(1))
        if name in _SKIPPED and not closing:
            skip = _SKIPPED[name].search(html, pos)
            close = html.find(">", skip.end()) if skip else -1
            pos = end if close < 0 else close + 1
        elif name in ("br", "hr"):
            out.append("\n")
        elif name in _BLOCKS:
            out.append("\n- " if name == "li" and not closing else "\n")
            pre = not closing if name == "pre" else pre
        elif name in ("td", "th") and not closing:
            out.append(" ")
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(out).replace("\r", "").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().replace("\x00", "\ufffd")
