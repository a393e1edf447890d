"""Turn the raw bytes of one message into a `ParsedMessage`.

This is the tolerant reader between the POP3 fetch and the rules. It must not do any
I/O (no files, sockets, clock or logging) and it must never raise on any input bytes:
mail in the wild breaks every RFC, so each problem is degraded to a best guess and
noted in `ParsedMessage.defects`. The stdlib `email` package (compat32 policy, which
never raises while parsing) supplies the MIME tree; headers, RFC 2047 words, RFC 2231
parameters and charsets are decoded by decode.py, transfer encodings by transfer.py,
so that no accessor can raise underneath us.

An ordinary message is parsed whole. A large one, or one whose structure could reach
the limits of mime.py (or that forwards messages, whose bytes as received the stdlib
cannot give back), is read through its skeleton (skeleton.py), which keeps memory and
time bounded and measures attachments without building them. Both routes share the
rules of mime.py and must give the same `ParsedMessage` (tests/mail/test_paths.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from email import utils as email_utils
from email.message import Message

from mailroom.mail.decode import address_text, decode_text, decode_words, header_text, mime_params, to_bytes
from mailroom.mail.display import display_name, html_to_text, safe_filename
from mailroom.mail.mime import (MARK, MAX_DEPTH, MAX_PARTS, SALVAGE_TRIES, PartKind, classify,
                                header_parser, is_content_type, message_parser, part_header, raw_body,
                                salvage)
from mailroom.mail.skeleton import Buffer, PartFacts, skeleton_of
from mailroom.mail.transfer import decode_transfer
from mailroom.model import Address, Attachment, ParsedMessage

__all__ = ["header_date", "html_to_text", "parse_buffer", "parse_message", "parse_whole", "safe_filename"]

_MAX_DEFECTS = 30
_WHOLE_MAX = 64 << 10  # bytes: a larger message is read through its skeleton
_UTC = dt.timezone.utc

_WS = re.compile(r"\s+")
_ANGLE = re.compile(r"<([^<>]*)>")
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")
_NOT_EMAIL = re.compile(r"[\s<>()\[\],;:\"]+")
_MAX_ID = 998  # RFC 5322 section 2.1.1: no line, so no id, is longer
_TNEF_TYPES = frozenset({"application/vnd.ms-tnef", "application/x-tnef"})
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"?', re.S)


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
        msg = header_parser().parsebytes(raw)
        return _message_date(_read_headers(msg, [])[1])[0]
    except Exception:
        return None


# --- MIME parts -------------------------------------------------------------------

def _leaves(msg: Message, visited: list[Message], defects: list[str]):
    """Leaf parts in reading order, iteratively (a deep message must not recurse)."""
    stack, count, salvaged = [(msg, 0)], 0, 0
    while stack:
        part, depth = stack.pop()
        visited.append(part)
        count += 1
        if count > MAX_PARTS or depth > MAX_DEPTH:
            defects.append("too many parts" if count > MAX_PARTS else "nesting too deep")
            return
        if part.get_content_maintype() == "multipart":
            children = part.get_payload()
            if not isinstance(children, list) and salvaged < SALVAGE_TRIES:
                salvaged += 1
                guess = salvage(part)
                children = guess.get_payload() if guess else children
                defects.append("missing boundary" if guess else "unparsable multipart")
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))
                continue
        yield part


def _message_bytes(part: Message) -> bytes:
    """A forwarded message as the stdlib writes it again. Only a whole-parsed message gets
    here, and those have no message/* parts: parse_message reads such mail by skeleton."""
    out = []
    for chunk in part.get_payload():
        try:
            out.append(chunk.as_bytes() if isinstance(chunk, Message) else to_bytes(str(chunk)))
        except Exception:
            out.append(to_bytes(str(chunk)))
    return b"\n".join(out)


def _payload(part: Message, defects: list[str]) -> bytes:
    if part.is_multipart():
        return _message_bytes(part)
    cte = part_header(part, "content-transfer-encoding", defects).lower()
    return decode_transfer(raw_body(part), cte, defects)


def _facts(part: Message, streamed: Mapping[str, PartFacts] | None) -> PartFacts | None:
    """What the skeleton measured of this part (its mark carries a per-run token, so a
    mark forged in the mail matches nothing)."""
    for value in (part.get_all(MARK) or []) if streamed else ():
        facts = streamed.get(str(value).strip())  # type: ignore[union-attr]
        if facts is not None:
            return facts
    return None


def _attachment(part: Message, kind: PartKind, defects: list[str],
                streamed: Mapping[str, PartFacts] | None, data: bytes | None = None) -> Attachment:
    facts = _facts(part, streamed)
    if facts is not None:
        size, sha256 = facts.size, facts.sha256
        if facts.defect:
            defects.append(facts.defect)
    else:
        data = _payload(part, defects) if data is None else data
        size, sha256 = len(data), hashlib.sha256(data).hexdigest()
    filename, ctype = kind.filename, kind.content_type
    if part.is_multipart() and not filename:  # message/rfc822: name it by its subject
        inner = part.get_payload()
        subject = part_header(inner[0], "subject", defects) if inner else ""
        filename = (decode_words(subject, defects) or "message") + ".eml"
    if ctype in _TNEF_TYPES or filename.lower() == "winmail.dat":
        ctype = "application/ms-tnef"  # Outlook's TNEF, whatever it is labelled
    return Attachment(filename=safe_filename(filename), content_type=ctype, size=size, sha256=sha256)


def _walk_body(msg: Message, visited: list[Message], defects: list[str],
               streamed: Mapping[str, PartFacts] | None):
    """(text, html, attachments). The first text/plain and the first text/html part that
    are not blank are the bodies; a blank one (Outlook for Mac's whitespace-only
    alternative, an empty trailing part) is neither body nor attachment. A multipart
    whose parts could not be found is read as text only when there is no other text."""
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    unsplit: list[tuple[int, str, Attachment]] = []
    for part in _leaves(msg, visited, defects):
        kind = classify(part, defects)
        if not kind.inline_text:
            attachments.append(_attachment(part, kind, defects, streamed))
            continue
        data = _payload(part, defects)
        decoded = decode_text(data, kind.charset, defects).replace("\r\n", "\n")
        if not decoded.strip():
            continue
        if kind.unsplit:
            unsplit.append((len(attachments), decoded, _attachment(part, kind, defects, streamed, data)))
        elif kind.content_type == "text/plain" and text is None:
            text = decoded
        elif kind.content_type == "text/html" and html is None:
            html = decoded
        else:
            attachments.append(_attachment(part, kind, defects, streamed, data))
    if text is None and html is not None:
        text = html_to_text(html)
    if text is None and unsplit:
        text = unsplit.pop(0)[1]
    for position, _, attachment in reversed(unsplit):
        attachments.insert(position, attachment)
    return text or "", html, attachments


def _defect_name(defect: object) -> str:
    """`StartBoundaryNotFoundDefect` -> "start boundary not found"."""
    name = type(defect).__name__.removesuffix("Defect")
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


# --- the message ------------------------------------------------------------------

def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one raw message (RFC 5322 + MIME). Never raises: what cannot be read is
    left empty and described in `defects`."""
    raw = raw if isinstance(raw, bytes) else bytes(raw)
    if _needs_skeleton(raw):
        return parse_buffer(raw, hashlib.sha256(raw).hexdigest(), len(raw))
    return parse_whole(raw)


def parse_whole(raw: bytes) -> ParsedMessage:
    """Parse a message whole, with the stdlib feed parser: the route of ordinary mail
    (parse_message chooses). Never raises."""
    raw = raw if isinstance(raw, bytes) else bytes(raw)
    return _parse_safely(raw, raw, hashlib.sha256(raw).hexdigest(), len(raw), None, [])


def parse_buffer(buf: Buffer, sha256: str, size: int) -> ParsedMessage:
    """Parse a message through its skeleton: `buf` is the message's bytes (or a memory-
    mapped spool file), `sha256` and `size` its hash and length. Never raises."""
    skeleton = skeleton_of(buf)
    return _parse_safely(skeleton.raw, buf, sha256, size, skeleton.parts, skeleton.defects)


def _needs_skeleton(raw: bytes) -> bool:
    """Whether the whole-message parse could go past a limit or could not measure a part:
    a large message; more "--" lines than MAX_PARTS (each part needs one) or more
    multiparts than MAX_DEPTH (so the nesting stays below it); a forwarded message
    (message/*, or multipart/digest whose parts are messages), which only the skeleton
    measures as received."""
    if len(raw) > _WHOLE_MAX:
        return True
    low = raw.lower()
    return (b"message/" in low or b"digest" in low or low.count(b"multipart/") >= MAX_DEPTH
            or low.count(b"\n--") + low.count(b"\r--") + 1 >= MAX_PARTS)


def _parse_safely(data: bytes, raw: Buffer, digest: str, size: int,
                  streamed: Mapping[str, PartFacts] | None, extra: list[str]) -> ParsedMessage:
    """`data` is what the feed parser reads (the message, or its skeleton); `raw` the
    message as received, which only a generated Message-ID reads."""
    try:
        return _parse(data, raw, digest, size, headers_only=False, defects=[], streamed=streamed,
                      extra=extra)
    except Exception as exc:  # a bug or a pathological message: degrade, don't raise
        failure = f"parser failure: {type(exc).__name__}"
    try:
        return _parse(data, raw, digest, size, headers_only=True, defects=[failure], streamed=streamed,
                      extra=extra)
    except Exception:
        return ParsedMessage(
            message_id=f"generated-{digest[:32]}@mailroom.invalid", message_id_generated=True,
            in_reply_to=(), references=(), from_addr=None, reply_to=(), to=(), cc=(),
            resent_to=(), resent_cc=(), return_path=None, subject="", date=None,
            date_source=None, content_type="text/plain", text="", html=None, attachments=(),
            headers=(), raw_sha256=digest, size=size, defects=(failure,))


def _generated_id(first: dict[str, str], raw: Buffer) -> str:
    """No Message-ID: hash what identifies the message and not the headers a server adds
    (Received, Status), so the same message re-served still gets this id."""
    sep = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=0)
    ident = hashlib.sha256()
    for key in ("from", "date", "subject"):
        ident.update(first.get(key, "").encode("utf-8") + b"\0")
    for at in range(sep, len(raw), 1 << 20):
        ident.update(raw[at:at + (1 << 20)])
    return f"generated-{ident.hexdigest()[:32]}@mailroom.invalid"


def _parse(data: bytes, raw: Buffer, digest: str, size: int, *, headers_only: bool,
           defects: list[str], streamed: Mapping[str, PartFacts] | None,
           extra: list[str]) -> ParsedMessage:
    if headers_only:
        msg = header_parser().parsebytes(data)
    else:
        msg = message_parser().parsebytes(data)
    headers, values = _read_headers(msg, defects)
    if streamed:  # the skeleton's own mark on a measured top-level body is not a header
        headers = [(key, value) for key, value in headers if key != MARK.lower() or value not in streamed]
    first = {key: found[0] for key, found in values.items()}
    visited = [msg]
    if headers_only:
        text = decode_text(raw_body(msg), None, defects)
        text = text.replace("\r\n", "\n")
        html, attachments = None, []
    else:
        visited.clear()
        text, html, attachments = _walk_body(msg, visited, defects, streamed)
    defects.extend(_defect_name(defect) for part in visited for defect in part.defects)
    defects.extend(extra)

    message_id = first.get("message-id", "")
    message_id = "".join((_ANGLE.findall(message_id) or [message_id])[0].split())
    if len(message_id) > _MAX_ID:
        defects.append("overlong message-id")
        message_id = ""
    generated = not message_id
    if generated:
        message_id = _generated_id(first, raw)
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
        content_type=content_type if is_content_type(content_type) else "text/plain",
        text=text,
        html=html,
        attachments=tuple(attachments),
        headers=tuple(headers),
        raw_sha256=digest,
        size=size,
        defects=tuple(list(seen)[:_MAX_DEFECTS]),
    )
