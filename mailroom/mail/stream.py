"""Large messages without holding them in memory: a skeleton for the parser.

A message above `LARGE` bytes is spooled to a file by the POP3 client. This module
reads that file once, line by line, and writes a *skeleton*: every header block and
every text body kept, while each other leaf part (an attachment) is replaced by an
empty body whose size and SHA-256 are computed on the way through. The parser then
reads the small skeleton and takes those attachments' facts from `streamed`, so a
30 MB message costs about as much memory as its text.

Like the parser it never raises on bad MIME; what it cannot follow it copies as text.
No network and no store here: it reads one file and returns bytes.
"""

from __future__ import annotations

import binascii
import dataclasses
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import BinaryIO

from mailroom.mail.parse import STREAMED_PART, parse_message
from mailroom.model import ParsedMessage

LARGE = 4 << 20                 # bytes: from here on a message is spooled and streamed
TEXT_CAP = 2 << 20              # a kept text body longer than this is cut (noted as a defect)
MAX_LINE = 1 << 16
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^";\r\n]+)"?', re.IGNORECASE)
MARK = STREAMED_PART


@dataclass
class PartFacts:
    size: int
    sha256: str


@dataclass
class Skeleton:
    raw: bytes
    token: str
    parts: dict[str, PartFacts] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)


class _Lines:
    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self._back: list[bytes] = []

    def next(self) -> bytes:
        return self._back.pop() if self._back else self._fh.readline(MAX_LINE)

    def push(self, line: bytes) -> None:
        self._back.append(line)


def _delimiter(line: bytes, boundaries: list[bytes]) -> bytes | None:
    """The boundary this line delimits (RFC 2046 §5.1.1: trailing white space allowed)."""
    if not line.startswith(b"--"):
        return None
    core = line.rstrip(b"\r\n \t")
    for boundary in reversed(boundaries):
        if core == b"--" + boundary or core == b"--" + boundary + b"--":
            return boundary
    return None


class _Digest:
    """Decode a transfer encoding incrementally, keeping only size and hash."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self.sha = hashlib.sha256()
        self.size = 0
        self._rest = b""
        self._eol = b""

    def feed(self, line: bytes) -> None:
        if self.encoding == "base64":
            data = self._rest + b"".join(line.split())
            cut = len(data) - len(data) % 4
            self._rest = data[cut:]
            self._add(_b64(data[:cut]))
        elif self.encoding == "quoted-printable":
            self._add(binascii.a2b_qp(line))
        else:  # 7bit, 8bit, binary: the CRLF before a boundary belongs to the boundary
            body = line.rstrip(b"\r\n")
            self._add(self._eol + body)
            self._eol = line[len(body):]

    def _add(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)

    def close(self) -> PartFacts:
        if self._rest:
            self._add(_b64(self._rest + b"=" * (-len(self._rest) % 4)))
        return PartFacts(self.size, self.sha.hexdigest())


def _b64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        return b""


class _Builder:
    def __init__(self, fh: BinaryIO):
        self.lines = _Lines(fh)
        self.out = bytearray()
        self.skeleton = Skeleton(raw=b"", token=secrets.token_hex(8))

    def entity(self, boundaries: list[bytes], depth: int) -> None:
        head = bytearray()
        while True:
            line = self.lines.next()
            if not line:
                break
            if _delimiter(line, boundaries):
                self.lines.push(line)       # a part that ends inside its headers
                break
            if line in (b"\r\n", b"\n"):
                break
            if not line.lower().startswith(MARK.lower().encode()):
                head += line
        headers = BytesHeaderParser(policy=compat32).parsebytes(bytes(head))
        ctype = (headers.get_content_type() or "text/plain").lower()
        match = _BOUNDARY.search(bytes(head)) if ctype.startswith("multipart/") else None
        if match and depth < 50:
            self.out += head + b"\r\n"
            self.multipart(match.group(1).strip(), boundaries, depth)
            return
        disposition = str(headers.get("content-disposition", "")).lower()
        named = "filename" in disposition or "name=" in str(headers.get("content-type", "")).lower()
        keep = depth == 0 or (ctype.startswith("text/") and not named and "attachment" not in disposition)
        if keep:
            self.out += head + b"\r\n"
            self.copy_body(boundaries)
            return
        digest = _Digest(str(headers.get("content-transfer-encoding", "")).strip().lower())
        inner = bytearray()
        if ctype == "message/rfc822":  # keep the forwarded message's headers: they name it
            while (line := self.lines.next()) and not _delimiter(line, boundaries):
                digest.feed(line)
                inner += line
                if line in (b"\r\n", b"\n") or len(inner) > MAX_LINE:
                    break
            else:
                if line:
                    self.lines.push(line)
        while True:
            line = self.lines.next()
            if not line:
                break
            if _delimiter(line, boundaries):
                self.lines.push(line)
                break
            digest.feed(line)
        key = f"{self.skeleton.token}-{len(self.skeleton.parts)}"
        self.skeleton.parts[key] = digest.close()
        self.out += head + f"{MARK}: {key}\r\n\r\n".encode() + inner

    def copy_body(self, boundaries: list[bytes]) -> None:
        kept = 0
        while True:
            line = self.lines.next()
            if not line:
                return
            if _delimiter(line, boundaries):
                self.lines.push(line)
                return
            kept += len(line)
            if kept <= TEXT_CAP:
                self.out += line
            elif kept - len(line) <= TEXT_CAP:
                self.skeleton.defects.append("long text body cut in the stored copy")

    def multipart(self, boundary: bytes, outer: list[bytes], depth: int) -> None:
        boundaries = [*outer, boundary]
        while True:  # the preamble, then the parts
            line = self.lines.next()
            if not line:
                return
            owner = _delimiter(line, boundaries)
            if owner is None:
                continue                     # preamble or epilogue text is not kept
            if owner != boundary:
                self.lines.push(line)        # an outer boundary: this multipart is over
                return
            self.out += line
            if line.rstrip(b"\r\n \t").endswith(boundary + b"--"):
                continue                     # the close delimiter; the epilogue follows
            self.entity(boundaries, depth + 1)


def skeleton_of(fh: BinaryIO) -> Skeleton:
    """Read the message in `fh` once; return its skeleton and the streamed parts' facts."""
    builder = _Builder(fh)
    try:
        builder.entity([], 0)
    except (ValueError, LookupError, RecursionError) as exc:
        builder.skeleton.defects.append(f"streaming parser failure: {type(exc).__name__}")
    builder.skeleton.raw = bytes(builder.out)
    return builder.skeleton


def parse_file(path: Path, sha256: str, size: int) -> ParsedMessage:
    """Parse the large message spooled at `path` (its hash and size already known)."""
    with open(path, "rb") as fh:
        skeleton = skeleton_of(fh)
    msg = parse_message(skeleton.raw, streamed=skeleton.parts)
    return dataclasses.replace(msg, raw_sha256=sha256, size=size,
                               defects=tuple(dict.fromkeys([*msg.defects, *skeleton.defects])))
