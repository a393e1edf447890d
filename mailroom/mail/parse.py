"""Turn the raw bytes of one message into a `ParsedMessage`.

This is the tolerant reader between the POP3 fetch and the rules. It must not do any
I/O (no files, sockets, clock or logging) and it must never raise on any input bytes:
mail in the wild breaks every RFC, so each problem is degraded to a best guess and
noted in `ParsedMessage.defects`. The stdlib `email` package (compat32 policy, which
never raises while parsing) supplies the MIME tree; headers, RFC 2047 words, RFC 2231
parameters and charsets are decoded here so that no accessor can raise underneath us.
"""

from __future__ import annotations

import binascii
import codecs
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Mapping
from email import utils as email_utils
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser, Parser
from email.policy import compat32
from html import unescape

from mailroom.model import Address, Attachment, ParsedMessage

__all__ = ["header_date", "html_to_text", "parse_message", "safe_filename"]

_MAX_PARTS = 500  # a message with more MIME parts than this is hostile, not busy
_MAX_DEPTH = 50
_MAX_DEFECTS = 30
_DECODE_ERRORS = (UnicodeError, LookupError, ValueError, TypeError)
_UTC = dt.timezone.utc

# MIME labels Python does not know, and labels whose senders really mean a superset
# (the WHATWG Encoding Standard maps them the same way).
_LABELS = {"windows-31j": "cp932", "x-sjis": "cp932", "x-mac-roman": "mac_roman",
           "utf8mb4": "utf-8", "x-user-defined": "cp1252"}
_SUPERSETS = {"iso8859-1": "cp1252", "gb2312": "gb18030", "gbk": "gb18030",
              "shift_jis": "cp932", "euc_kr": "cp949", "big5": "big5hkscs"}
_UNLABELLED = frozenset({"unknown-8bit", "x-unknown", "unknown", "default"})
_NOT_CHARSETS = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode"})
_PLAIN_CODECS = frozenset({"utf-8", "cp1252", "ascii", "iso2022_jp"})
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WS = re.compile(r"\s+")
# RFC 2047 section 2 encoded-word; a language suffix (RFC 2231 section 5) is ignored.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*)\?=")
_ANGLE = re.compile(r"<([^<>]*)>")
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")
_NOT_EMAIL = re.compile(r"[\s<>()\[\],;:\"]+")
_MAX_ID = 998  # RFC 5322 section 2.1.1: no line, so no id, is longer
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', re.S)
_SECTION = re.compile(r"^(.*?)\*(\d+)(\*?)$|^(.*?)(\*)$")
_CTYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_JIS_ESCAPE = re.compile(rb"\x1b(\$[@B]|\$\(D|\([BJI])")
_TNEF_TYPES = frozenset({"application/vnd.ms-tnef", "application/x-tnef"})
STREAMED_PART = "X-Mailroom-Streamed-Part"  # set only by mailroom/mail/stream.py, per-run token
_BOUNDARY_LINE = re.compile(r"^--([^\s\"\\]{1,70})[ \t]*\r?$", re.M)


# --- bytes to text ----------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _codec(label: str) -> str | None:
    """The Python codec for a MIME charset label, or None when it is unusable."""
    key = label.strip().strip("\"'").lower()
    key = _LABELS.get(key, key)
    try:
        info = codecs.lookup(key)
    except Exception:  # LookupError, or ValueError for a label with a NUL in it
        return None
    if not info._is_text_encoding or info.name in _NOT_CHARSETS:
        return None  # base64, rot13, "undefined": codecs, but not charsets
    return _SUPERSETS.get(info.name, info.name)


def _jis_to_cp932(data: bytes) -> str:
    """ISO-2022-JP as Outlook writes it (with CP932 extensions such as circled digits,
    which no Python codec accepts), by re-coding each JIS X 0208 pair as Shift_JIS."""
    out = bytearray()
    mode = b"(B"
    pos = 0
    for match in [*_JIS_ESCAPE.finditer(data), None]:
        chunk = data[pos:match.start() if match else len(data)]
        if mode.startswith(b"$"):
            for j1, j2 in zip(chunk[::2], chunk[1::2]):
                if 0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E:
                    s1 = ((j1 - 0x21) >> 1) + 0x81
                    s1 += 0x40 if s1 > 0x9F else 0
                    s2 = j2 + (0x1F + (j2 >= 0x60) if j1 % 2 else 0x7E)
                    out += bytes((s1, s2))
                else:
                    out += b"?"
        elif mode == b"(I":
            out += bytes(b | 0x80 if 0x21 <= b <= 0x5F else b for b in chunk)
        else:
            out += chunk
        if match:
            mode, pos = match.group(1), match.end()
    return out.decode("cp932", "replace")


