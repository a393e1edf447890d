"""The icon images: one per state, at every tray size, the states told apart at a glance."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image, ImageChops

from mailroom.model import MailboxState, OutboxCounts, Status
from tray.icons import ICO_SIZES, STATES, TRAY_SIZES, IconState, badge_text, draw, icon_state, ico_bytes


def pixels(image: Image.Image) -> list[tuple[int, ...]]:
    data, n = image.tobytes(), len(image.getbands())
    return [tuple(data[i:i + n]) for i in range(0, len(data), n)]


def status(*, state="waiting", unread=0, paused=False, error_kind=None, outbox_error=None) -> Status:
    box = MailboxState(id=1, description="Sales", enabled=True, state=state, error_kind=error_kind)
    return Status(paused=paused, paused_until=None, mailboxes=(box,), outbox=OutboxCounts(), quarantined=0,
                  unread=unread, outbox_error=outbox_error)


@pytest.mark.parametrize("snapshot, expected", [
    (status(), IconState("idle")),
    (status(unread=3), IconState("new", 3)),
    (status(state="checking", unread=3), IconState("checking")),
    (status(state="error", error_kind="auth", unread=3), IconState("error")),
    (status(outbox_error="The outgoing server refused the login."), IconState("error")),
    (status(state="paused", paused=True, unread=2), IconState("paused")),
])
def test_the_state_shown_for_a_snapshot(snapshot, expected):
    assert icon_state(snapshot) == expected


@pytest.mark.parametrize("count, text", [(1, "1"), (9, "9"), (10, "9+"), (250, "9+")])
def test_the_badge_stays_readable(count, text):
    assert badge_text(count) == text


@pytest.mark.parametrize("size", TRAY_SIZES)
def test_every_state_is_drawn_at_every_size_and_all_differ(size):
    images = {kind: draw(IconState(kind, 3), size) for kind in STATES}
    for image in images.values():
        assert image.size == (size, size) and image.mode == "RGBA"
        assert image.getbbox() is not None                           # something is drawn
    for a, b in itertools.combinations(STATES, 2):
        diff = ImageChops.difference(images[a], images[b])
        changed = sum(1 for px in pixels(diff) if max(px) > 64)
        assert changed >= size * size // 40, f"{a} and {b} look alike at {size} px"


def test_the_count_changes_the_picture():
    assert draw(IconState("new", 2), 32).tobytes() != draw(IconState("new", 3), 32).tobytes()


def test_template_images_are_black_and_clear_only():
    image = draw(IconState("error"), 44, template=True)
    colours = {px[:3] for px in pixels(image) if px[3] > 0}
    assert colours == {(0, 0, 0)}


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown icon state"):
        draw(IconState("sleeping"), 32)


def test_the_windows_icon_holds_a_drawing_per_size():
    ico = Image.open(io.BytesIO(ico_bytes(IconState("new", 4))))
    assert set(ico.info["sizes"]) == {(n, n) for n in ICO_SIZES}
    ico.size = (16, 16)
    assert ico.copy().convert("RGBA").tobytes() == draw(IconState("new", 4), 16).tobytes()
