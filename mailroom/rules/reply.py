"""The auto-reply as data: its merge values, its rendered template, its bytes, or why not.

`build_reply` turns a `SendReply` decision into the exact bytes the outbox will send
(CRLF line ends, lines folded below RFC 5322's 998 characters), or into a `Skip` that
says why this reply cannot be built: a template that fails for this message, a value
the email package refuses. A reply problem never stops an import; the message is
filed as usual and the reason is recorded with it. Because the reply is built while
deciding, `explain` shows exactly what the import will do.

`merge_context` fills the merge fields. The stored client's name is merged only when
the reply goes to one of that client's own addresses: a forged `From: <a client>` with
a stranger's Return-Path must not tell the stranger who our clients are.

Pure: the template, the names, the Message-ID and the time are passed in. This module
never sends, stores or logs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Sequence
from zoneinfo import ZoneInfo

from mailroom.model import ParsedMessage
from mailroom.rules.autoreply import SendReply, Skip
from mailroom.rules.compose import compose_autoreply
from mailroom.rules.match import ClientDecision, ClientRecord, Matched, NewClient, sender_key
from mailroom.rules.templates import MergeContext, TemplateError, format_message_date, render_template


@dataclass(frozen=True, kw_only=True)
class ReplySetup:
    """What a mailbox's replies are made of, loaded once by the shell."""

    template_name: str
    template_kind: str
    template_subject: str
    template_body: str
    display_name: str
    timezone: ZoneInfo
    company_name: str = ""
    company_phone: str = ""
    company_business_hours: str = ""
    mailbox_description: str = ""
    user_name: str = ""
    department_name: str = ""
    html_to_text: Callable[[str], str] | None = field(default=None, repr=False, compare=False)  # for HTML emails


@dataclass(frozen=True)
class ComposedReply:
    """The reply ready for the outbox: our Message-ID (no brackets) and the bytes to send."""

    message_id: str
    raw: bytes = field(repr=False)


def client_name_for_reply(msg: ParsedMessage, client: ClientDecision, candidates: Sequence[ClientRecord],
                          to: str) -> str:
    """The `client.name` merged into a reply going to `to`.

    The stored name of a matched client only when `to` is one of that client's
    addresses (compared as the rate limit compares them); otherwise the name the
    message itself gives, which tells its sender nothing new.
    """
    if isinstance(client, Matched):
        record = next((c for c in candidates if c.id == client.client_id), None)
        if record is not None and sender_key(to) in {sender_key(email) for email in record.emails}:
            return record.name
    elif isinstance(client, NewClient):
        return client.name
    return msg.from_addr.name if msg.from_addr else ""


def merge_context(msg: ParsedMessage, client: ClientDecision, candidates: Sequence[ClientRecord],
                  to: str, setup: ReplySetup) -> MergeContext:
    """The merge field values for the reply to `msg` going to `to`."""
    return MergeContext(
        client_name=client_name_for_reply(msg, client, candidates, to),
        client_email=msg.from_addr.email if msg.from_addr else "",
        message_subject=msg.subject, message_date=format_message_date(msg.date, setup.timezone),
        mailbox_description=setup.mailbox_description, company_name=setup.company_name,
        company_phone=setup.company_phone, company_business_hours=setup.company_business_hours,
        user_name=setup.user_name, department_name=setup.department_name)


def build_reply(msg: ParsedMessage, send: SendReply, context: MergeContext, setup: ReplySetup, *,
                message_id: str, x_loop: str, now: dt.datetime) -> ComposedReply | Skip:
    """The reply's bytes, or a Skip (rule "template-failed" or "compose-failed") saying why not."""
    try:
        rendered = render_template(setup.template_kind, setup.template_subject, setup.template_body, context,
                                   to_text=setup.html_to_text)
    except TemplateError as exc:
        return Skip(reason=f"The auto-reply template {setup.template_name!r} could not be rendered for this "
                           f"message: {'; '.join(exc.problems).rstrip('.')}.", rule="template-failed")
    except Exception as exc:  # noqa: BLE001 - whatever fails, the import goes on and says why
        return Skip(reason=f"The auto-reply template {setup.template_name!r} could not be rendered for this "
                           f"message ({type(exc).__name__}: {exc}).", rule="template-failed")
    try:
        email = compose_autoreply(msg, send, rendered, display_name=setup.display_name,
                                  message_id=message_id, x_loop=x_loop, now=now)
        raw = email.as_bytes()
    except Exception as exc:  # noqa: BLE001 - e.g. an address or value the email package refuses
        return Skip(reason=f"The auto-reply could not be composed ({type(exc).__name__}: {exc}).",
                    rule="compose-failed")
    return ComposedReply(message_id=message_id, raw=raw)