def _decode(data: bytes, label: str | None, defects: list[str]) -> str:
    """Decode text: declared charset, then UTF-8, then cp1252 with replacement."""
    codec = None
    if label and label.strip().lower() not in _UNLABELLED:
        codec = _codec(label)
        if codec is None:
            defects.append(f"bad charset {label.strip()[:40]}")
    if codec is None and b"\x1b$" in data:
        codec = "iso2022_jp"  # RFC 1468 text sent without a label
    text = None
    for candidate in (codec, "utf-8"):
        if candidate and text is None:
            try:
                text = data.decode(candidate)
            except _DECODE_ERRORS:
                if candidate == "iso2022_jp" and data.isascii():
                    text = _jis_to_cp932(data)
                elif label and candidate == codec:
                    defects.append(f"undecodable text in {label.strip()[:40]}")
            else:
                codec = candidate
    if text is None:
        text, codec = data.decode("cp1252", "replace"), "cp1252"
    if codec not in _PLAIN_CODECS and _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub("\ufffd", text)  # UTF-7 can decode to lone surrogates
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _to_bytes(value: str) -> bytes:
    """Undo the parser's surrogateescape: the header or payload bytes as received."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return value.encode("utf-8", "replace")


def _header_text(value: str, defects: list[str]) -> str:
    """A raw header value as text, unfolded (RFC 5322 section 2.2.3), words still encoded."""
    if not value.isascii() or "\x1b" in value:
        value = _decode(_to_bytes(value), None, defects)  # raw 8-bit: UTF-8, else cp1252
    if "\n" in value or "\r" in value:
        value = _FOLD.sub("", value).replace("\r", "").replace("\n", "")
    return value.replace("\x00", "\ufffd").strip()


def _word_bytes(kind: str, text: str) -> bytes | None:
    if kind in "qQ":
        return binascii.a2b_qp(text.encode("utf-8"), header=True)
    data = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(data) % 4 == 1:
        return None  # not base64 at all: keep the word as written
    try:
        return binascii.a2b_base64(data + "=" * (-len(data) % 4))
    except binascii.Error:
        return None


def _decode_words(value: str, defects: list[str]) -> str:
    """Decode RFC 2047 encoded words. Whitespace between two words is dropped (section
    6.2), and adjacent words in one charset are joined before decoding, because mailers
    split multi-byte characters across words."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pending, charset, pos, after_word = bytearray(), "", 0, False
    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos:match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            defects.append("malformed encoded word")
            continue
        if not (after_word and (not gap or gap.isspace()) and match.group(1).lower() == charset):
            if pending:
                out.append(_decode(bytes(pending), charset, defects))
                pending.clear()
            if not (after_word and (not gap or gap.isspace())):
                out.append(gap)
        pending += data
        charset, pos, after_word = match.group(1).lower(), match.end(), True
    if pending:
        out.append(_decode(bytes(pending), charset, defects))
    out.append(value[pos:])
    return "".join(out)


def _params(value: str, defects: list[str]) -> tuple[str, dict[str, str]]:
    """Split `type; name=value; ...` into the lower-cased first token and parameters,
    joining RFC 2231 continuations (`name*0*=`) and decoding `charset'lang'%XX` values."""
    head, _, rest = value.partition(";")
    plain: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for match in _PARAM.finditer(";" + rest):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"'):  # unescape only \\ and \": Outlook writes C:\paths raw
            raw = raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:]
            raw = raw.replace("\\\\", "\\").replace('\\"', '"')
        section = _SECTION.match(key)
        if section is None:
            plain.setdefault(key, raw)
        elif section.group(1) is not None:
            sections.setdefault(section.group(1), []).append(
                (int(section.group(2)[:6]), bool(section.group(3)), raw))
        else:
            sections.setdefault(section.group(4), []).append((0, True, raw))
    for key, parts in sections.items():
        parts.sort(key=lambda part: part[0])
        charset, data = None, bytearray()
        for index, (_, extended, raw) in enumerate(parts):
            if extended:
                if index == 0 and raw.count("'") >= 2:
                    charset, _, raw = raw.split("'", 2)
                data += _percent_decode(raw)
            else:
                data += raw.encode("utf-8")
        plain[key] = _decode(bytes(data), charset, defects)
    return head.strip().lower(), plain


def _percent_decode(text: str) -> bytes:
    def byte(match: re.Match[bytes]) -> bytes:
        return bytes((int(match.group(1), 16),))
    return re.sub(rb"%([0-9A-Fa-f]{2})", byte, text.encode("utf-8"))


# --- header fields ----------------------------------------------------------------

