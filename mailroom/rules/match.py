"""Client matching: which client sent this message, or should a new one be created.

The shell looks up the clients that own the sender's address (case-insensitively) and
passes them in as `ClientRecord`s; `match_client` turns that, and the company's
"unknown sender" setting, into a decision: `Matched`, `NewClient` or `Unmatched`.

Pure: no database, and no guessing from anything but the sender's address (Reply-To is
not trusted for filing). It also holds `is_system_address`, the test for senders that
are machines rather than people, and `sender_key`, the form of an address the
auto-reply rate limit counts by; both are shared with the auto-reply rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Literal, Sequence

from mailroom.model import Address
from mailroom.settings.fields import SECTION

UnknownSender = Literal["create", "leave_unmatched"]
UNKNOWN_SENDER_CHOICES: tuple[str, ...] = SECTION["company"].by_name["unknown_sender"].choices  # the one list


@dataclass(frozen=True)
class ClientRecord:
    """A stored client, as far as matching needs it."""

    id: int
    name: str
    emails: tuple[str, ...]


@dataclass(frozen=True)
class Matched:
    """The message belongs to `client_id`.

    When several clients share the address, `ambiguous` is True, `client_id` is the
    lowest id (deterministic, so a re-import files the same way) and `candidate_ids`
    lists them all so the UI can offer to move the message.
    """

    client_id: int
    ambiguous: bool
    candidate_ids: tuple[int, ...]


@dataclass(frozen=True)
class NewClient:
    """Create a client called `name` owning `email` (lower-case) and file it there."""

    name: str
    email: str


@dataclass(frozen=True)
class Unmatched:
    """File the message without a client; `reason` is shown to the user.

    `internal`: the sender is one of our own addresses (a mailbox, the outgoing
    account, a user's email): internal mail, which gets no task and no reply either.
    """

    reason: str
    internal: bool = False


ClientDecision = Matched | NewClient | Unmatched

# Local parts of senders that are software, not people: RFC 5230 (Sieve vacation)
# names owner-*, *-request, LISTSERV, MAILER-DAEMON and majordomo; RFC 2142
# reserves postmaster; no-reply addresses say so themselves. Mailman adds
# *-bounces and *-owner. Separators are ignored ("no.reply",
# "do_not_reply") and a "+detail" subaddress (RFC 5233) is dropped first.
_SYSTEM_EXACT = frozenset({"mailerdaemon", "postmaster", "listserv", "majordomo"})
_SYSTEM_PREFIXES = ("noreply", "donotreply")


def is_system_address(email: str) -> bool:
    """True for mailer-daemons, list robots and no-reply senders (case-insensitive)."""
    local = email.rpartition("@")[0] if "@" in email else email
    local = local.strip().strip('"').lower().split("+", 1)[0]
    if local.startswith("owner-") or local.endswith(("-request", "-bounces", "-owner")):
        return True
    compact = re.sub(r"[-_.]", "", local)
    return compact in _SYSTEM_EXACT or compact.startswith(_SYSTEM_PREFIXES)


def sender_key(email: str) -> str:
    """`email` as the auto-reply rate limit counts it: lower case, "+detail" dropped.

    RFC 5233 subaddresses ("ann+1@x", "ann+2@x") reach the same person, so fifty
    tagged copies of a message must not earn fifty replies.
    """
    local, at, domain = email.strip().strip("<>").strip().lower().rpartition("@")
    if not at:
        return email.strip().lower()
    return f"{local.split('+', 1)[0] or local}@{domain}"


def match_client(
    sender: Address | None,
    candidates: Sequence[ClientRecord],
    unknown_sender: UnknownSender,
    own_addresses: Collection[str] = (),
    automated: str | None = None,
) -> ClientDecision:
    """Decide which client the message from `sender` is filed against.

    `candidates` are the clients that own the sender's address, as the shell found
    them. With none, `unknown_sender` says whether to create a client ("create") or
    leave the message unmatched ("leave_unmatched"). A system sender (bounce,
    no-reply, list robot) never becomes a new client, though a client the user has
    deliberately given such an address still matches. Mail from one of the install's
    `own_addresses` (lower-case: the outgoing account, every mailbox and alias) is
    never filed against a client, not even one that wrongly holds that address; nor
    is mail from one of them with a "+detail" (RFC 5233). The shell may also pass the
    clients owning the sender's address without its "+detail" ("jane+photos@x" is
    jane@x, as the auto-reply rate limit counts her): owners of the exact address win.
    `automated` (the sentence of rules.automated, None for a person's mail) keeps a
    newsletter, an out-of-office reply or a notification from becoming a new client.
    """
    if unknown_sender not in UNKNOWN_SENDER_CHOICES:
        raise ValueError(f"unknown_sender must be one of {', '.join(UNKNOWN_SENDER_CHOICES)}, not {unknown_sender!r}")
    email = sender.email.strip().lower() if sender is not None else ""
    if email and (email in own_addresses or sender_key(email) in own_addresses):
        return Unmatched(f"{email} is one of our own addresses, so the message is internal: it is not filed "
                         "against a client.", internal=True)
    if candidates:
        exact = [client for client in candidates if email in (e.lower() for e in client.emails)]
        ids = tuple(sorted({client.id for client in exact or candidates}))
        return Matched(client_id=ids[0], ambiguous=len(ids) > 1, candidate_ids=ids)
    if "@" not in email:
        return Unmatched("The message has no sender address.")
    if unknown_sender == "leave_unmatched":
        return Unmatched(f"No client has the address {email}, and new senders are left unmatched.")
    if is_system_address(email):
        return Unmatched(f"{email} is an automated sender, so no client was created.")
    if automated is not None:
        # Newsletters and out-of-office replies come from real-looking addresses, but
        # a machine sent them: filed unfiled, where nobody mistakes them for a client.
        return Unmatched(f"{automated} Automated mail from {email} does not create a client.")
    return NewClient(name=client_name(sender.name, email), email=email)  # type: ignore[union-attr]


def client_name(display_name: str, email: str) -> str:
    """The name for a new client: the display name, else one made from the local part.

    "jane.doe@x" becomes "Jane Doe"; a display name that is just the address again
    (as some mail programs send) counts as no name.
    """
    name = " ".join(display_name.split()).strip("\"' ")
    if name and name.lower() != email.lower() and "@" not in name:
        return name
    local = email.rpartition("@")[0].split("+", 1)[0]
    words = [word.lower() if word.isupper() else word for word in re.split(r"[._\-]+", local)]
    return " ".join(word[:1].upper() + word[1:] for word in words if word) or email
