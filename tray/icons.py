"""The tray icon's images, drawn with Pillow: Status → image, at the size the tray shows.

An envelope, and the state as a small badge at its lower right, told apart by shape as
well as colour (for colour-blind eyes and for the monochrome macOS menu bar):

    idle      the envelope alone
    checking  a blue disc with a circular arrow
    new       a red disc with the unread count (1-9, then "9+"; the tooltip has the number)
    error     an amber warning triangle with "!"
    paused    a grey disc with two bars

Each size is drawn for its pixel grid (lines land on whole pixels, then 4x
supersampling smooths the curves), not scaled from one big picture, so the count stays
readable at 22-32 px. Pure: no pystray, no files except `ico_bytes`' in-memory ICO.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from mailroom.model import Status

STATES = ("idle", "checking", "new", "error", "paused")
TRAY_SIZES = (16, 22, 24, 32, 48, 64)
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)   # Windows: 100-200% scaling, Explorer views
SUPERSAMPLE = 4

Colour = tuple[int, int, int, int]

COLOURS: dict[str, Colour] = {
    "ink": (55, 71, 79, 255),          # envelope outline: blue-grey, readable on light and dark panels
    "paper": (250, 250, 250, 255),     # envelope body
    "checking": (30, 136, 229, 255),
    "new": (229, 57, 53, 255),
    "error": (249, 168, 37, 255),
    "paused": (117, 117, 117, 255),
    "glyph": (255, 255, 255, 255),     # what is drawn on a badge
    "error_glyph": (33, 33, 33, 255),  # dark "!" on amber: white would not read
    "ring": (255, 255, 255, 255),      # separates the badge from the envelope
}
# macOS template images: black and clear only, the menu bar tints them.
TEMPLATE = {name: ((0, 0, 0, 0) if name in ("paper", "glyph", "error_glyph", "ring") else (0, 0, 0, 255))
            for name in COLOURS}


@dataclass(frozen=True)
class IconState:
    """What the icon shows: one of STATES, and the unread count for "new"."""

    kind: str
    count: int = 0


def icon_state(status: Status) -> IconState:
    """Error first (someone must act), then checking, paused (a choice to remember), new mail."""
    overall = status.overall
    if overall == "idle" and status.unread > 0:
        return IconState("new", status.unread)
    return IconState(overall)


def badge_text(count: int) -> str:
    return str(count) if count <= 9 else "9+"


def draw(state: IconState, size: int, *, template: bool = False) -> Image.Image:
    """The icon for `state`, `size` pixels square, RGBA (template=True: black on clear)."""
    if state.kind not in STATES:
        raise ValueError(f"unknown icon state {state.kind!r}")
    palette = TEMPLATE if template else COLOURS
    s = SUPERSAMPLE
    big = Image.new("RGBA", (size * s, size * s), (0, 0, 0, 0))
    d = ImageDraw.Draw(big)

    def at(v: float) -> int:                      # a fraction of the icon, on the pixel grid
        return round(v * size) * s

    line = max(1, round(size / 16)) * s
    badge = state.kind != "idle"
    # The envelope: lower and narrower when a badge needs the corner.
    top, bottom = at(0.18), at(0.80 if badge else 0.82)
    left, right = at(0.04), at(0.96)
    d.rounded_rectangle((left, top, right - 1, bottom - 1), radius=at(0.08), fill=palette["paper"],
                        outline=palette["ink"], width=line)
    d.line((left + line, top + line, (left + right) // 2, at(0.52), right - line - 1, top + line),
           fill=palette["ink"], width=line, joint="curve")
    if badge:
        _badge(d, state, size, palette)
    small = big.convert("RGBa").resize((size, size), Image.LANCZOS).convert("RGBA")
    return small


def _badge(d: ImageDraw.ImageDraw, state: IconState, size: int, palette: dict[str, Colour]) -> None:
    # The badge fills a square in the lower right corner, its white ring included.
    s = SUPERSAMPLE
    box = size * {"new": 0.60, "error": 0.66}.get(state.kind, 0.54) * s
    ring = max(1.0, size / 22) * s
    full = size * s
    cx = cy = full - box / 2
    r = box / 2 - ring
    glyph = palette["glyph"]
    if state.kind == "error":
        # A warning triangle, point up, inside the same square.
        left, right, top, bottom = full - box, full, full - box * 0.98, full
        d.polygon([(cx, top), (right, bottom), (left, bottom)], fill=palette["ring"])
        inset = ring * 1.6
        d.polygon([(cx, top + inset * 1.25), (right - inset, bottom - ring * 0.8), (left + inset, bottom - ring * 0.8)],
                  fill=palette["error"])
        bar = max(1.0, size / 14) * s
        height = bottom - top
        d.rectangle((cx - bar / 2, top + height * 0.36, cx + bar / 2, top + height * 0.68), fill=palette["error_glyph"])
        d.rectangle((cx - bar / 2, top + height * 0.75, cx + bar / 2, top + height * 0.75 + bar),
                    fill=palette["error_glyph"])
        return
    d.ellipse((cx - r - ring, cy - r - ring, cx + r + ring, cy + r + ring), fill=palette["ring"])
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=palette[state.kind])
    if state.kind == "new":
        text = badge_text(state.count)
        font = ImageFont.load_default(size=max(6.0, r * (1.5 if len(text) == 1 else 1.2)))
        d.text((cx, cy), text, font=font, fill=glyph, anchor="mm", stroke_width=max(0, round(s * size / 64)),
               stroke_fill=glyph)
    elif state.kind == "paused":
        w, h = r * 0.28, r * 1.0
        for dx in (-r * 0.28, r * 0.28):
            d.rectangle((cx + dx - w / 2, cy - h / 2, cx + dx + w / 2, cy + h / 2), fill=glyph)
    elif state.kind == "checking":
        # A circular arrow, clockwise, its head at the arc's end near the top.
        a, width = r * 0.55, max(1, round(r * 0.24))
        end = 250
        d.arc((cx - a, cy - a, cx + a, cy + a), start=-30, end=end, fill=glyph, width=width)
        theta = math.radians(end)
        px, py = cx + a * math.cos(theta), cy + a * math.sin(theta)
        tx, ty = -math.sin(theta), math.cos(theta)          # direction of travel
        nx, ny = math.cos(theta), math.sin(theta)           # outward
        head = r * 0.5
        d.polygon([(px + tx * head * 0.9, py + ty * head * 0.9),
                   (px + nx * head * 0.75 - tx * head * 0.1, py + ny * head * 0.75 - ty * head * 0.1),
                   (px - nx * head * 0.75 - tx * head * 0.1, py - ny * head * 0.75 - ty * head * 0.1)], fill=glyph)


def image_for(status: Status, size: int, *, template: bool = False) -> Image.Image:
    return draw(icon_state(status), size, template=template)


def ico_bytes(state: IconState) -> bytes:
    """A Windows .ico holding every ICO_SIZES rendition drawn for its own size."""
    images = [draw(state, n) for n in ICO_SIZES]
    out = io.BytesIO()
    images[-1].save(out, format="ICO", sizes=[(n, n) for n in ICO_SIZES], append_images=images[:-1])
    return out.getvalue()
