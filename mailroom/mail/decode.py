"""Bytes and header words to text, for the parser: charsets, RFC 2047, RFC 2231.

Pure and total like the parser: every function returns its best guess and notes a
problem in `defects` instead of raising. Mail labels charsets loosely, so labels are
mapped the way browsers map them (the WHATWG Encoding Standard).
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re

_DECODE_ERRORS = (UnicodeError, LookupError, ValueError, TypeError)
_FOLD = re.compile(r"\r?\n(?=[ \t])")
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
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte that surrogateescape could not decode

# RFC 2047 section 2 encoded-word; a language suffix (RFC 2231 section 5) is ignored.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*)\?=")
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', re.S)
# An address header outside comments: a quoted string, an encoded word, or a run of the rest.
_ADDRESS_TOKEN = re.compile(r'(?P<quoted>"(?:[^"\\]|\\.)*"?)|(?P<word>' + _ENCODED_WORD.pattern
                            + r')|[^"(<>=\\]+|\\.|.', re.S)
_COMMENT_SPECIAL = re.compile(r"[()\\]")
_SECTION = re.compile(r"^(.*?)\*(\d+)(\*?)$|^(.*?)(\*)$")
_JIS_ESCAPE = re.compile(rb"\x1b(\$[@B]|\$\(D|\([BJI])")
# A "Q" encoded word as it arrived, before the header is decoded as a whole.
_RAW_Q_WORD = re.compile(rb"=\?[^?\s*]+(?:\*[^?\s]*)?\?[qQ]\?[^?]*\?=")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


@functools.lru_cache(maxsize=256)
def codec_for(label: str) -> str | None:
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


def decode_text(data: bytes, label: str | None, defects: list[str]) -> str:
    """Decode text: declared charset, then UTF-8, then cp1252 with replacement."""
    codec = None
    if label and label.strip().lower() not in _UNLABELLED:
        codec = codec_for(label)
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
    if text is None and _mostly_utf8(data):
        # A stray bad byte in UTF-8 text: replace that byte, keep the rest as written
        # (decoding the whole part as cp1252 would garble every other character).
        text, codec = data.decode("utf-8", "replace"), "utf-8"
    if text is None:
        text, codec = data.decode("cp1252", "replace"), "cp1252"
    if codec not in _PLAIN_CODECS and _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub("\ufffd", text)  # UTF-7 can decode to lone surrogates
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _mostly_utf8(data: bytes) -> bool:
    """More valid UTF-8 characters beyond ASCII than undecodable bytes: UTF-8 with a few
    errors, not Latin-1 or cp1252 text (whose accented letters are never valid UTF-8)."""
    text = data.decode("utf-8", "surrogateescape")
    bad = len(_ESCAPED_BYTE.findall(text))
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return good > bad


def to_bytes(value: str) -> bytes:
    """Undo the parser's surrogateescape: the header or payload bytes as received."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return value.encode("utf-8", "replace")


def header_text(value: str, defects: list[str]) -> str:
    """A raw header value as text, unfolded (RFC 5322 section 2.2.3), words still encoded."""
    if not value.isascii() or "\x1b" in value:
        raw = to_bytes(value)
        if b"=?" in raw:
            # 8-bit bytes inside a "Q" word are in that word's charset (old clients send
            # them raw): escape them, so decode_words decodes them once, with that charset.
            raw = _RAW_Q_WORD.sub(lambda word: _HIGH_BYTE.sub(_qp_escape, word.group()), raw)
        value = decode_text(raw, None, defects)  # raw 8-bit: UTF-8, else cp1252
    if "\n" in value or "\r" in value:
        value = _FOLD.sub("", value).replace("\r", "").replace("\n", "")
    return value.replace("\x00", "\ufffd").strip()


def _qp_escape(match: re.Match[bytes]) -> bytes:
    return b"=%02X" % match.group()[0]


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


def decode_words(value: str, defects: list[str]) -> str:
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
                out.append(decode_text(bytes(pending), charset, defects))
                pending.clear()
            if not (after_word and (not gap or gap.isspace())):
                out.append(gap)
        pending += data
        charset, pos, after_word = match.group(1).lower(), match.end(), True
    if pending:
        out.append(decode_text(bytes(pending), charset, defects))
    out.append(value[pos:])
    return "".join(out)


def address_text(value: str) -> tuple[str, str]:
    """An address header made safe for `email.utils.getaddresses`: (the header without its
    RFC 5322 comments, the header with them). In both, every RFC 2047 word outside a
    quoted string and outside <...> becomes a quoted string, so that what it holds (a
    comma, a colon, an @) can never be read as an address, a group or a list separator."""
    if "(" not in value and "=?" not in value:
        return value, value
    plain: list[str] = []
    commented: list[str] = []
    pos, size, angle = 0, len(value), 0
    while pos < size:
        if value[pos] == "(":  # RFC 5322 section 3.2.2: comments nest; "\" quotes a character
            depth, end = 1, pos + 1
            while depth and end < size:
                special = _COMMENT_SPECIAL.search(value, end)
                if special is None:
                    end = size
                    break
                end = special.end() + (special.group() == "\\")
                depth += {"(": 1, ")": -1}.get(special.group(), 0)
            commented.append(value[pos:end])
            plain.append(" ")
            pos = end
            continue
        token = _ADDRESS_TOKEN.match(value, pos)
        assert token is not None  # the last alternative matches any character
        text = token.group()
        angle = angle + 1 if text == "<" else max(angle - 1, 0) if text == ">" else angle
        if token.group("word") and not angle:
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        plain.append(text)
        commented.append(text)
        pos = token.end()
    return "".join(plain), "".join(commented)


def mime_params(value: str, defects: list[str]) -> tuple[str, dict[str, str]]:
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
        plain[key] = decode_text(bytes(data), charset, defects)
    return head.strip().lower(), plain


def _percent_decode(text: str) -> bytes:
    def byte(match: re.Match[bytes]) -> bytes:
        return bytes((int(match.group(1), 16),))
    return re.sub(rb"%([0-9A-Fa-f]{2})", byte, text.encode("utf-8"))
