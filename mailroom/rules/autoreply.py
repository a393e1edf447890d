"""The auto-reply decision: send an acknowledgement to this message, or not, and why.

The rules follow RFC 3834 ("Recommendations for Automatic Responses to Electronic
Mail") and RFC 5230 (the Sieve "vacation" action), whose aim is ours: answer people,
never machines, never a list, and never start a mail loop. Each rule is one row of
`RULES`; the first row that objects wins, so the order puts the most telling reason
first (our own mail coming back beats "it is an auto-reply"). A `Skip` carries a
stable `rule` id for logs and tests and a sentence for the user.

Besides loops, the rules keep Mailroom from being a reflector for spam: replies go
only to plain ASCII addresses (we do not speak SMTPUTF8, RFC 6531), not to a
Return-Path our provider's SPF and DMARC checks call forged, at most once per person
per period across all mailboxes (`sender_key`), and at most `max_per_hour` in all.

Pure: the time, the business hours, what was sent to this sender before and every
setting arrive in `AutoreplyFacts`. This module never reads the clock or the store,
and never sends anything; it only says `SendReply` or `Skip`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields
from typing import Callable, Literal
from zoneinfo import ZoneInfo

from mailroom.model import ParsedMessage
from mailroom.rules import automated
from mailroom.rules.authresults import forged_sender_reason
# reply_address lives with the detectors of automated mail; it is part of this module's
# interface too (where a reply goes).
from mailroom.rules.automated import first_word, header_tokens, reply_address
from mailroom.rules.hours import BusinessHours, is_within_hours
from mailroom.rules.match import sender_key
from mailroom.settings.fields import SECTION

When = Literal["new_conversation", "every_email", "new_client"]
WHEN_CHOICES: tuple[str, ...] = SECTION["mailboxes"].by_name["autoreply_when"].choices  # the one list


@dataclass(frozen=True, kw_only=True)
class AutoreplyPolicy:
    """Everything the decision needs except what thread and match work out.

    Addresses are compared case-insensitively. `now` and `last_reply_to_sender` are
    aware datetimes. `last_reply_to_sender` is when any mailbox of this install last
    auto-replied to `sender_key(reply_address(msg))`, and `replies_last_hour` how many
    auto-replies the install queued in the hour before `now`, as the shell found them
    in the outbox. `trusted_authserv_id` is the Authentication-Results authserv-id of
    the mailbox's own provider ("" when unknown: then that rule never applies).
    """

    enabled: bool
    when: When
    outside_hours_only: bool
    business_hours: BusinessHours | None
    timezone: ZoneInfo
    mailbox_addresses: tuple[str, ...]
    own_addresses: tuple[str, ...]
    x_loop: str
    now: dt.datetime
    max_age: dt.timedelta = dt.timedelta(hours=24)
    rate_limit: dt.timedelta = dt.timedelta(days=7)
    last_reply_to_sender: dt.datetime | None = None
    trusted_authserv_id: str = ""
    max_per_hour: int = 50
    replies_last_hour: int = 0

    def __post_init__(self) -> None:
        if self.when not in WHEN_CHOICES:
            raise ValueError(f"when must be one of {', '.join(WHEN_CHOICES)}, not {self.when!r}")
        if self.max_per_hour < 1:
            raise ValueError("max_per_hour must be 1 or more")
        for name in ("now", "last_reply_to_sender"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")

    def with_thread(self, *, is_reply: bool, is_new_client: bool) -> AutoreplyFacts:
        """These settings plus what reply detection and client matching found."""
        values = {f.name: getattr(self, f.name) for f in fields(AutoreplyPolicy)}
        return AutoreplyFacts(**values, is_reply=is_reply, is_new_client=is_new_client)


@dataclass(frozen=True, kw_only=True)
class AutoreplyFacts(AutoreplyPolicy):
    """The policy plus `is_reply` (from thread) and `is_new_client` (from match)."""

    is_reply: bool
    is_new_client: bool


@dataclass(frozen=True)
class SendReply:
    """Send the auto-reply to `to` (the Return-Path) from `from_address` (ours)."""

    to: str
    from_address: str
    reason: str


@dataclass(frozen=True)
class Skip:
    """No auto-reply: `rule` is a stable id, `reason` a sentence for the user."""

    reason: str
    rule: str


Check = Callable[[ParsedMessage, AutoreplyFacts], "str | None"]


@dataclass(frozen=True)
class Rule:
    """One reason not to reply: `check` returns the user's sentence when it applies."""

    name: str
    check: Check


