"""Plain data shared by the parser, the rules and the store.

Frozen dataclasses only; no I/O and no behaviour beyond small lookups, so every
module can import this one without pulling in anything else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Address:
    """One mailbox from an address header: display name and lower-cased address."""

    name: str
    email: str


@dataclass(frozen=True)
class Attachment:
    """An attachment as listed on a message; `filename` is display text, never a path."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ParsedMessage:
    """What the parser extracts from one raw RFC 5322 message.

    Message-IDs are stored without angle brackets. `date` is timezone-aware UTC or
    None; `date_source` says where it came from ("date", "received" or None).
    `return_path` is None when the header is missing and "" for the null sender `<>`.
    `headers` keeps every header as (lower-cased name, decoded value) in order, so the
    rules can look at markers such as Auto-Submitted or List-Id.
    """

    message_id: str
    message_id_generated: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_addr: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    resent_to: tuple[Address, ...]
    resent_cc: tuple[Address, ...]
    return_path: str | None
    subject: str
    date: dt.datetime | None
    date_source: str | None
    content_type: str
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]
    raw_sha256: str
    size: int
    defects: tuple[str, ...] = field(default=())

    def header(self, name: str) -> list[str]:
        """All values of header `name` (case-insensitive), in order."""
        key = name.lower()
        return [value for hname, value in self.headers if hname == key]

    def has_header(self, name: str) -> bool:
        key = name.lower()
        return any(hname == key for hname, _ in self.headers)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect to one mail server; the password travels separately.

    `security` is "ssl" (implicit TLS), "starttls" (STLS/STARTTLS required) or "none".
    """

    protocol: str          # "pop3" | "smtp"
    host: str
    port: int
    security: str
    username: str = ""
    domain: str = ""
    ca_file: str | None = None
    timeout: float = 30.0

    @property
    def login(self) -> str:
        """The login name: DOMAIN\\username for Exchange-style servers."""
        return f"{self.domain}\\{self.username}" if self.domain else self.username

    @property
    def is_gmail(self) -> bool:
        host = self.host.lower().rstrip(".")
        return host.endswith((".gmail.com", ".googlemail.com")) or host in ("gmail.com", "googlemail.com")
