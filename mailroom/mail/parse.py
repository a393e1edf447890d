"""Turn the raw bytes of one message into a `ParsedMessage`.

This is the tolerant reader between the POP3 fetch and the rules. It must not do any
I/O (no files, sockets, clock or logging) and it must never raise on any input bytes:
mail in the wild breaks every RFC, so each problem is degraded to a best guess and
noted in `ParsedMessage.defects`. The stdlib `email` package (compat32 policy, which
never raises while parsing) supplies the MIME tree; headers, RFC 2047 words, RFC 2231
parameters and charsets are decoded by decode.py so that no accessor can raise
underneath us.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from email import utils as email_utils
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser, Parser
from email.policy import compat32

from mailroom.mail.decode import address_text, decode_text, decode_words, header_text, mime_params, to_bytes
from mailroom.mail.display import display_name, html_to_text, safe_filename
from mailroom.model import Address, Attachment, ParsedMessage

__all__ = ["header_date", "html_to_text", "parse_message", "safe_filename"]

_MAX_PARTS = 500  # a message with more MIME parts than this is hostile, not busy
_MAX_DEPTH = 50
_MAX_DEFECTS = 30
_UTC = dt.timezone.utc

_WS = re.compile(r"\s+")
_ANGLE = re.compile(r"<([^<>]*)>")
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")
_NOT_EMAIL = re.compile(r"[\s<>()\[\],;:\"]+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"?', re.S)
_MAX_ID = 998  # RFC 5322 section 2.1.1: no line, so no id, is longer
_CTYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_TNEF_TYPES = frozenset({"application/vnd.ms-tnef", "application/x-tnef"})
STREAMED_PART = "X-Mailroom-Streamed-Part"  # set only by mailroom/mail/stream.py, per-run token
_BOUNDARY_LINE = re.compile(r"^--([^\s\"\\]{1,70})[ \t]*\r?$", re.M)


# --- header fields ----------------------------------------------------------------

def _pairs(value: str) -> list[tuple[str, str]]:
    try:
        pairs = email_utils.getaddresses([value])
    except Exception:
        return []
    return [(name, addr.strip()) for name, addr in pairs if _EMAIL.fullmatch(addr.strip())]


def _addresses(values: list[str], defects: list[str]) -> tuple[Address, ...]:
    """Addresses in an address header (RFC 5322 section 3.4). The address is read from the
    header as sent, with comments dropped and encoded words kept whole, never from the
    decoded display name; a comment names an address only when nothing else does
    (the old `addr (Name)` form)."""
    found: dict[str, Address] = {}
    for value in values:
        plain, commented = address_text(value)
        pairs = _pairs(plain)
        if any(not name for name, _ in pairs) and commented != plain:
            named = {addr.lower(): name for name, addr in _pairs(commented) if name}
            pairs = [(name or named.get(addr.lower(), ""), addr) for name, addr in pairs]
        if not pairs and "@" in value:
            defects.append("bad address header")  # salvage bare addr-specs
            bare = _QUOTED.sub(" ", commented)
            pairs = [("", addr) for addr in _NOT_EMAIL.split(bare) if _EMAIL.fullmatch(addr)]
        for name, addr in pairs:
            name = display_name(decode_words(name, defects))
            found.setdefault(addr.lower(), Address(name=name, email=addr.lower()))
    return tuple(found.values())


def _ids(values: list[str]) -> tuple[str, ...]:
    """Message-IDs from In-Reply-To/References (RFC 5322 section 3.6.4), in order, once."""
    seen: dict[str, None] = {}
    for value in values:
        for msg_id in _ANGLE.findall(value) or [t for t in value.split() if "@" in t]:
            msg_id = "".join(msg_id.split())
            if 0 < len(msg_id) <= _MAX_ID:
                seen.setdefault(msg_id, None)
    return tuple(seen)


def _parse_date(value: str) -> dt.datetime | None:
    """An RFC 5322 date (or, failing that, ISO 8601) as aware UTC; no zone means UTC."""
    value = value.strip()[:200]
    try:
        parts = email_utils.parsedate_tz(value)
        if parts is None:
            when = dt.datetime.fromisoformat(value)
        else:
            zone = dt.timezone(dt.timedelta(seconds=parts[9] or 0))
            when = dt.datetime(*parts[:5], min(parts[5], 59), tzinfo=zone)
        return (when if when.tzinfo else when.replace(tzinfo=_UTC)).astimezone(_UTC)
    except (ValueError, TypeError, OverflowError, IndexError):
        return None


def _message_date(values: dict[str, list[str]]) -> tuple[dt.datetime | None, str | None]:
    for value in values.get("date", ()):
        when = _parse_date(value)
        if when:
            return when, "date"
    stamps = [_parse_date(value.rpartition(";")[2]) for value in values.get("received", ())]
    stamps = [when for when in stamps if when]
    return (max(stamps), "received") if stamps else (None, None)


def _read_headers(msg: Message, defects: list[str]):
    """One pass over the headers: the ordered decoded list, and per name the raw
    (unfolded, 8-bit decoded, still encoded-word) values for the structured fields."""
    headers: list[tuple[str, str]] = []
    values: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        key = header_text(str(name), defects).lower()
        text = header_text(value if isinstance(value, str) else str(value), defects)
        values.setdefault(key, []).append(text)
        headers.append((key, decode_words(text, defects)))
    return headers, values


def header_date(raw_headers: bytes) -> dt.datetime | None:
    """The message date from a header block alone (what POP3 `TOP n 0` returns), for
    the exclude-before check: `Date:`, else the newest `Received:` stamp, else None."""
    try:
        raw = bytes(raw_headers)
        if raw.startswith(b"+OK"):
            raw = raw.partition(b"\n")[2]
        msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
        return _message_date(_read_headers(msg, [])[1])[0]
    except Exception:
        return None


# --- MIME parts -------------------------------------------------------------------

def _part_header(part: Message, name: str, defects: list[str]) -> str:
    for key, value in part.raw_items():
        if key.lower() == name:
            return header_text(str(value), defects)
    return ""


def _salvage(part: Message) -> Message | None:
    """A multipart whose boundary is missing or never used: guess it from the first
    `--token` line, as a reader would."""
    body = part.get_payload()
    match = _BOUNDARY_LINE.search(body) if isinstance(body, str) else None
    if match is None:
        return None
    head = f'Content-Type: multipart/mixed; boundary="{match.group(1)}"\n\n'
    guess = Parser(policy=compat32).parsestr(head + body)
    return guess if guess.is_multipart() else None


def _leaves(msg: Message, visited: list[Message], defects: list[str]):
    """Leaf parts in reading order, iteratively (a deep message must not recurse)."""
    stack, count, salvaged = [(msg, 0)], 0, 0
    while stack:
        part, depth = stack.pop()
        visited.append(part)
        count += 1
        if count > _MAX_PARTS or depth > _MAX_DEPTH:
            defects.append("too many parts" if count > _MAX_PARTS else "nesting too deep")
            return
        if part.get_content_maintype() == "multipart":
            children = part.get_payload()
            if not isinstance(children, list) and salvaged < 5:
                salvaged += 1
                guess = _salvage(part)
                children = guess.get_payload() if guess else children
                defects.append("missing boundary" if guess else "unparsable multipart")
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))
                continue
        yield part


def _message_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    chunks = payload if isinstance(payload, list) else [payload]
    out = []
    for chunk in chunks:
        try:
            out.append(chunk.as_bytes() if isinstance(chunk, Message) else to_bytes(str(chunk)))
        except Exception:
            out.append(to_bytes(str(chunk)))
    return b"\n".join(out)


def _payload(part: Message, defects: list[str]) -> bytes:
    if part.is_multipart():
        return _message_bytes(part)
    payload = part.get_payload()
    cte = _part_header(part, "content-transfer-encoding", defects).lower()
    if isinstance(payload, str) and cte == "base64":
        try:  # straight to binascii: skips compat32's per-line copy of a big attachment
            return binascii.a2b_base64(payload.encode("ascii", "surrogateescape"))
        except (binascii.Error, UnicodeError):
            defects.append("irregular base64; decoded leniently")  # the stdlib path below copes
    try:
        data = part.get_payload(decode=True)
    except Exception:
        defects.append("undecodable transfer encoding")
        data = None
    if isinstance(data, bytes):
        return data
    return to_bytes(payload) if isinstance(payload, str) else b""


def _walk_body(msg: Message, visited: list[Message], defects: list[str],
               streamed: Mapping[str, object] | None = None):
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in _leaves(msg, visited, defects):
        ctype, cparams = mime_params(_part_header(part, "content-type", defects), defects)
        disposition, dparams = mime_params(_part_header(part, "content-disposition", defects), defects)
        if not _CTYPE.match(ctype):
            ctype = part.get_default_type()
        filename = decode_words(dparams.get("filename") or cparams.get("name") or "", defects)
        if ctype.startswith("multipart/"):
            ctype = "text/plain"  # an unsalvageable multipart: show its body as text
        inline = not filename and disposition != "attachment" and not part.is_multipart()
        if inline and ctype in ("text/plain", "text/html"):
            if (text if ctype == "text/plain" else html) is None:
                decoded = decode_text(_payload(part, defects), cparams.get("charset"), defects)
                decoded = decoded.replace("\r\n", "\n")
                if ctype == "text/plain":
                    text = decoded
                else:
                    html = decoded
                continue
        facts = streamed.get(str(part.get(STREAMED_PART, "")).strip()) if streamed else None
        if facts is not None:  # an attachment of a large message, measured while streaming
            size, sha256 = facts.size, facts.sha256
        else:
            data = _payload(part, defects)
            size, sha256 = len(data), hashlib.sha256(data).hexdigest()
        if part.is_multipart() and not filename:  # message/rfc822: name it by its subject
            inner = part.get_payload()
            subject = _part_header(inner[0], "subject", defects) if inner else ""
            filename = (decode_words(subject, defects) or "message") + ".eml"
        if ctype in _TNEF_TYPES or filename.lower() == "winmail.dat":
            ctype = "application/ms-tnef"  # Outlook's TNEF, whatever it is labelled
        attachments.append(Attachment(filename=safe_filename(filename), content_type=ctype,
                                      size=size, sha256=sha256))
    return text, html, attachments


def _defect_name(defect: object) -> str:
    """`StartBoundaryNotFoundDefect` -> "start boundary not found"."""
    name = type(defect).__name__.removesuffix("Defect")
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


# --- the message ------------------------------------------------------------------

def parse_message(raw: bytes, *, streamed: Mapping[str, object] | None = None) -> ParsedMessage:
    """Parse one raw message (RFC 5322 + MIME). Never raises: what cannot be read is
    left empty and described in `defects`.

    `streamed` is for the skeleton of a large message (mailroom/mail/stream.py): parts
    marked with the `STREAMED_PART` header take their size and hash from it.
    """
    raw = raw if isinstance(raw, bytes) else bytes(raw)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return _parse(raw, digest, headers_only=False, defects=[], streamed=streamed)
    except Exception as exc:  # a bug or a pathological message: degrade, don't raise
        failure = f"parser failure: {type(exc).__name__}"
    try:
        return _parse(raw, digest, headers_only=True, defects=[failure])
    except Exception:
        return ParsedMessage(
            message_id=f"generated-{digest[:32]}@mailroom.invalid", message_id_generated=True,
            in_reply_to=(), references=(), from_addr=None, reply_to=(), to=(), cc=(),
            resent_to=(), resent_cc=(), return_path=None, subject="", date=None,
            date_source=None, content_type="text/plain", text="", html=None, attachments=(),
            headers=(), raw_sha256=digest, size=len(raw), defects=(failure,))


def _parse(raw: bytes, digest: str, *, headers_only: bool, defects: list[str],
           streamed: Mapping[str, object] | None = None) -> ParsedMessage:
    if headers_only:
        msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
    else:
        msg = BytesParser(policy=compat32).parsebytes(raw)
    headers, values = _read_headers(msg, defects)
    first = {key: found[0] for key, found in values.items()}
    visited = [msg]
    if headers_only:
        body = msg.get_payload()
        text = decode_text(to_bytes(body) if isinstance(body, str) else b"", None, defects)
        text = text.replace("\r\n", "\n")
        html, attachments = None, []
    else:
        visited.clear()
        text, html, attachments = _walk_body(msg, visited, defects, streamed)
        if text is None:
            text = html_to_text(html) if html else ""
    defects.extend(_defect_name(defect) for part in visited for defect in part.defects)

    message_id = first.get("message-id", "")
    message_id = "".join((_ANGLE.findall(message_id) or [message_id])[0].split())
    if len(message_id) > _MAX_ID:
        defects.append("overlong message-id")
        message_id = ""
    generated = not message_id
    if generated:
        # No Message-ID: hash what identifies the message and not the headers a server
        # adds (Received, Status), so the same message re-served still gets this id.
        sep = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=0)
        ident = hashlib.sha256()
        for key in ("from", "date", "subject"):
            ident.update(first.get(key, "").encode("utf-8") + b"\0")
        ident.update(memoryview(raw)[sep:])
        message_id = f"generated-{ident.hexdigest()[:32]}@mailroom.invalid"
    return_path = None
    if "return-path" in first:
        found = _ANGLE.findall(first["return-path"]) or [first["return-path"]]
        return_path = "".join(found[0].split()).lower()
    date, date_source = _message_date(values)
    content_type = mime_params(first.get("content-type", ""), [])[0]
    seen: dict[str, None] = dict.fromkeys(defects)
    return ParsedMessage(
        message_id=message_id,
        message_id_generated=generated,
        in_reply_to=_ids(values.get("in-reply-to", [])),
        references=_ids(values.get("references", [])),
        from_addr=next(iter(_addresses(values.get("from", [])[:1], defects)), None),
        reply_to=_addresses(values.get("reply-to", []), defects),
        to=_addresses(values.get("to", []), defects),
        cc=_addresses(values.get("cc", []), defects),
        resent_to=_addresses(values.get("resent-to", []), defects),
        resent_cc=_addresses(values.get("resent-cc", []), defects),
        return_path=return_path,
        subject=_WS.sub(" ", decode_words(first.get("subject", ""), defects)).strip(),
        date=date,
        date_source=date_source,
        content_type=content_type if _CTYPE.match(content_type) else "text/plain",
        text=text,
        html=html,
        attachments=tuple(attachments),
        headers=tuple(headers),
        raw_sha256=digest,
        size=len(raw),
        defects=tuple(list(seen)[:_MAX_DEFECTS]),
    )

