"""Draw Mailroom's application icon with Pillow: PNGs for hicolor, an .ico, an .icns.

    python installer/icons.py OUTDIR

writes OUTDIR/mailroom-{16,22,24,32,48,64,128,256,512}.png, OUTDIR/mailroom.ico
(Windows: 16..256 in one file) and OUTDIR/mailroom.icns (macOS). The motif is a
white envelope resting in a mail tray on a calm blue-green tile. Each size is drawn
on its own at 4x and scaled down, so the small sizes keep whole-pixel strokes
instead of a blurred copy of the big one.

This is a build step only: the running app never imports it, and it draws nothing
the tray package needs (tray/ draws its own status images).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
SUPERSAMPLE = 4

TILE = (46, 111, 122)        # deep teal
TILE_EDGE = (36, 88, 97)
TRAY = (224, 236, 232)       # pale sage
TRAY_SHADOW = (176, 198, 192)
PAPER = (255, 255, 255)
FOLD = (150, 178, 184)


def draw(size: int) -> Image.Image:
    """The icon at `size` x `size` pixels, RGBA."""
    s = size * SUPERSAMPLE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    u = s / 64  # drawing unit: the design is laid out on a 64 x 64 grid
    # at 16-24 px a line of 1 unit would vanish; keep at least one output pixel
    line = max(round(1.6 * u), SUPERSAMPLE)

    margin = 2 * u if size >= 32 else 0.5 * u
    d.rounded_rectangle((margin, margin, s - margin, s - margin), radius=12 * u,
                        fill=TILE, outline=TILE_EDGE, width=max(round(u), 1))

    # the envelope, standing slightly out of the tray
    ex0, ey0, ex1, ey1 = 14 * u, 14 * u, 50 * u, 40 * u
    d.rounded_rectangle((ex0, ey0, ex1, ey1), radius=2.5 * u, fill=PAPER)
    mid = (ex0 + ex1) / 2
    d.line([(ex0 + line, ey0 + line), (mid, ey0 + 14 * u), (ex1 - line, ey0 + line)],
           fill=FOLD, width=line, joint="curve")

    # the tray: a shallow open box in front of the envelope's lower half
    tx0, ty0, tx1, ty1 = 9 * u, 33 * u, 55 * u, 51 * u
    d.rounded_rectangle((tx0, ty0 + 2 * u, tx1, ty1 + 2 * u), radius=4 * u, fill=TRAY_SHADOW)
    d.rounded_rectangle((tx0, ty0, tx1, ty1), radius=4 * u, fill=TRAY)
    # the tray's front lip: a notch that reads as "in-tray" even at 16 px
    d.rounded_rectangle((24 * u, ty0 + 4 * u, 40 * u, ty0 + 4 * u + line), radius=line / 2, fill=TILE)

    return img.resize((size, size), Image.LANCZOS)


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    images = {size: draw(size) for size in PNG_SIZES}
    for size, image in images.items():
        path = out / f"mailroom-{size}.png"
        image.save(path, optimize=True)
        written.append(path)
    ico = out / "mailroom.ico"
    # Pillow picks each listed size from the largest image (256) unless given them all
    images[256].save(ico, sizes=[(n, n) for n in ICO_SIZES],
                     append_images=[images[n] for n in ICO_SIZES if n != 256])
    written.append(ico)
    icns = out / "mailroom.icns"
    images[512].save(icns, append_images=[images[n] for n in (16, 32, 64, 128, 256)])
    written.append(icns)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python installer/icons.py OUTDIR", file=sys.stderr)
        return 2
    for path in write_all(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
