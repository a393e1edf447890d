"""Threads: our own signed Message-IDs, and telling a reply from a new conversation.

Every message Mailroom sends carries a Message-ID of the form
`mr.<nonce>.<mac>@<domain>`, where `mac` is an HMAC-SHA256 of the nonce under the
installation's secret. A client's reply names it in In-Reply-To or References
(RFC 5322 section 3.6.4), so a reply is recognised even when the store no longer knows
the id (a restored backup, a second installation, a message sent before import).

Pure: the secret, the nonce and what the store knows are passed in. This module never
generates randomness and never queries the store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal, Mapping

from mailroom.model import ParsedMessage

_PREFIX = "mr"
_MAC_HEX = 16  # 64 bits: forging one id takes ~2**64 guesses, and it only marks a reply
# The nonce must be a dot-free dot-atom piece (RFC 5322 section 3.2.3), so the id
# splits unambiguously on its dots.
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_OUR_ID = re.compile(rf"(?i:{_PREFIX})\.({_NONCE.pattern})\.([0-9a-fA-F]{{{_MAC_HEX}}})@\S+")

Direction = Literal["in", "out"]
Via = Literal["in-reply-to", "references", "our-token"]


@dataclass(frozen=True)
class KnownMessage:
    """A message the store already has, found by one of the ids a message refers to;
    `client_id` is the client of its conversation (None: unfiled)."""

    message_id: str
    conversation_id: int | None
    task_id: int | None
    direction: Direction
    client_id: int | None = None


@dataclass(frozen=True)
class ReplyInfo:
    """Whether a message continues a conversation, and where it attaches.

    `parent_id` is the referenced Message-ID that decided it; `via` says which header
    it came from, or "our-token" when only our signature recognised it (then the
    conversation and task are unknown). `client_id` is the conversation's client.
    """

    is_reply: bool
    conversation_id: int | None
    task_id: int | None
    parent_id: str | None
    via: Via | None
    client_id: int | None = None


NOT_A_REPLY = ReplyInfo(False, None, None, None, None)


def _mac(secret: bytes, nonce: str) -> str:
    # A fixed label separates this use of the secret from any other.
    digest = hmac.new(secret, b"mailroom message-id\x00" + nonce.encode("ascii"), hashlib.sha256)
    return digest.hexdigest()[:_MAC_HEX]


def make_message_id(secret: bytes, nonce: str, domain: str) -> str:
    """Our Message-ID `mr.<nonce>.<mac>@<domain>`, without angle brackets.

    Only the nonce is signed, so changing the outgoing domain later does not orphan
    replies to mail already sent.
    """
    if not secret:
        raise ValueError("make_message_id needs a non-empty secret")
    if not _NONCE.fullmatch(nonce):
        raise ValueError(f"nonce must be 1-128 letters, digits, '-' or '_', not {nonce!r}")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{domain!r} is not a domain for a Message-ID")
    return f"{_PREFIX}.{nonce}.{_mac(secret, nonce)}@{domain}"


def message_id_domain(address: str) -> str:
    """The domain for our Message-IDs sent from `address`; "mailroom.invalid" when the
    address has none that fits a Message-ID (e.g. an internationalised one)."""
    domain = address.rpartition("@")[2]
    return domain if _DOMAIN.fullmatch(domain) else "mailroom.invalid"


def is_our_message_id(secret: bytes, message_id: str) -> bool:
    """True when `message_id` (with or without <>) was made by `make_message_id`."""
    if not secret:
        return False
    match = _OUR_ID.fullmatch(message_id.strip().strip("<>"))
    if match is None:
        return False
    nonce, mac = match.groups()
    # compare_digest: the time taken must not reveal how much of a forged mac was right.
    return hmac.compare_digest(_mac(secret, nonce), mac.lower())


def detect_reply(msg: ParsedMessage, known: Mapping[str, KnownMessage], secret: bytes) -> ReplyInfo:
    """Is `msg` a reply, and to what?

    `known` maps the ids from msg.in_reply_to and msg.references that the store has
    to what it knows about them. A message is a reply when one of those ids is known,
    or carries our signed token. Known ids win over bare tokens (they name the
    conversation); among them In-Reply-To, the direct parent, wins over References,
    whose last entry is the newest ancestor (RFC 5322 section 3.6.4).
    """
    ordered: list[tuple[str, Via]] = [(mid, "in-reply-to") for mid in msg.in_reply_to]
    ordered += [(mid, "references") for mid in reversed(msg.references)]
    candidates = [
        (mid, via)
        for mid, via in ((m.strip().strip("<>"), v) for m, v in ordered)
        if mid and mid != msg.message_id  # a message is not its own parent
    ]
    for mid, via in candidates:
        found = known.get(mid)
        if found is not None:
            return ReplyInfo(True, found.conversation_id, found.task_id, mid, via, found.client_id)
    for mid, _via in candidates:
        if is_our_message_id(secret, mid):
            return ReplyInfo(True, None, None, mid, "our-token")
    return NOT_A_REPLY
