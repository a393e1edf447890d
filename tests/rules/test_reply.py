"""Building the auto-reply: whose name is merged, and every failure becomes a recorded Skip."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from mailroom.model import Address
from mailroom.rules.autoreply import SendReply, Skip
from mailroom.rules.match import ClientRecord, Matched, NewClient, Unmatched
from mailroom.rules.reply import ComposedReply, ReplySetup, build_reply, client_name_for_reply, merge_context

from .factory import CLIENT, MAILBOX, NOW

JANE = ClientRecord(9, "Jane Doe (VIP, wedding 14 June)", (CLIENT, "jane@home.example"))
OTHER = ClientRecord(4, "Someone Else", ("else@client.example",))
SETUP = ReplySetup(template_name="Thanks", template_kind="form_letter",
                   template_subject="Thanks, {{ client.first_name }}",
                   template_body="Dear {{ client.name }},\nabout {{ message.subject }}: we will call.\n",
                   display_name="Bright Lights Studio", timezone=ZoneInfo("Europe/London"),
                   company_name="Bright Lights")


@pytest.mark.parametrize(
    ("from_addr", "client", "to", "name"),
    [
        # The reply goes to the client's own address (or a +tag of it): the stored name.
        (Address("J", CLIENT), Matched(9, False, (9,)), CLIENT, JANE.name),
        (Address("J", CLIENT), Matched(9, False, (9,)), "jane.doe+shop@client.example", JANE.name),
        (Address("J", CLIENT), Matched(9, False, (9,)), "JANE@HOME.EXAMPLE", JANE.name),
        # A forged From naming the client, replied to a stranger's Return-Path: only the
        # name the message itself gave.
        (Address("J", CLIENT), Matched(9, False, (9,)), "stranger@evil.example", "J"),
        (Address("", CLIENT), Matched(9, False, (9,)), "stranger@evil.example", ""),
        # The matched client is not among the records handed in: nothing stored is merged.
        (Address("J", CLIENT), Matched(5, False, (5,)), CLIENT, "J"),
        (Address("Ann", "ann@new.example"), NewClient("Ann", "ann@new.example"), "ann@new.example", "Ann"),
        (Address("Ann", "ann@new.example"), Unmatched("left unmatched"), "ann@new.example", "Ann"),
        (None, Unmatched("no sender"), "x@y.example", ""),
    ],
)
def test_the_stored_name_is_merged_only_for_the_client_s_own_address(make_msg, from_addr, client, to, name):
    msg = make_msg(from_addr=from_addr)
    assert client_name_for_reply(msg, client, (OTHER, JANE), to) == name
    assert merge_context(msg, client, (OTHER, JANE), to, SETUP).client_name == name


def send(to: str = CLIENT) -> SendReply:
    return SendReply(to=to, from_address=MAILBOX, reason="It starts a new conversation.")


def build(msg, setup=SETUP, *, x_loop=MAILBOX, to=CLIENT):
    context = merge_context(msg, NewClient("Jane Doe", CLIENT), (), to, setup)
    return build_reply(msg, send(to), context, setup, message_id="mr.n1.0123456789abcdef@studio.example",
                       x_loop=x_loop, now=NOW)


def test_a_reply_that_builds_is_crlf_bytes(make_msg):
    built = build(make_msg())
    assert isinstance(built, ComposedReply) and built.message_id == "mr.n1.0123456789abcdef@studio.example"
    assert b"Dear Jane Doe,\r\nabout Wedding photos in June: we will call." in built.raw
    assert b"\n" not in built.raw.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("body", "subject", "fails"),
    [
        # Valid against the sample message, fails for one with an empty subject.
        ("Ref {{ message.subject.split()[0] }}", "", True),
        ("Ref {{ message.subject.split()[0] }}", "Wedding photos", False),
        ("{{ 100 // (message.subject | length) }}", "", True),
        ("{{ 100 // (message.subject | length) }}", "Hi", False),
    ],
)
def test_a_template_failing_for_this_message_is_a_skip(make_msg, body, subject, fails):
    from dataclasses import replace

    built = build(make_msg(subject=subject), replace(SETUP, template_body=body))
    if fails:
        assert isinstance(built, Skip) and built.rule == "template-failed"
        assert built.reason.startswith("The auto-reply template 'Thanks' could not be rendered")
        assert built.reason.endswith(".") and not built.reason.endswith("..")
    else:
        assert isinstance(built, ComposedReply)


@pytest.mark.parametrize(
    ("x_loop", "fails"),
    [
        # A mailbox address the email package cannot write into an ASCII header.
        ("h\u00e9llo@studio.example", True),
        ("hello@studio.example", False),
    ],
)
def test_a_reply_that_cannot_be_composed_is_a_skip(make_msg, x_loop, fails):
    built = build(make_msg(), x_loop=x_loop)
    if fails:
        assert isinstance(built, Skip) and built.rule == "compose-failed"
        assert built.reason.startswith("The auto-reply could not be composed (")
    else:
        assert isinstance(built, ComposedReply)