def _addresses(values: list[str], defects: list[str]) -> tuple[Address, ...]:
    found: dict[str, Address] = {}
    for value in values:
        try:
            pairs = email_utils.getaddresses([value])
        except Exception:
            pairs = []
        pairs = [(name, addr.strip()) for name, addr in pairs if _EMAIL.fullmatch(addr.strip())]
        if not pairs and "@" in value:
            defects.append("bad address header")  # salvage bare addr-specs
            pairs = [("", addr) for addr in _NOT_EMAIL.split(value) if _EMAIL.fullmatch(addr)]
        for name, addr in pairs:
            name = _WS.sub(" ", _decode_words(name, defects)).strip()
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
        key = _header_text(str(name), defects).lower()
        text = _header_text(value if isinstance(value, str) else str(value), defects)
        values.setdefault(key, []).append(text)
        headers.append((key, _decode_words(text, defects)))
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
            return _header_text(str(value), defects)
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
            out.append(chunk.as_bytes() if isinstance(chunk, Message) else _to_bytes(str(chunk)))
        except Exception:
            out.append(_to_bytes(str(chunk)))
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
    return _to_bytes(payload) if isinstance(payload, str) else b""


def _walk_body(msg: Message, visited: list[Message], defects: list[str],
               streamed: Mapping[str, object] | None = None):
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in _leaves(msg, visited, defects):
        ctype, cparams = _params(_part_header(part, "content-type", defects), defects)
        disposition, dparams = _params(_part_header(part, "content-disposition", defects), defects)
        if not _CTYPE.match(ctype):
            ctype = part.get_default_type()
        filename = _decode_words(dparams.get("filename") or cparams.get("name") or "", defects)
        if ctype.startswith("multipart/"):
            ctype = "text/plain"  # an unsalvageable multipart: show its body as text
        inline = not filename and disposition != "attachment" and not part.is_multipart()
        if inline and ctype in ("text/plain", "text/html"):
            if (text if ctype == "text/plain" else html) is None:
                decoded = _decode(_payload(part, defects), cparams.get("charset"), defects)
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
            filename = (_decode_words(subject, defects) or "message") + ".eml"
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
        text = _decode(_to_bytes(body) if isinstance(body, str) else b"", None, defects)
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
    content_type = _params(first.get("content-type", ""), [])[0]
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
        subject=_WS.sub(" ", _decode_words(first.get("subject", ""), defects)).strip(),
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


# --- display helpers --------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})


def safe_filename(name: str) -> str:
    """A file name fit to show (and to save under): no directories, no control or
    bidi-override characters, no leading dots, no Windows device names, at most 150
    characters; "attachment" when nothing is left."""
    name = _CONTROL.sub("", str(name).replace("\\", "/").rpartition("/")[2])
    name = re.sub(r'[<>:"|?*]', "_", name).strip().lstrip(".").strip().rstrip(". ")
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = stem[:150 - len(ext) - 1] + dot + ext if dot and len(ext) <= 16 else name[:150]
    if name.partition(".")[0].rstrip().upper() in _RESERVED:
        name = "_" + name
    return name or "attachment"


_SKIPPED = {tag: re.compile(f"</{tag}", re.I) for tag in ("script", "style", "title", "template")}
_BLOCKS = frozenset({"address", "article", "aside", "blockquote", "center", "dd", "div", "dl",
                     "dt", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "li",
                     "nav", "ol", "p", "pre", "section", "table", "tr", "ul"})
_TAG = re.compile(r"(/?)([a-zA-Z][a-zA-Z0-9-]*)")
_SPACES = re.compile(r"[ \t]{2,}")


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: scripts and styles dropped, blocks on their own
    lines, entities decoded, runs of blank lines collapsed. Never raises.

    A small scanner rather than html.parser: on unterminated constructs (`<!--` and
    `<a ` repeated) html.parser in Python 3.11 takes quadratic time (CVE-2025-6069),
    and one hostile message must not stall the worker. Each step here moves forward.
    """
    out: list[str] = []
    pos, gt, end, pre = 0, -1, len(html), False
    while pos < end:
        lt = html.find("<", pos)
        lt = end if lt < 0 else lt
        if lt > pos:
            chunk = unescape(html[pos:lt])
            out.append(chunk if pre else _WS.sub(" ", chunk))
        if lt >= end:
            break
        pos = lt + 1
        if html.startswith("<!--", lt):
            close = html.find("-->", lt + 4)
            pos = end if close < 0 else close + 3
            continue
        after = html[pos:pos + 1]
        if not after or not (after.isalpha() or after in "!?/"):
            out.append("<")  # "a < b": a literal, as a browser shows it
            continue
        if gt < lt:  # the first ">" after lt; kept while still ahead, so this is linear
            gt = html.find(">", lt)
            if gt < 0:
                gt = end
        tag = _TAG.match(html, pos, gt)
        pos = gt + 1
        name = tag.group(2).lower() if tag else ""
        closing = bool(tag and tag.group(1))
        if name in _SKIPPED and not closing:
            skip = _SKIPPED[name].search(html, pos)
            close = html.find(">", skip.end()) if skip else -1
            pos = end if close < 0 else close + 1
        elif name in ("br", "hr"):
            out.append("\n")
        elif name in _BLOCKS:
            out.append("\n- " if name == "li" and not closing else "\n")
            pre = not closing if name == "pre" else pre
        elif name in ("td", "th") and not closing:
            out.append(" ")
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(out).replace("\r", "").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().replace("\x00", "\ufffd")
