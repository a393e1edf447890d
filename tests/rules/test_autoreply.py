"""The auto-reply decision: every rule, each with a message it stops and a near miss.

Each case is (message overrides, facts overrides). The defaults are an ordinary first
email from a client to the mailbox, one hour old, which gets a reply.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from mailroom.model import Address
from mailroom.rules.autoreply import (
    RULES,
    AutoreplyFacts,
    AutoreplyPolicy,
    SendReply,
    Skip,
    decide_autoreply,
    reply_address,
)
from mailroom.rules.hours import parse_business_hours

from .factory import ALIAS, CLIENT, MAILBOX, NOW

LONDON = ZoneInfo("Europe/London")
X_LOOP = "mailroom-7f3a@studio.example"
POLICY = AutoreplyPolicy(
    enabled=True,
    when="every_email",
    outside_hours_only=False,
    business_hours=parse_business_hours("Mon-Fri 09:00-17:00"),
    timezone=LONDON,
    mailbox_addresses=(MAILBOX, ALIAS),
    own_addresses=(MAILBOX, ALIAS, "accounts@studio.example", "smtp-out@studio.example"),
    x_loop=X_LOOP,
    now=NOW,  # Wednesday 15:30 in London: inside business hours
)
EVENING = NOW.replace(hour=20)


def facts(**overrides) -> AutoreplyFacts:
    thread = {"is_reply": overrides.pop("is_reply", False),
              "is_new_client": overrides.pop("is_new_client", True)}
    policy = AutoreplyPolicy(**{**{f: getattr(POLICY, f) for f in POLICY.__dataclass_fields__},
                                **overrides})
    return policy.with_thread(**thread)


def h(*pairs):
    """extra_headers for make_msg."""
    return {"extra_headers": pairs}


GOOGLE = {"trusted_authserv_id": "mx.google.com"}


def auth(value: str, *more: str, **msg_overrides):
    """Authentication-Results headers, topmost first, for make_msg."""
    return {"extra_headers": [("Authentication-Results", v) for v in (value, *more)], **msg_overrides}


# What Gmail stamps on mail whose Return-Path (client.example) it found forged.
FORGED = ("mx.google.com;\r\n       dkim=none;\r\n"
          "       spf=softfail (google.com: domain of transitioning jane.doe@client.example does not designate "
          "203.0.113.9 as permitted sender) smtp.mailfrom=jane.doe@client.example;\r\n"
          "       dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=client.example")
GENUINE = ("mx.google.com; dkim=pass header.i=@client.example header.s=s1 header.b=AbC; spf=pass "
           "(google.com: domain of jane.doe@client.example designates 198.51.100.7 as permitted sender) "
           "smtp.mailfrom=jane.doe@client.example; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=client.example")


# (rule, message overrides, facts overrides) -> Skip with that rule
TRIGGERS = [
    ("disabled", {}, {"enabled": False}),
    ("null-sender", {"return_path": None}, {}),
    ("null-sender", {"return_path": ""}, {}),
    ("null-sender", {"return_path": "<>"}, {}),
    ("null-sender", {"return_path": "MAILER-DAEMON"}, {}),
    ("null-sender", {"return_path": "jane@client.example, boss@client.example"}, {}),
    ("null-sender", {"return_path": "jane@client.example\r\nBcc: x@y.example"}, {}),
    ("null-sender", {"return_path": "ja\x01ne@client.example"}, {}),
    ("null-sender", {"return_path": "jane@client.example\x7f"}, {}),
    ("non-ascii-address", {"return_path": "ann@ex\u00e4mple.com"}, {}),
    ("non-ascii-address", {"return_path": "jd\u00f6e@m\u00e4chine.example",
                           "from_addr": Address("J D\u00f6e", "jd\u00f6e@m\u00e4chine.example")}, {}),
    ("non-ascii-address", {"to": (Address("", "h\u00e9llo@studio.example"),)},
     {"mailbox_addresses": ("h\u00e9llo@studio.example",)}),
    ("x-loop", h(("X-Loop", X_LOOP)), {}),
    ("x-loop", h(("X-Loop", f"  {X_LOOP.upper()} ")), {}),
    ("own-address", {"from_addr": Address("Studio", "Accounts@Studio.example")}, {}),
    ("own-address", {"return_path": "smtp-out@studio.example"}, {}),
    ("auto-submitted", h(("Auto-Submitted", "auto-replied")), {}),
    ("auto-submitted", h(("Auto-Submitted", "Auto-Generated; owner-email=x@y")), {}),
    ("auto-submitted", h(("Auto-Submitted", "auto-notified")), {}),
    ("auto-submitted", h(("Auto-Submitted", "")), {}),
    ("auto-submitted", h(("Auto-Submitted", "no"), ("Auto-Submitted", "auto-generated")), {}),
    ("report", {"content_type": "multipart/report"}, {}),
    ("report", {"content_type": "Multipart/Report; report-type=delivery-status"}, {}),
    ("report", {"content_type": "message/disposition-notification"}, {}),
    ("precedence", h(("Precedence", "bulk")), {}),
    ("precedence", h(("Precedence", "JUNK")), {}),
    ("precedence", h(("Precedence", "list")), {}),
    ("precedence", h(("Precedence", "auto_reply")), {}),
    ("precedence", h(("X-Precedence", "bulk")), {}),
    ("list-header", h(("List-Id", "<club.lists.example>")), {}),
    ("list-header", h(("List-Unsubscribe", "<mailto:u@x.example>")), {}),
    ("list-header", h(("List-Post", "<mailto:club@lists.example>")), {}),
    ("list-header", h(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")), {}),
    ("list-header", h(("Mailing-List", "contact club-help@lists.example")), {}),
    ("auto-response-suppress", h(("X-Auto-Response-Suppress", "All")), {}),
    ("auto-response-suppress", h(("X-Auto-Response-Suppress", "OOF")), {}),
    ("auto-response-suppress", h(("X-Auto-Response-Suppress", "DR, autoreply")), {}),
    ("auto-response-suppress", h(("X-Auto-Response-Suppress", "RN,NRN,OOF")), {}),
    ("autoreply-marker", h(("X-Autoreply", "yes")), {}),
    ("autoreply-marker", h(("X-Autorespond", "vacation")), {}),
    ("autoreply-marker", h(("X-Autogenerated", "Reply")), {}),
    ("autoreply-marker", h(("X-AutoReply-From", "jane@client.example")), {}),
    ("autoreply-marker", h(("X-Mail-Autoreply", "yes")), {}),
    ("autoreply-marker", h(("X-Cron-Env", "<SHELL=/bin/sh>")), {}),
    ("spam-verdict", h(("X-Spam-Flag", "YES")), {}),
    ("spam-verdict", h(("X-Spam-Status", "Yes, score=9.1 required=5.0")), {}),
    ("spam-verdict", h(("X-Spam", "yes")), {}),
    ("forged-sender", auth(FORGED), GOOGLE),
    ("forged-sender", auth(FORGED.replace("softfail", "fail")), {"trusted_authserv_id": "MX.Google.com"}),
    # The topmost instance from our provider decides, even with a "pass" forged below it.
    ("forged-sender", auth(FORGED, GENUINE), GOOGLE),
    # Another server's header above ours changes nothing.
    ("forged-sender", auth("relay.example; spf=pass smtp.mailfrom=jane.doe@client.example", FORGED), GOOGLE),
    # A Microsoft-style mailfrom (domain only), a comment with ";" and nested parentheses,
    # a quoted authserv-id and a version.
    ("forged-sender", auth('"mx.google.com" 1; spf=fail (a; (nested) comment) smtp.mailfrom=client.example; '
                           'dmarc=fail reason="no; alignment" header.from=client.example'), GOOGLE),
    ("system-sender", {"from_addr": Address("", "MAILER-DAEMON@mx.example")}, {}),
    ("system-sender", {"from_addr": Address("", "postmaster@client.example")}, {}),
    ("system-sender", {"from_addr": Address("", "LISTSERV@lists.example")}, {}),
    ("system-sender", {"from_addr": Address("", "majordomo@lists.example")}, {}),
    ("system-sender", {"from_addr": Address("", "club-request@lists.example")}, {}),
    ("system-sender", {"from_addr": Address("", "owner-club@lists.example")}, {}),
    ("system-sender", {"from_addr": Address("Shop", "no-reply@shop.example")}, {}),
    ("system-sender", {"from_addr": Address("Shop", "NoReply@shop.example")}, {}),
    ("system-sender", {"from_addr": Address("Shop", "do-not-reply@shop.example")}, {}),
    ("system-sender", {"from_addr": Address("Shop", "donotreply@shop.example")}, {}),
    ("system-sender", {"return_path": "noreply+bounce-42@shop.example"}, {}),
    ("not-addressed", {"to": (Address("", "someone@else.example"),)}, {}),
    ("not-addressed", {"to": ()}, {}),  # Bcc
    ("not-addressed", {}, {"mailbox_addresses": ()}),
    ("no-date", {"date": None}, {}),
    ("too-old", {"date": NOW - dt.timedelta(hours=24, seconds=1)}, {}),
    ("too-old", {"date": NOW - dt.timedelta(days=400)}, {}),
    ("is-reply", {}, {"when": "new_conversation", "is_reply": True}),
    ("not-new-client", {}, {"when": "new_client", "is_new_client": False}),
    ("no-business-hours", {}, {"outside_hours_only": True, "business_hours": None, "now": EVENING}),
    ("inside-hours", {}, {"outside_hours_only": True}),
    ("rate-limit", {}, {"last_reply_to_sender": NOW - dt.timedelta(days=6, hours=23)}),
    ("rate-limit", {}, {"last_reply_to_sender": NOW + dt.timedelta(hours=1)}),
    ("hourly-cap", {}, {"replies_last_hour": 50}),
    ("hourly-cap", {}, {"max_per_hour": 1, "replies_last_hour": 7}),
]

# (what it shows, message overrides, facts overrides) -> still SendReply
NEAR_MISSES = [
    ("plain first email", {}, {}),
    ("Return-Path with brackets", {"return_path": f"<{CLIENT.upper()}>"}, {}),
    ("X-Loop of someone else", h(("X-Loop", "other@lists.example")), {}),
    ("empty X-Loop setting matches nothing", h(("X-Loop", "")), {"x_loop": ""}),
    ("Auto-Submitted: no", h(("Auto-Submitted", "no")), {}),
    ("Auto-Submitted: No (comment)", h(("Auto-Submitted", "No (sent by a person)")), {}),
    ("multipart/mixed is not a report", {"content_type": "multipart/mixed"}, {}),
    ("Precedence: first-class", h(("Precedence", "first-class")), {}),
    ("Precedence: normal", h(("Precedence", "normal")), {}),
    ("a header merely containing list", h(("X-Listed-By", "crm"), ("Unlisted", "x")), {}),
    ("X-Auto-Response-Suppress: RN, NRN", h(("X-Auto-Response-Suppress", "RN, NRN")), {}),
    ("X-Auto-Response-Suppress: None", h(("X-Auto-Response-Suppress", "None")), {}),
    ("X-Auto-Response-Suppress: DR, NDR", h(("X-Auto-Response-Suppress", "DR, NDR")), {}),
    ("Feedback-ID alone", h(("Feedback-ID", "1.eu-west-1.abc:AmazonSES")), {}),
    ("X-Spam-Flag: NO", h(("X-Spam-Flag", "NO")), {}),
    ("X-Spam-Status: No", h(("X-Spam-Status", "No, score=0.1 required=5.0")), {}),
    ("a person called Nora", {"from_addr": Address("Nora", "nora@client.example"),
                              "return_path": "nora@client.example"}, {}),
    ("requests@ is a person's team", {"from_addr": Address("", "requests@client.example"),
                                      "return_path": "requests@client.example"}, {}),
    ("alias in Cc", {"to": (Address("", "friend@else.example"),),
                     "cc": (Address("Bookings", ALIAS),)}, {}),
    ("mailbox in Resent-To", {"to": (Address("", "old@else.example"),),
                              "resent_to": (Address("", MAILBOX),)}, {}),
    ("mailbox in Resent-Cc", {"to": (), "resent_cc": (Address("", MAILBOX.upper()),)}, {}),
    ("24 hours old exactly", {"date": NOW - dt.timedelta(hours=24)}, {}),
    ("dated in the future", {"date": NOW + dt.timedelta(hours=3)}, {}),
    ("new_conversation, not a reply", {}, {"when": "new_conversation"}),
    ("every_email replies to replies", {}, {"when": "every_email", "is_reply": True}),
    ("new_client, new client", {}, {"when": "new_client", "is_new_client": True}),
    ("outside hours, in the evening", {}, {"outside_hours_only": True, "now": EVENING}),
    ("outside hours, at the weekend", {"date": NOW + dt.timedelta(days=3)},
     {"outside_hours_only": True, "now": NOW + dt.timedelta(days=3)}),
    ("no hours needed when not outside-only", {}, {"business_hours": None}),
    ("last reply 7 days ago", {}, {"last_reply_to_sender": NOW - dt.timedelta(days=7)}),
    ("no rate limit", {}, {"rate_limit": dt.timedelta(0), "last_reply_to_sender": NOW}),
    ("a non-ASCII display name is fine", {"from_addr": Address("Zo\u00eb Lumi\u00e8re", CLIENT)}, {}),
    ("forged header, but no trusted authserv-id", auth(FORGED), {}),
    ("SPF and DMARC pass", auth(GENUINE), GOOGLE),
    ("failing header from someone else's server", auth(FORGED.replace("mx.google.com", "mx.evil.example")),
     GOOGLE),
    ("our provider's genuine pass above a forged fail", auth(GENUINE, FORGED), GOOGLE),
    ("SPF fails but DMARC passes (a forward)", auth(FORGED.replace("dmarc=fail", "dmarc=pass")), GOOGLE),
    ("DMARC fails but SPF passes", auth(FORGED.replace("spf=softfail", "spf=pass")), GOOGLE),
    ("SPF neutral", auth(FORGED.replace("spf=softfail", "spf=neutral")), GOOGLE),
    ("SPF fails for another domain than the Return-Path's",
     auth(FORGED.replace("smtp.mailfrom=jane.doe@client.example", "smtp.mailfrom=x@other.example")), GOOGLE),
    ("the SPF result is for the HELO name",
     auth(FORGED.replace("smtp.mailfrom=jane.doe@client.example", "smtp.helo=mail.client.example")), GOOGLE),
    ("an unreadable header from our provider", auth("mx.google.com; spf=softfail (never closed; dmarc=fail"),
     GOOGLE),
    ("49 replies this hour", {}, {"replies_last_hour": 49}),
]


@pytest.mark.parametrize(("rule", "msg_overrides", "fact_overrides"), TRIGGERS)
def test_rule_stops_the_reply(make_msg, rule, msg_overrides, fact_overrides):
    decision = decide_autoreply(make_msg(**msg_overrides), facts(**fact_overrides))
    assert isinstance(decision, Skip)
    assert decision.rule == rule
    assert decision.reason.endswith(".") and decision.reason[0].isupper()


@pytest.mark.parametrize(("case", "msg_overrides", "fact_overrides"), NEAR_MISSES,
                         ids=[case for case, _, _ in NEAR_MISSES])
def test_near_miss_still_replies(make_msg, case, msg_overrides, fact_overrides):
    decision = decide_autoreply(make_msg(**msg_overrides), facts(**fact_overrides))
    assert isinstance(decision, SendReply), decision


def test_every_rule_has_a_trigger_and_the_ids_are_unique():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert set(names) == {rule for rule, _, _ in TRIGGERS}


@pytest.mark.parametrize(
    ("msg_overrides", "to", "from_address"),
    [
        ({}, CLIENT, MAILBOX),
        # Return-Path, never Reply-To (RFC 3834 section 4).
        ({"return_path": "bounces-jane@esp.client.example",
          "reply_to": (Address("", "elsewhere@client.example"),)},
         "bounces-jane@esp.client.example", MAILBOX),
        ({"return_path": "<Jane.Doe@Client.Example>"}, CLIENT, MAILBOX),
        # To before Cc; the address the client actually used.
        ({"to": (Address("", "Bookings@Studio.example"),), "cc": (Address("", MAILBOX),)},
         CLIENT, ALIAS),
        ({"to": (Address("", "x@else.example"),), "cc": (Address("", ALIAS),)}, CLIENT, ALIAS),
        ({"to": (Address("", "x@else.example"), Address("", MAILBOX), Address("", ALIAS))},
         CLIENT, MAILBOX),
    ],
)
def test_send_reply_addresses(make_msg, msg_overrides, to, from_address):
    decision = decide_autoreply(make_msg(**msg_overrides), facts())
    assert decision == SendReply(to=to, from_address=from_address, reason=decision.reason)


@pytest.mark.parametrize(
    ("msg_overrides", "fact_overrides", "rule"),
    [
        # Our own auto-reply bouncing back: say it is ours, not merely "auto-submitted".
        ({"from_addr": Address("", MAILBOX), "return_path": MAILBOX,
          "extra_headers": [("Auto-Submitted", "auto-replied"), ("X-Loop", X_LOOP)]}, {}, "x-loop"),
        # A bounce: the null sender is the first and plainest reason.
        ({"return_path": "", "content_type": "multipart/report",
          "from_addr": Address("", "MAILER-DAEMON@mx.example")}, {}, "null-sender"),
        # Disabled beats everything.
        ({"return_path": ""}, {"enabled": False}, "disabled"),
        # An old reply: its age, not the "when" setting, explains the silence.
        ({"date": NOW - dt.timedelta(days=30)}, {"when": "new_conversation", "is_reply": True}, "too-old"),
    ],
)
def test_most_telling_reason_wins(make_msg, msg_overrides, fact_overrides, rule):
    assert decide_autoreply(make_msg(**msg_overrides), facts(**fact_overrides)).rule == rule


@pytest.mark.parametrize(
    ("return_path", "expected"),
    [(None, None), ("", ""), ("<>", ""), (" <Jane@X.example> ", "jane@x.example")],
)
def test_reply_address(make_msg, return_path, expected):
    assert reply_address(make_msg(return_path=return_path)) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"when": "sometimes"}, "when must be one of"),
        ({"now": dt.datetime(2026, 3, 4, 12, 0)}, "now must be an aware datetime"),
        ({"last_reply_to_sender": dt.datetime(2026, 3, 4, 12, 0)}, "last_reply_to_sender"),
        ({"max_per_hour": 0}, "max_per_hour"),
    ],
)
def test_policy_refuses_bad_settings(overrides, message):
    with pytest.raises(ValueError, match=message):
        facts(**overrides)


def test_with_thread_keeps_every_setting():
    built = POLICY.with_thread(is_reply=True, is_new_client=False)
    assert isinstance(built, AutoreplyFacts)
    assert (built.is_reply, built.is_new_client) == (True, False)
    assert all(getattr(built, name) == getattr(POLICY, name) for name in POLICY.__dataclass_fields__)
