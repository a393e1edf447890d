"""The skeleton of a message: its structure, headers and text, with other parts measured.

The stdlib feed parser holds a whole message as Python objects; on hostile structure
(thousands of parts, hundreds of nested multiparts, megabytes of headers) its memory
and time grow without bound. This module reads a message once, from bytes or from a
memory-mapped spool file, following the feed parser's own rules for lines, headers and
boundaries (so that parsing the skeleton gives the same parts as parsing the message),
and writes a skeleton: every header block, every boundary, every body that is read as
text; each other part (an attachment, a forwarded message) keeps its headers plus a
`MARK` header, and its body is decoded on the way through to its size and SHA-256.
The limits of mime.py are enforced here: past one, the rest of the message is not read.

Like the parser it never raises on bad input: what it cannot follow is left out and
named in `Skeleton.defects`. No network and no store: it reads bytes, returns bytes.
"""

from __future__ import annotations

import mmap
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import cast

from mailroom.mail.mime import (BOUNDARY_LINE, MARK, MAX_DEPTH, MAX_HEADER_BYTES, MAX_PARTS,
                                MAX_TEXT_BYTES, SALVAGE_TRIES, classify, header_parser, part_header)
from mailroom.mail.transfer import Measure, TransferDecoder

Buffer = bytes | mmap.mmap

_EOL = re.compile(rb"\r\n|\r|\n")
# The feed parser's test for a header line (email.feedparser.headerRE), on bytes.
_HEADER_LINE = re.compile(rb"^(From |[\041-\071\073-\176]*:|[\t ])")
_NOT_HEADER = b"-\r\n"  # stands for a body line that ended a header block (a defect)
_MAX_BOUNDARY_LINE = 1 << 17  # longer lines are never boundaries
_PIECE = 1 << 20  # bytes handed on at a time, so an attachment is never copied whole
_WINDOW = 1 << 20  # bytes searched at a time; a spool file's pages read are then given back
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)  # not on Windows


@dataclass(frozen=True)
class PartFacts:
    size: int
    sha256: str
    defect: str | None = None


@dataclass
class Skeleton:
    raw: bytes
    parts: dict[str, PartFacts] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)


class _Stop(Exception):
    """A limit was reached: the rest of the message is not read."""


@dataclass
class _Guess:
    """The token of the first line of a region that looks like a boundary (mime.salvage)."""
    start: int
    newline_before: bool
    token: bytes | None = None
    maybe: tuple[bytes, int] | None = None  # a line ending in a lone CR counts only if last


