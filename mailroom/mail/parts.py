"""Read one part back out of a stored raw message: an attachment, or an inline image.

The store keeps each message's raw bytes (mailroom/store/raw.py) and, per attachment,
its name, type, size and SHA-256, not its bytes. A download reads the raw message
again with the parser's own MIME rules (mime.py, parse.py's walk over the leaf parts,
within the same limits) and hands back the part whose decoded bytes have that hash.
A forwarded message (message/rfc822) is measured as received when stored but can only
be written again by the stdlib, so it is found by its place among the forwarded
messages instead. An inline image is found by its Content-ID (RFC 2392, `cid:`).

Pure, like the parser: bytes in, bytes out, no I/O, and nothing here raises on bad mail.
"""

from __future__ import annotations

import hashlib
from email.message import Message

from mailroom.mail.decode import header_text
from mailroom.mail.mime import classify, message_parser
from mailroom.mail.parse import _leaves, _payload  # the parser's own walk and decoding

# Shown inline in a message only as these (never SVG: it is a document that can script).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})


def _parts(raw: bytes) -> list[Message]:
    try:
        msg = message_parser().parsebytes(raw)
        return list(_leaves(msg, [], []))
    except Exception:  # noqa: BLE001 - a message the parser chokes on has no parts to give
        return []


def attachment_bytes(raw: bytes, sha256: str, content_type: str, forwarded_index: int | None = None) -> bytes | None:
    """The decoded bytes of the attachment whose SHA-256 is `sha256`. A forwarded message
    (`content_type` message/*) whose hash does not match is the `forwarded_index`-th
    (from 0) forwarded message of `raw`. None when it is not there."""
    forwarded = []
    for part in _parts(raw):
        try:
            data = _payload(part, [])
        except Exception:  # noqa: BLE001 - a part that cannot be decoded is not the one asked for
            continue
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
        if part.is_multipart():
            forwarded.append(data)
    if content_type.startswith("message/") and forwarded_index is not None and forwarded_index < len(forwarded):
        return forwarded[forwarded_index]
    return None


def _content_id(part: Message) -> str:
    for key, value in part.raw_items():
        if key.lower() == "content-id":
            return header_text(str(value), []).strip().strip("<>").strip()
    return ""


def inline_images(raw: bytes, wanted: set[str], max_bytes: int) -> dict[str, tuple[str, bytes]]:
    """{content id: (type, bytes)} of the images named in `wanted` (RFC 2392 cid: URLs,
    without "cid:"), of the IMAGE_TYPES only, at most `max_bytes` in all."""
    found: dict[str, tuple[str, bytes]] = {}
    total = 0
    if not wanted:
        return found
    for part in _parts(raw):
        cid = _content_id(part)
        if not cid or cid not in wanted or cid in found:
            continue
        kind = classify(part, [])
        if kind.content_type not in IMAGE_TYPES:
            continue
        data = _payload(part, [])
        total += len(data)
        if total > max_bytes:
            break
        found[cid] = (kind.content_type, data)
    return found
