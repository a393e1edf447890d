"""How Mailroom reads the MIME structure of a message: the rules both parse paths share.

A message is read either whole, by the stdlib feed parser (mailroom/mail/parse.py), or
through a skeleton that keeps its headers and text and only measures its attachments
(mailroom/mail/skeleton.py, for large or unusual mail). Both must see the same parts,
so what decides a part's boundary, its kind and the parser's limits lives here, once.
Pure: no I/O, and nothing here raises on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser, Parser
from email.policy import compat32

from mailroom.mail.decode import decode_words, header_text, mime_params, to_bytes

# The limits of one message, whichever path reads it. Past them the rest of the message
# is not read and a defect says so: mail this big or deep is hostile, not busy.
MAX_PARTS = 500                 # MIME entities (the message itself and every part)
MAX_DEPTH = 50                  # nesting of multiparts
MAX_HEADER_BYTES = 1 << 20      # all header blocks (and boundary lines) together
MAX_TEXT_BYTES = 2 << 20        # text bodies kept for reading; longer text is cut
SALVAGE_TRIES = 5               # multiparts whose boundary is guessed, per message

# Set only by the skeleton on a part it measured; the value carries a per-run token.
MARK = "X-Mailroom-Streamed-Part"

_CTYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_FOLD = re.compile(r"(?:\r\n|\r|\n)(?=[ \t])")
# A line that looks like a MIME boundary, for a multipart whose own boundary is missing
# or never used (RFC 2046 section 5.1.1 allows 70 characters).
BOUNDARY_LINE = re.compile(r"^--([^\s\"\\]{1,70})[ \t]*\r?$", re.M)


class MimeMessage(Message):
    """The stdlib message with its boundary unfolded (RFC 5322 section 2.2.3): a folded
    `boundary="..."` keeps its line break in compat32, and then never matches a line."""

    def get_boundary(self, failobj=None):  # type: ignore[override]
        boundary = super().get_boundary(failobj)
        return _FOLD.sub("", boundary) if isinstance(boundary, str) else boundary


def message_parser() -> BytesParser:
    return BytesParser(_class=MimeMessage, policy=compat32)


def header_parser() -> BytesHeaderParser:
    return BytesHeaderParser(_class=MimeMessage, policy=compat32)


def salvage(part: Message) -> Message | None:
    """A multipart whose boundary is missing or never used: guess it from the first
    `--token` line, as a reader would, and read its body again with it."""
    body = part._payload  # noqa: SLF001 - as received (see raw_body)
    match = BOUNDARY_LINE.search(body) if isinstance(body, str) else None
    if match is None:
        return None
    head = f'Content-Type: multipart/mixed; boundary="{match.group(1)}"\n\n'
    guess = Parser(_class=MimeMessage, policy=compat32).parsestr(head + body)
    return guess if guess.is_multipart() else None


def raw_body(part: Message) -> bytes:
    """A leaf part's body as received. The parser stores it as surrogate-escaped text, and
    `get_payload()` decodes that again with the part's charset (replacing what does not
    fit), so the stored value is read, as the stdlib's own feed parser does."""
    payload = part._payload  # noqa: SLF001 - see above
    return to_bytes(payload) if isinstance(payload, str) else b""


def part_header(part: Message, name: str, defects: list[str]) -> str:
    """The first `name` header of a part, unfolded, 8-bit decoded, words still encoded."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return header_text(str(value), defects)
    return ""


@dataclass(frozen=True)
class PartKind:
    content_type: str
    charset: str | None
    filename: str
    unsplit: bool   # a multipart whose parts could not be found: its body read as text
    inline_text: bool   # a candidate for the message's text or HTML body


def classify(part: Message, defects: list[str]) -> PartKind:
    """What a leaf part is: its type, charset and file name, and whether it is body text."""
    ctype, cparams = mime_params(part_header(part, "content-type", defects), defects)
    disposition, dparams = mime_params(part_header(part, "content-disposition", defects), defects)
    if not _CTYPE.match(ctype):
        ctype = part.get_default_type()
    filename = decode_words(dparams.get("filename") or cparams.get("name") or "", defects)
    unsplit = ctype.startswith("multipart/")
    if unsplit:
        ctype = "text/plain"
    inline = not filename and disposition != "attachment" and not part.is_multipart()
    return PartKind(content_type=ctype, charset=cparams.get("charset"), filename=filename,
                    unsplit=unsplit, inline_text=inline and ctype in ("text/plain", "text/html"))


def is_content_type(value: str) -> bool:
    return bool(_CTYPE.match(value))