class _Builder:
    def __init__(self, buf: Buffer):
        self.buf = buf
        self.pos = 0
        self.end = len(buf)  # a guessed multipart is read again within its region
        self.stack: list[bytes] = []  # boundaries that end the current entity (feedparser's EOF stack)
        self.prefix = b""  # a line pushed back in front of `pos` (the "From " quirk)
        self.phantom = False  # the feed parser's unread empty line: the next part is empty
        self.out = bytearray()
        self.token = secrets.token_hex(8)
        self.parts: dict[str, PartFacts] = {}
        self.defects: list[str] = []
        self.header_left = MAX_HEADER_BYTES
        self.text_left = MAX_TEXT_BYTES
        self.count = 0
        self.salvaged = 0
        self.released = 0  # spool-file pages before this offset were given back
        self._seen: dict[bytes, tuple[int, int, int]] = {}  # _dash_line's last finds

    # --- lines -----------------------------------------------------------------------

    def _line_end(self, i: int, longest: int) -> int:
        """Where the line at `i` ends (after its line end); -1 when it is longer than `longest`."""
        match = _EOL.search(self.buf, i, min(self.end, i + longest + 1))
        if match is None:
            return self.end if self.end - i <= longest else -1
        if match.group() == b"\r" and match.end() < self.end and self.buf[match.end():match.end() + 1] == b"\n":
            return match.end() + 1  # the window ended between CR and LF
        return match.end()

    def _verdict(self, i: int, e: int, own: bytes | None) -> str | None:
        """What the line buf[i:e] (starting with "--") is: "eof" for a boundary on the stack,
        "delim" or "close" for `own` (RFC 2046 section 5.1.1: trailing blanks allowed)."""
        if e < 0:
            return None  # too long to be a boundary line
        core = self.buf[i:e].rstrip(b"\r\n").rstrip(b" \t")
        name, closing = core[2:], core[2:-2] if core.endswith(b"--") else None
        if self.stack and (name in self.stack or closing in self.stack):
            return "eof"
        if own is not None:
            if name == own:
                return "delim"
            if closing == own:
                return "close"
        return None

    def _readline(self, limit: int) -> bytes:
        """The next line; b"" at the end, or at a boundary on the stack (left unread)."""
        i = self.pos
        if i >= self.end:
            return b""
        e = self._line_end(i, max(limit, _MAX_BOUNDARY_LINE))
        if self.stack and self.buf[i:i + 2] == b"--" and self._verdict(i, e, None) == "eof":
            return b""
        if e < 0 or e - i > limit:
            raise _Stop("headers too large; the rest of the message is not read")
        self.pos = e
        return bytes(self.buf[i:e])

    def _header_block(self) -> tuple[list[bytes], bytes | None, bool]:
        """Header lines as the feed parser reads them; the blank line that ended them (if
        any); whether a body line ended them instead (left unread: MissingHeaderBodySeparator)."""
        lines: list[bytes] = []
        if self.phantom:
            self.phantom = False
            return lines, None, False
        while True:
            if self.prefix:
                line, self.prefix, start = self.prefix, b"", -1
            else:
                start = self.pos
                try:
                    line = self._readline(self.header_left)
                except _Stop:  # keep the headers read so far, then stop
                    self.out += b"".join(lines)
                    raise
            if not line:
                blank, body_line = None, False
                break
            if not _HEADER_LINE.match(line):
                if line[:1] in (b"\r", b"\n"):
                    blank, body_line = line, False
                else:
                    blank, body_line = None, True
                    if start < 0:
                        self.prefix = line
                    else:
                        self.pos = start
                break
            self.header_left -= len(line)
            lines.append(line)
        if len(lines) > 1 and lines[-1].startswith(b"From "):
            self.prefix = lines[-1]  # the feed parser reads a last "From " line as body
        return lines, blank, body_line

    # --- bodies --------------------------------------------------------------------

    def _scan(self, write: Callable[[bytes], None] | None, own: bytes | None = None,
              guess: _Guess | None = None) -> str:
        """Pass the body lines from `pos` to `write` (None: skip them), up to the line that
        ends them, which stays unread: "eof" (a boundary on the stack), "delim" or "close"
        (of `own`), or "end" (of the input or region). `guess` records the first line
        that looks like a boundary."""
        buf, i, start = self.buf, self.pos, self.pos
        verdict = "end"
        watch = guess is not None or own is not None or bool(self.stack)
        line_start = True  # whether `i` starts a line
        while watch:  # lines that start with "--" are the only ones to look at
            if line_start and i < self.end and buf[i:i + 2] == b"--":
                c = i
            else:
                low = i
                while True:  # a window at a time, so a spool file is read (and let go) in order
                    high = min(self.end, low + _WINDOW)
                    c = self._dash_line(low, high)
                    if c >= 0 or high == self.end:
                        break
                    low = high - 2  # "\n--" may straddle the window's end
                    self._pass(write, start, low)
                    start = low
                if c < 0:
                    break
            e = self._line_end(c, _MAX_BOUNDARY_LINE)
            found = self._verdict(c, e, own)
            if found:
                verdict, self.pos = found, c
                break
            if guess is not None and guess.token is None and e >= 0:
                self._check_guess(guess, c, e)
            i, line_start = (e, True) if e >= 0 else (c + 2, False)
            if c - start >= _PIECE:
                self._pass(write, start, c)
                start = c
        stop = self.pos if verdict != "end" else self.end
        self.pos = stop
        self._pass(write, start, stop)
        return verdict

    def _dash_line(self, low: int, high: int) -> int:
        """Where the first line in buf[low:high] that starts with "--" begins, or -1. A plain
        find (memchr speed over base64) for each kind of line end; the last finds are kept,
        so a text with many "--" lines is not searched to the window's end each time."""
        found = -1
        for sep in (b"\n--", b"\r--"):  # a lone CR ends a line too (old Macintosh mail)
            start, upto, at = self._seen.get(sep, (0, -1, -1))
            if not (start <= low and (at >= low or (at < 0 and high <= upto))):
                at = self.buf.find(sep, low, high)  # the first one from `low` (-1: none)
                self._seen[sep] = (low, high, at)
            if 0 <= at <= high - 3 and (found < 0 or at + 1 < found):
                found = at + 1
        return found

    def _pass(self, write: Callable[[bytes], None] | None, start: int, stop: int) -> None:
        """Hand buf[start:stop] to `write` in pieces; give a spool file's pages back behind."""
        for at in range(start, stop, _PIECE):
            if write is not None:
                write(bytes(self.buf[at:min(at + _PIECE, stop)]))
            if at + _PIECE - self.released >= _WINDOW:
                self._release(min(at + _PIECE, stop))
        self._release(stop)

    def _release(self, upto: int) -> None:
        """Drop the mapped pages before `upto` (read again, they fault back in): the
        system counts a mapped file's pages read as this process's memory."""
        if isinstance(self.buf, mmap.mmap) and upto - self.released >= _WINDOW and _DONTNEED is not None:
            upto -= upto % mmap.PAGESIZE
            self.buf.madvise(_DONTNEED, self.released, upto - self.released)
            self.released = upto

    def _check_guess(self, guess: _Guess, c: int, e: int) -> None:
        """mime.BOUNDARY_LINE as it matches the region as one string: at a line start
        after "\\n", and before "\\n" or at the very end."""
        if not (guess.newline_before if c == guess.start else self.buf[c - 1] == 0x0A):
            return
        content = self.buf[c:e]
        eol = content[len(content.rstrip(b"\r\n")):]
        match = BOUNDARY_LINE.match(content[:len(content) - len(eol)].decode("ascii", "surrogateescape"))
        if match is None:
            return
        token = match.group(1).encode("ascii", "surrogateescape")
        if eol == b"\r":
            guess.maybe = (token, e)
        else:
            guess.token = token

    # --- entities ------------------------------------------------------------------

    def entity(self, depth: int, *, subpart: bool, digest: bool) -> None:
        """One message or part, as the feed parser's _parsegen reads it."""
        self.count += 1
        if self.count > MAX_PARTS:
            raise _Stop("too many parts")
        if depth > MAX_DEPTH:
            raise _Stop("nesting too deep")
        lines, blank, body_line = self._header_block()
        head = header_parser().parsebytes(b"".join(lines) + b"\n")
        if digest:
            head.set_default_type("message/rfc822")
        maintype = head.get_content_maintype()
        if maintype == "multipart":
            self._multipart(head, lines, blank, body_line, depth)
        elif maintype == "message":
            self._measure(head, lines, blank, body_line, subpart=subpart, inner=True)
        elif classify(head, []).inline_text:
            self._emit_head(lines, blank)
            self._keep_text(self._scan)
        else:
            self._measure(head, lines, blank, body_line, subpart=subpart, inner=False)

    def _emit(self, data: bytes) -> None:
        if len(data) > self.header_left:
            raise _Stop("headers too large; the rest of the message is not read")
        self.header_left -= len(data)
        self.out += data

    def _emit_head(self, lines: list[bytes], blank: bytes | None, mark: str = "",
                   body_line: bool = False) -> None:
        if mark:  # before the second header, so a first "From " line stays the envelope
            starts = [n for n, line in enumerate(lines) if line[:1] not in (b" ", b"\t")]
            at = starts[1] if len(starts) > 1 else len(lines)
            lines = [*lines[:at], f"{MARK}: {mark}\r\n".encode(), *lines[at:]]
            if at and lines[at - 1][-1:] not in (b"\r", b"\n"):
                lines[at - 1] += b"\r\n"  # the last line of the input had no line end
        self.out += b"".join(lines)
        if blank is not None:
            self.out += blank
        elif body_line and mark:
            self.out += _NOT_HEADER

    def _keep_text(self, read: Callable[[Callable[[bytes], None]], object]) -> None:
        """Copy a body read as text into the skeleton, up to the text limit."""
        cut = [False]

        def write(data: bytes) -> None:
            kept = data[:self.text_left]
            self.out += kept
            self.text_left -= len(kept)
            if len(kept) < len(data):
                cut[0] = True
        read(write)
        if cut[0]:
            self.defects.append("long text cut in the stored copy")
            if self.out[-1:] not in (b"\n", b"\r"):
                self.out += b"\r\n"  # the next boundary must start a line
        self.prefix = b""  # a pushed-back "From " line is in the copied header block already

    def _measure(self, head: Message, lines: list[bytes], blank: bytes | None, body_line: bool,
                 *, subpart: bool, inner: bool, region: tuple[int, int] | None = None) -> None:
        """A part kept as its headers, a mark, and its body's decoded size and SHA-256."""
        key = f"{self.token}-{len(self.parts)}"
        self._emit_head(lines, blank, mark=key, body_line=body_line)
        prefix, start = self.prefix, self.pos
        if inner:  # a forwarded message: keep its headers, they name it
            inner_lines, inner_blank, inner_body = self._header_block()
            if prefix:  # its first line, pushed back by the "From " quirk, is in the skeleton already
                inner_lines = inner_lines[1:]
            self.out += b"".join(inner_lines) + (inner_blank or (_NOT_HEADER if inner_body else b""))
            self.pos = start
        self.prefix = b""
        decoder = TransferDecoder(part_header(head, "content-transfer-encoding", []).lower(), Measure)
        held = [b""]

        def write(data: bytes) -> None:  # RFC 2046: the line end before a boundary is the boundary's
            if subpart:
                data = held[0] + data
                cut = len(data) - (2 if data.endswith(b"\r\n") else 1 if data[-1:] in (b"\r", b"\n") else 0)
                data, held[0] = data[:cut], data[cut:]
            decoder.feed(data)

        write(prefix)
        if region is None:
            self._scan(write)
        else:
            self._pass(write, *region)
        measure = cast(Measure, decoder.close())
        self.parts[key] = PartFacts(measure.size, measure.sha.hexdigest(), decoder.defect)

    def _delimiter(self, own: bytes, close: bool) -> None:
        """Copy the boundary line at `pos`, without its trailing blanks, and with a line feed
        after a lone CR: lines left out after it must not join it to a next line that starts
        with one, and mime.salvage only sees a boundary line that ends in a line feed."""
        line = self.buf[self.pos:self._line_end(self.pos, _MAX_BOUNDARY_LINE)]
        eol = line[len(line.rstrip(b"\r\n")):]
        self._emit(b"--" + own + (b"--" if close else b"") + (b"\r\n" if eol == b"\r" else eol))
        self.pos += len(line)

    def _multipart(self, head: Message, lines: list[bytes], blank: bytes | None, body_line: bool,
                   depth: int) -> None:
        boundary = head.get_boundary()
        try:
            own = boundary.encode("ascii", "surrogateescape") if boundary is not None else None
        except UnicodeError:
            own = b"\n"  # an RFC 2231 boundary outside ASCII never matches a line
        prefix, start = self.prefix, self.pos
        guess = _Guess(start, not prefix or prefix.endswith(b"\n"))
        found = self._scan(None, own, guess)
        if found == "delim":
            self._emit_head(lines, blank)
            if body_line:
                self.out += _NOT_HEADER
            self.prefix = b""
            self._parts(own, depth, digest=head.get_content_type() == "multipart/digest")
            return
        # No part found: the feed parser keeps the body as text, and mime.salvage guesses
        stop = self.pos  # a boundary from the first "--token" line in it.
        if guess.token is None and guess.maybe and guess.maybe[1] == stop:
            guess.token = guess.maybe[0]
        if found == "close":
            self._scan(None)  # everything after the close delimiter is dropped
        after = self.pos
        tried = self.salvaged < SALVAGE_TRIES
        self.salvaged += tried
        if not (tried and guess.token is not None
                and self._salvage(guess.token, lines, blank, body_line, (start, stop), depth, prefix)):
            self.prefix, self.pos = prefix, start
            if classify(head, []).inline_text:
                self._emit_head(lines, blank)
                self._keep_text(lambda write: self._pass(write, start, stop))
            else:
                self._measure(head, lines, blank, body_line, subpart=False, inner=False, region=(start, stop))
        if found == "close":  # it ends the text (and may be the line that ended the headers)
            self.pos = stop
            self._delimiter(own, close=True)  # type: ignore[arg-type]
        self.pos, self.prefix = after, b""

    def _salvage(self, token: bytes, lines: list[bytes], blank: bytes | None, body_line: bool,
                 region: tuple[int, int], depth: int, prefix: bytes) -> bool:
        """Read a region again as a multipart with a guessed boundary, on its own (as
        mime.salvage does); False when no part starts with it (the guess fails)."""
        saved = self.stack, self.end
        self.stack, self.end, self.pos, self.prefix = [], region[1], region[0], b""
        try:
            if self._scan(None, token) != "delim":
                return False
            self._emit_head(lines, blank)
            if body_line:
                self.out += _NOT_HEADER
            elif prefix.endswith(b"\r"):  # a "From " line pushed back before the boundary:
                self.out += b"\r\n"  # an empty line after it, so the boundary follows a "\n"
            self._parts(token, depth, digest=False)
            return True
        finally:
            self.stack, self.end = saved

    def _parts(self, own: bytes, depth: int, *, digest: bool) -> None:
        """The parts of a multipart, from its first delimiter line at `pos`."""
        while True:
            i = self.pos
            e = self._line_end(i, _MAX_BOUNDARY_LINE) if i < self.end and self.buf[i:i + 2] == b"--" else i
            kind = self._verdict(i, e, own) if e != i else None
            if kind in (None, "eof"):
                return  # the end of the input or of an outer part: no close delimiter
            self._delimiter(own, kind == "close")
            if kind == "close":
                self._scan(None)  # the epilogue is not kept
                return
            while True:  # the feed parser reads repeated delimiter lines as one
                i = self.pos
                if i >= self.end:
                    self.phantom = True
                    break
                e = self._line_end(i, _MAX_BOUNDARY_LINE) if self.buf[i:i + 2] == b"--" else i
                verdict = self._verdict(i, e, own) if e != i else None
                if verdict == "eof":
                    self.phantom = True
                    break
                if verdict is None:
                    break
                self.pos = e
            self.stack.append(own)
            self.entity(depth + 1, subpart=True, digest=digest)
            self.stack.pop()


def skeleton_of(buf: Buffer) -> Skeleton:
    """The skeleton of the message in `buf` (bytes, or a memory-mapped spool file)."""
    builder = _Builder(buf)
    try:
        builder.entity(0, subpart=False, digest=False)
    except _Stop as stop:
        builder.defects.append(str(stop))
    except Exception as exc:  # a bug must not lose the message: keep what was read
        builder.defects.append(f"skeleton failure: {type(exc).__name__}")
    return Skeleton(raw=bytes(builder.out), parts=builder.parts, defects=builder.defects)