def decide_autoreply(msg: ParsedMessage, facts: AutoreplyFacts) -> SendReply | Skip:
    """Reply to `msg` or skip it: the first rule in `RULES` that objects decides."""
    for rule in RULES:
        reason = rule.check(msg, facts)
        if reason is not None:
            return Skip(reason=reason, rule=rule.name)
    to = reply_address(msg)
    from_address = _addressed_to(msg, facts)
    assert to and from_address  # guaranteed by the null-sender and not-addressed rules
    return SendReply(to=to, from_address=from_address, reason=_why_send(facts))


def blocking_rules(msg: ParsedMessage, facts: AutoreplyFacts) -> list[Skip]:
    """Every rule in `RULES` that objects to replying, in order (the first one is the
    one `decide_autoreply` names); empty when it would reply. For `mailroom explain`."""
    return [Skip(reason=reason, rule=rule.name) for rule in RULES
            if (reason := rule.check(msg, facts)) is not None]


# -- helpers ---------------------------------------------------------------------------

def _addressed_to(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    """The first of our mailbox addresses among To, Cc, Resent-To, Resent-Cc, in that order."""
    ours = {address.lower() for address in facts.mailbox_addresses}
    for group in (msg.to, msg.cc, msg.resent_to, msg.resent_cc):
        for address in group:
            if address.email.lower() in ours:
                return address.email.lower()
    return None


def _why_send(facts: AutoreplyFacts) -> str:
    what = {
        "new_conversation": "It starts a new conversation",
        "every_email": "Auto-replies go to every email",
        "new_client": "It comes from a new client",
    }[facts.when]
    return what + (", outside business hours." if facts.outside_hours_only else ".")


# -- the rules, in the order they are asked ---------------------------------------------

def _disabled(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    return None if facts.enabled else "Auto-replies are turned off for this mailbox."


# One plain addr-spec: no spaces, controls, lists, comments or brackets (RFC 5321
# section 4.1.2, quoted local parts aside, which senders of real mail do not use).
_ADDR_SPEC = re.compile(r'[^\s\x00-\x1f\x7f@,;:<>()\[\]\\"]+@[^\s\x00-\x1f\x7f@,;:<>()\[\]\\"]+')


def _null_sender(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # RFC 3834 section 4 (Where to send automatic responses): to the Return-Path
    # only, and never when it is empty; the null sender marks bounces and
    # notifications (RFC 5321 section 4.5.5).
    envelope = reply_address(msg)
    if envelope is None:
        return "The message has no Return-Path, so there is no envelope sender to reply to."
    if envelope == "":
        return automated.null_sender(msg)
    if not _ADDR_SPEC.fullmatch(envelope):
        return f"The Return-Path {envelope!r} is not an address that can be replied to."
    return None


def _non_ascii_address(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # An internationalised address (RFC 6530/6532, e.g. jdöe@mächine.example or
    # ann@exämple.com) can only be sent to with SMTPUTF8 (RFC 6531), which not every
    # server offers. The decision has to be known at import time, before we talk to the
    # server, so that `explain` and the import agree: such replies are skipped.
    envelope = reply_address(msg) or ""
    ours = _addressed_to(msg, facts) or ""
    for who, address in (("The Return-Path", envelope), ("Our address", ours)):
        if not address.isascii():
            return (f"{who} {address} has non-ASCII characters; Mailroom does not send to "
                    "internationalised addresses (SMTPUTF8), so no reply.")
    return None


def _x_loop(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # Our replies carry X-Loop (the procmail convention); seeing it means our own
    # mail has come back to us.
    mark = facts.x_loop.strip().lower()
    if mark and any(value.strip().lower() == mark for value in msg.header("x-loop")):
        return "The message carries our own X-Loop header: it is our mail coming back."
    return None


def _own_address(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # RFC 5230 (vacation) never replies to the user's own addresses (with any
    # "+detail", RFC 5233); ours include every user's, so staff get no acknowledgement.
    own = {address.lower() for address in facts.own_addresses}
    for sender in automated.senders(msg):
        if sender in own or sender_key(sender) in own:
            return f"The message was sent by one of our own addresses ({sender})."
    return None


_SUPPRESS = frozenset({"all", "oof", "autoreply"})


def _auto_response_suppress(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # Microsoft's X-Auto-Response-Suppress ([MS-OXCMAIL] 2.2.3.2.20): a comma list;
    # All, OOF and AutoReply ask for no auto-replies. DR, NDR, RN, NRN only concern
    # delivery and read receipts, which we never send.
    for value in msg.header("x-auto-response-suppress"):
        asked = header_tokens(value) & _SUPPRESS
        if asked:
            return f"The sender asked for no auto-replies (X-Auto-Response-Suppress: {value.strip()})."
    return None


def _spam_verdict(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # A reply to spam goes to a forged or harvested address (backscatter). Trust
    # the upstream filter's verdict: SpamAssassin's X-Spam-Flag / X-Spam-Status,
    # rspamd's X-Spam.
    for name in ("x-spam-flag", "x-spam-status", "x-spam"):
        for value in msg.header(name):
            if first_word(value) == "yes":
                return f"The mail server marked the message as spam ({name.title()}: {value.strip()})."
    return None


def _forged_sender(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # Backscatter again: a Return-Path that fails both SPF and DMARC at our own
    # provider (RFC 8601 Authentication-Results) is most likely someone else's address.
    return forged_sender_reason(msg, facts.trusted_authserv_id, reply_address(msg) or "")


def _not_addressed(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # RFC 5230 (vacation) replies only when one of the user's addresses is in To,
    # Cc, Resent-To or Resent-Cc; otherwise we got it by Bcc, a list or a forward,
    # and the sender did not write to us.
    if _addressed_to(msg, facts) is None:
        return "None of this mailbox's addresses is in To or Cc; it came by Bcc, a list or a forward."
    return None


def _no_date(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # Connecting a mailbox full of old mail must send nothing. A message with no
    # date at all (the parser found neither Date nor Received) cannot prove it is
    # new, so it gets no reply either: the safe side.
    if msg.date is None:
        return "The message has no date, so it may be old mail."
    return None


def _too_old(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    if msg.date is not None and facts.now - msg.date > facts.max_age:
        return f"The message is older than {_duration(facts.max_age)}."
    return None


def _is_reply(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    if facts.when == "new_conversation" and facts.is_reply:
        return "The message replies to an existing conversation; auto-replies go to new ones only."
    return None


def _not_new_client(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    if facts.when == "new_client" and not facts.is_new_client:
        return "The sender is an existing client; auto-replies go to new clients only."
    return None


def _no_business_hours(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # Without hours we cannot tell "outside", and guessing either way surprises.
    if facts.outside_hours_only and facts.business_hours is None:
        return "Auto-replies are for outside business hours only, but no business hours are set."
    return None


def _inside_hours(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # Judged at `now`, when the reply would go out, not at the message's Date.
    hours = facts.business_hours
    if facts.outside_hours_only and hours is not None and is_within_hours(hours, facts.timezone, facts.now):
        return "It is within business hours; auto-replies go out only outside them."
    return None


def _rate_limit(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # RFC 3834 section 2 and RFC 5230 (its :days tracking of previous responses):
    # one reply per sender per period. The shell looks the sender up by `sender_key`
    # (lower case, no +tag) across every mailbox, so neither tags nor a second
    # mailbox make a second reply. A last reply "in the future" (a clock that was
    # wrong) also counts as recent.
    last = facts.last_reply_to_sender
    if last is not None and facts.now - last < facts.rate_limit:
        return f"This sender already had an auto-reply within the last {_duration(facts.rate_limit)}."
    return None


def _hourly_cap(msg: ParsedMessage, facts: AutoreplyFacts) -> str | None:
    # Last, so it counts only replies every other rule allowed: a flood of forged
    # mail must not make this install send more than the cap to strangers.
    if facts.replies_last_hour >= facts.max_per_hour:
        return (f"The limit of {facts.max_per_hour} auto-replies per hour (autoreply_max_per_hour) is "
                f"reached: {facts.replies_last_hour} were queued in the last hour.")
    return None


def _duration(span: dt.timedelta) -> str:
    if span % dt.timedelta(days=1) == dt.timedelta(0) and span >= dt.timedelta(days=2):
        return f"{span.days} days"
    hours = span / dt.timedelta(hours=1)
    return f"{hours:g} hours" if hours != 1 else "1 hour"


def _software(detect: automated.Detector) -> Check:
    """A detector of automated mail as a rule (they need no facts)."""
    return lambda msg, facts: detect(msg)


RULES: tuple[Rule, ...] = (
    Rule("disabled", _disabled),
    Rule("null-sender", _null_sender),
    Rule("non-ascii-address", _non_ascii_address),
    Rule("x-loop", _x_loop),
    Rule("own-address", _own_address),
    Rule("auto-submitted", _software(automated.auto_submitted)),
    Rule("report", _software(automated.report)),
    Rule("precedence", _software(automated.precedence)),
    Rule("list-header", _software(automated.list_header)),
    Rule("auto-response-suppress", _auto_response_suppress),
    Rule("autoreply-marker", _software(automated.autoreply_marker)),
    Rule("spam-verdict", _spam_verdict),
    Rule("forged-sender", _forged_sender),
    Rule("system-sender", _software(automated.system_sender)),
    Rule("not-addressed", _not_addressed),
    Rule("no-date", _no_date),
    Rule("too-old", _too_old),
    Rule("is-reply", _is_reply),
    Rule("not-new-client", _not_new_client),
    Rule("no-business-hours", _no_business_hours),
    Rule("inside-hours", _inside_hours),
    Rule("rate-limit", _rate_limit),
    Rule("hourly-cap", _hourly_cap),
)
