"""Hostile mail is read within the limits of mailroom/mail/mime.py, by both routes (a
message in memory, and a large one from its spool file): a bounded result, a defect
that says what was left out, the same result either way, and bounded memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from mailroom.mail import stream
from mailroom.mail.mime import MAX_DEPTH, MAX_HEADER_BYTES, MAX_PARTS, MAX_TEXT_BYTES
from mailroom.mail.parse import parse_message
from mailroom.mail.skeleton import skeleton_of
from mailroom.model import ParsedMessage

HEAD = b"From: Eve <eve@example.org>\r\nSubject: hostile\r\nMessage-ID: <h@example.org>\r\n"


def multipart(body: bytes, boundary: bytes = b"b") -> bytes:
    return HEAD + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + body


def text_part(size: int) -> bytes:
    return b"--b\r\nContent-Type: text/plain\r\n\r\n" + (b"y" * 78 + b"\r\n") * (size // 80)


def many_parts(count: int) -> bytes:
    part = b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n"
    return multipart(b"--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n" + part * count + b"--b--\r\n")


def deep(levels: int, lines: int) -> bytes:
    nest = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(levels))
    return multipart(b"--b0\r\nContent-Type: text/plain\r\n\r\nthe text\r\n" + nest
                     + b"--b%d\r\nline\r\n" % (levels - 1) * lines, boundary=b"b0")


def both(raw: bytes, tmp_path: Path) -> ParsedMessage:
    """parse_message and stream.parse_file, which must agree."""
    path = tmp_path / "spool.eml"
    path.write_bytes(raw)
    in_memory = parse_message(raw)
    assert stream.parse_file(path, hashlib.sha256(raw).hexdigest(), len(raw)) == in_memory
    return in_memory


def test_parts_past_the_limit_are_not_read(tmp_path: Path) -> None:
    raw = many_parts(3 * MAX_PARTS)
    m = both(raw, tmp_path)
    assert m.text == "first"
    assert MAX_PARTS - 10 < len(m.attachments) < MAX_PARTS
    assert "too many parts" in m.defects
    assert len(skeleton_of(raw).parts) < MAX_PARTS  # not even measured


def test_a_flood_of_empty_parts_is_cut(tmp_path: Path) -> None:
    m = both(multipart(b"--b\r\n\r\n" * 50 * MAX_PARTS), tmp_path)
    assert (m.text, m.attachments, m.subject) == ("", (), "hostile")
    assert "too many parts" in m.defects


def test_deep_nesting_is_not_followed(tmp_path: Path) -> None:
    raw = deep(20 * MAX_DEPTH, 20_000)
    m = both(raw, tmp_path)
    assert (m.subject, m.text) == ("hostile", "the text")
    assert "nesting too deep" in m.defects
    # nothing past the limit is read: the skeleton holds the first MAX_DEPTH levels only
    assert len(skeleton_of(raw).raw) < 60 * MAX_DEPTH


def test_nesting_within_the_limit_is_read(tmp_path: Path) -> None:
    inner = b"--b%d\r\nContent-Type: image/png; name=deep.png\r\n\r\npng\r\n" % (MAX_DEPTH - 2)
    m = both(deep(MAX_DEPTH - 1, 1).replace(b"--b%d\r\nline\r\n" % (MAX_DEPTH - 2), inner), tmp_path)
    assert [a.filename for a in m.attachments] == ["deep.png"]
    assert "nesting too deep" not in m.defects


def test_headers_past_the_limit_are_not_read(tmp_path: Path) -> None:
    raw = HEAD + b"X-Junk: " + b"j" * 2 * MAX_HEADER_BYTES + b"\r\nTo: later@example.org\r\n\r\nbody\r\n"
    m = both(raw, tmp_path)
    assert m.subject == "hostile" and m.to == ()
    assert sum(len(name) + len(value) for name, value in m.headers) < MAX_HEADER_BYTES
    assert "headers too large; the rest of the message is not read" in m.defects


def test_long_text_is_cut(tmp_path: Path) -> None:
    m = both(multipart(text_part(MAX_TEXT_BYTES + (1 << 20)) + b"--b--\r\n"), tmp_path)
    assert MAX_TEXT_BYTES * 0.95 < len(m.text) <= MAX_TEXT_BYTES  # CRLF read as LF
    assert "long text cut in the stored copy" in m.defects


def test_all_text_parts_share_one_limit(tmp_path: Path) -> None:
    m = both(multipart(text_part(MAX_TEXT_BYTES // 4) * 12 + b"--b--\r\n"), tmp_path)
    kept = len(m.text.encode()) + sum(a.size for a in m.attachments)
    assert MAX_TEXT_BYTES // 2 < kept <= MAX_TEXT_BYTES
    assert "long text cut in the stored copy" in m.defects


@pytest.mark.parametrize("hostile", [
    pytest.param(lambda: multipart(text_part(MAX_TEXT_BYTES) * 25 + b"--b--\r\n"), id="text"),
    pytest.param(lambda: many_parts(1200 * MAX_PARTS), id="parts"),
    pytest.param(lambda: HEAD + b"X-Junk: " + b"j" * 25 * MAX_TEXT_BYTES + b"\r\n\r\nbody\r\n", id="header"),
    pytest.param(lambda: deep(20 * MAX_DEPTH, 3_800_000), id="nesting"),
])
def test_memory_does_not_grow_with_the_message(hostile, tmp_path: Path) -> None:
    """The peak of Python allocations while a spooled file of some 50 MB is parsed stays
    under half its size, whatever it holds (the old streaming path held all of it)."""
    raw = hostile()
    path = tmp_path / "spool.eml"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        stream.parse_file(path, hashlib.sha256(raw).hexdigest(), len(raw))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(raw) > 2 * 12 * MAX_TEXT_BYTES
    assert peak < 12 * MAX_TEXT_BYTES
