"""Authentication-Results (RFC 8601): did our own provider see SPF and DMARC fail?

A forged Return-Path turns an auto-reply into backscatter: the reply goes to whoever
the forger named. The receiving provider records what it checked in an
Authentication-Results header; we read it, but only the topmost instance stamped with
the authserv-id we trust for the mailbox (RFC 8601 section 5: headers from elsewhere,
and anything below our provider's own, may be forged by the sender). A header can
therefore only ever stop a reply, never allow one the other rules refuse.

The trusted authserv-id is the mailbox's `authserv_id` setting, or known from the
mailbox's host for providers that always stamp one (Gmail: mx.google.com).
Microsoft 365 writes no authserv-id at all, so it cannot be trusted this way.

Parsed here rather than with the `authres` package: that one recurses on nested
comments (a hostile header raises RecursionError), re-scans the rest of the header for
every token (quadratic) and rejects the UTF-8 comments RFC 8601 allows. This parser is
one linear pass and never raises.

Pure: no DNS, no store; the header text and the settings are all it sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailroom.model import ParsedMessage

# Providers whose incoming servers always stamp this authserv-id, by the suffix of the
# POP3/IMAP host the mailbox is read from.
KNOWN_AUTHSERV_IDS: tuple[tuple[str, str], ...] = (
    ("gmail.com", "mx.google.com"),
    ("googlemail.com", "mx.google.com"),
)
MAX_HEADER = 65536  # characters; no real Authentication-Results header comes close

# RFC 2045 token (authserv-id, reason and unquoted values) and RFC 8601 Keyword.
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_KEYWORD = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_AUTHSERV = re.compile(rf"\s*({_TOKEN}|{_QUOTED})(?:\s+\d+)?\s*")
_METHOD = re.compile(rf"\s*({_KEYWORD})\s*(?:/\s*\d+\s*)?=\s*({_KEYWORD})")
_REASON = re.compile(rf"\s+reason\s*=\s*({_TOKEN}|{_QUOTED})", re.I)
_PROPERTY = re.compile(rf"\s+({_KEYWORD})\s*\.\s*({_KEYWORD}(?:\.{_KEYWORD})*)\s*=\s*({_QUOTED}|[^\s\";]*)")
_SPF_FAILED = frozenset({"fail", "softfail"})


@dataclass(frozen=True)
class MethodResult:
    """One resinfo: `method` and `result` lower-case, properties as ("smtp.mailfrom", value)."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        return next((value for key, value in self.properties if key == name), None)


@dataclass(frozen=True)
class AuthResults:
    """A parsed header: the authserv-id (lower-case) and the results that could be read."""

    authserv_id: str
    results: tuple[MethodResult, ...]

    def first(self, method: str) -> MethodResult | None:
        return next((r for r in self.results if r.method == method), None)


def trusted_authserv_id(host: str, setting: str = "") -> str:
    """The authserv-id to trust for a mailbox read from `host`; "" when none is known."""
    if setting.strip():
        return setting.strip().lower()
    host = host.strip().lower().rstrip(".")
    for suffix, authserv_id in KNOWN_AUTHSERV_IDS:
        if host == suffix or host.endswith("." + suffix):
            return authserv_id
    return ""


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _segments(value: str) -> list[str] | None:
    """The header split at its top-level semicolons, comments replaced by a space and
    quoted strings kept; None when a comment or a quoted string is never closed."""
    segments: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                current.append(char)
        elif char == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                current.append(char)
        elif quoted:
            current.append(char)
            quoted = char != '"'
        elif char == "(":  # comments nest (RFC 5322 section 3.2.2)
            depth += 1
        elif depth:
            if char == ")":
                depth -= 1
                if depth == 0:
                    current.append(" ")
        elif char == '"':
            current.append(char)
            quoted = True
        elif char == ";":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth or quoted:
        return None
    segments.append("".join(current))
    return segments


def _resinfo(text: str) -> MethodResult | None:
    """One resinfo (RFC 8601 section 2.2), or None when it does not follow the grammar."""
    match = _METHOD.match(text)
    if match is None:
        return None
    pos = match.end()
    reason = _REASON.match(text, pos)
    if reason is not None:
        pos = reason.end()
    properties = []
    while (prop := _PROPERTY.match(text, pos)) is not None and prop.end() > pos:
        properties.append((f"{prop[1].lower()}.{prop[2].lower()}", _unquote(prop[3])))
        pos = prop.end()
    if text[pos:].strip():
        return None
    return MethodResult(match[1].lower(), match[2].lower(), tuple(properties))


def parse_authentication_results(value: str) -> AuthResults | None:
    """Parse one Authentication-Results value; None when not even its authserv-id reads.

    A resinfo that does not follow the grammar is left out rather than guessed at.
    """
    value = value.replace("\r", " ").replace("\n", " ")
    if len(value) > MAX_HEADER:
        return None
    segments = _segments(value)
    if segments is None:
        # Unreadable past the authserv-id: keep the id so the caller knows whose it is.
        head = _AUTHSERV.match(value.split(";", 1)[0])
        return AuthResults(_unquote(head[1]).lower(), ()) if head else None
    head = _AUTHSERV.fullmatch(segments[0])
    if head is None:
        return None
    results = [_resinfo(segment) for segment in segments[1:]]
    return AuthResults(_unquote(head[1]).lower(), tuple(r for r in results if r is not None))


def _domain(value: str) -> str:
    return value.strip().rpartition("@")[2].strip().lower().rstrip(".")


def forged_sender_reason(msg: ParsedMessage, authserv_id: str, envelope: str) -> str | None:
    """Why the Return-Path `envelope` looks forged, by our provider's own checks; else None.

    Both must fail: SPF (fail or softfail, RFC 7208 section 2.6) for the Return-Path's
    domain, and DMARC (RFC 7489). A failing SPF alone is common for forwarded mail.
    """
    authserv_id = authserv_id.strip().lower()  # RFC 8601 section 2.5: compared case-insensitively
    if not authserv_id or "@" not in envelope:
        return None
    for value in msg.header("authentication-results"):
        found = parse_authentication_results(value)
        if found is None or found.authserv_id != authserv_id:
            continue
        # The topmost instance from our provider decides; older ones below it may be forged.
        domain = _domain(envelope)
        spf = next((r for r in found.results if r.method == "spf" and _about(r, domain)), None)
        dmarc = found.first("dmarc")
        if spf is not None and spf.result in _SPF_FAILED and dmarc is not None and dmarc.result == "fail":
            return (f"Our mail provider ({authserv_id}) found that SPF ({spf.result}) and DMARC (fail) both "
                    f"fail for {domain}: the Return-Path is probably forged.")
        return None
    return None


def _about(spf: MethodResult, domain: str) -> bool:
    """The SPF result is about the envelope sender's domain (not HELO, not another domain)."""
    mailfrom = spf.prop("smtp.mailfrom")
    if mailfrom is None:
        return spf.prop("smtp.helo") is None
    return _domain(mailfrom) == domain
