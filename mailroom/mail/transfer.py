"""Content-Transfer-Encoding (RFC 2045 section 6): a part body as sent, back to its bytes.

Pure and total: a decoder never raises, it decodes what it can and names the problem in
`defect`. It takes the body in any pieces and gives the same bytes however the body was
cut, so a part decoded whole in memory and a part streamed from a spool file agree. No
I/O here.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable
from typing import Protocol


class Sink(Protocol):
    def update(self, data: bytes, /) -> None: ...


class Buffer(bytearray):
    """A sink that keeps the bytes (a part decoded in memory)."""

    def update(self, data: bytes, /) -> None:
        self.extend(data)


class Measure:
    """A sink that keeps only the size and SHA-256 (a part streamed from a file)."""

    def __init__(self) -> None:
        self.size = 0
        self.sha = hashlib.sha256()

    def update(self, data: bytes, /) -> None:
        self.size += len(data)
        self.sha.update(data)


_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(sorted(set(range(256)) - set(_B64 + b"=")))  # deleted before decoding
_UU_NAMES = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_QP_LINE = 1 << 16  # a quoted-printable "line" longer than this is decoded in pieces


class TransferDecoder:
    """Undo one Content-Transfer-Encoding, incrementally: `feed` any chunks, then `close`.

    base64 is read as binascii reads it leniently (what the stdlib does with a whole
    payload): characters outside the alphabet are skipped, the first complete padding
    ends the data, and a last group without padding is decoded all the same. Quoted-
    printable is decoded line by line (binascii, as the stdlib does). x-uuencode follows
    the stdlib's reading (the data between `begin` and `end`), except that damage ends
    the data where the stdlib would give back the encoded text; a part without a `begin`
    line is kept as it is. Anything else (7bit, 8bit, binary, unknown) is kept as it is.
    """

    def __init__(self, cte: str, sink: Callable[[], Sink]):
        self.kind = cte if cte in ("base64", "quoted-printable") else "uu" if cte in _UU_NAMES else ""
        self.out = sink()
        self.defect: str | None = None
        self._rest = b""
        self._skip = False  # quoted-printable: inside "=\r...", which binascii drops up to "\n"
        self._pads = 0  # base64: "=" seen since the last character of the alphabet
        self._done = False  # base64: padding ended the data
        self._raw: Sink | None = sink() if self.kind == "uu" else None  # until `begin` is seen
        self._uu = "begin"

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self.kind == "base64":
            self._base64(data)
        elif self.kind == "quoted-printable":
            self._quoted_printable(data)
        elif self.kind == "uu":
            self._uuencode(data, final=False)
        else:
            self.out.update(data)

    def close(self) -> Sink:
        """The decoded bytes' sink; `defect` says what was irregular, if anything."""
        if self.kind == "base64" and self._rest:
            self.defect = "irregular base64; decoded leniently"  # the last group had no padding
            if len(self._rest) > 1:
                self.out.update(binascii.a2b_base64(self._rest + b"==="[:4 - len(self._rest)]))
        elif self.kind == "quoted-printable" and not self._skip:
            self.out.update(binascii.a2b_qp(self._rest))
        elif self.kind == "uu":
            self._uuencode(b"", final=True)
            if self._raw is not None:
                return self._raw
        self._rest = b""
        return self.out

    def _base64(self, data: bytes) -> None:
        """binascii.a2b_base64's lenient reading, one chunk at a time: characters outside
        the alphabet are skipped, and the first complete padding ends the data."""
        data = data.translate(None, _NOT_B64)
        if self._done:
            if data.replace(b"=", b""):
                self.defect = "data after the base64 padding ignored"
            return
        pos = 0
        while pos < len(data):
            pad = data.find(b"=", pos)
            run = data[pos:] if pad < 0 else data[pos:pad]
            if run:
                self._pads = 0
                group = self._rest + run
                cut = len(group) - len(group) % 4
                self.out.update(binascii.a2b_base64(group[:cut]))
                self._rest = group[cut:]
            if pad < 0:
                return
            pos = pad + 1
            if len(self._rest) >= 2:  # "=" only counts after two characters of a group
                self._pads += 1
                if len(self._rest) + self._pads >= 4:
                    self.out.update(binascii.a2b_base64(self._rest + b"==="[:4 - len(self._rest)]))
                    self._rest, self._done = b"", True
                    self._base64(data[pos:])
                    return

    def _quoted_printable(self, data: bytes) -> None:
        if self._skip:
            end = data.find(b"\n")
            if end < 0:
                return
            data, self._skip = data[end + 1:], False
        data = self._rest + data
        cut = data.rfind(b"\n") + 1  # binascii decodes whole lines alike, whatever follows
        if len(data) - cut > _QP_LINE:  # no line end for a long while: decode most of it
            soft = data.find(b"=\r", cut)
            if soft >= 0:
                self.out.update(binascii.a2b_qp(data[:soft]))
                self._rest, self._skip = b"", True
                return
            cut = len(data)
            while b"=" in data[cut - 2:cut] and len(data) - cut < 8:
                cut -= 1  # never cut an "=XX" escape in two
        self.out.update(binascii.a2b_qp(data[:cut]))
        self._rest = data[cut:]

    def _uuencode(self, data: bytes, *, final: bool) -> None:
        if self._raw is not None:
            self._raw.update(data)
        data = self._rest + data
        lines = data.splitlines(keepends=True)
        self._rest = b""
        if lines and not final and (lines[-1][-1:] not in b"\r\n" or lines[-1].endswith(b"\r")):
            self._rest = lines.pop()  # an unfinished line (or a CR whose LF may follow)
        for line in lines:
            self._uu_line(line.rstrip(b"\r\n"))

    def _uu_line(self, line: bytes) -> None:
        if self._uu == "begin":
            if line.startswith(b"begin "):
                mode = line.removeprefix(b"begin ").partition(b" ")[0]
                try:
                    int(mode, 8)
                except ValueError:
                    return
                self._uu, self._raw = "data", None
            return
        if self._uu != "data":
            return
        if line.strip(b" \t\r\n\f") == b"end":
            self._uu = "end"
            return
        try:
            if not line:
                raise binascii.Error("an empty line inside the data")
            try:
                data = binascii.a2b_uu(line)
            except binascii.Error:  # the stdlib's workaround for encoders that pad lines wrongly
                data = binascii.a2b_uu(line[:(((line[0] - 32) & 63) * 4 + 5) // 3])
        except binascii.Error:
            self.defect = "truncated uuencode; decoded up to the damage"
            self._uu = "end"
            return
        self.out.update(data)


def decode_transfer(data: bytes, cte: str, defects: list[str]) -> bytes:
    """The bytes of a part body as sent, with its Content-Transfer-Encoding undone."""
    decoder = TransferDecoder(cte, Buffer)
    decoder.feed(data)
    out = decoder.close()
    if decoder.defect:
        defects.append(decoder.defect)
    return bytes(out)  # type: ignore[arg-type]
