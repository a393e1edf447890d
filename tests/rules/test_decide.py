"""The whole decision for one message: client, thread, task and auto-reply together."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from mailroom.model import Address
from mailroom.rules.autoreply import AutoreplyPolicy, SendReply, Skip
from mailroom.rules.decide import CreateTask, Decision, Facts, JoinTask, NoTask, decide, task_title
from mailroom.rules.match import ClientRecord, Matched, NewClient, Unmatched
from mailroom.rules.thread import KnownMessage, ReplyInfo, make_message_id

from .factory import ALIAS, CLIENT, MAILBOX, NOW

SECRET = b"installation secret"
OUR_ID = make_message_id(SECRET, "n1", "studio.example")
SENT = KnownMessage(OUR_ID, conversation_id=4, task_id=40, direction="out")
NO_TASK_THREAD = KnownMessage("old@client.example", conversation_id=5, task_id=None, direction="in")
JANE = ClientRecord(9, "Jane Doe", (CLIENT,))

POLICY = AutoreplyPolicy(
    enabled=True,
    when="new_conversation",
    outside_hours_only=False,
    business_hours=None,
    timezone=ZoneInfo("Europe/London"),
    mailbox_addresses=(MAILBOX, ALIAS),
    own_addresses=(MAILBOX, ALIAS),
    x_loop="mailroom@studio.example",
    now=NOW,
)
FACTS = Facts(
    candidates=(),
    unknown_sender="create",
    known={SENT.message_id: SENT, NO_TASK_THREAD.message_id: NO_TASK_THREAD},
    secret=SECRET,
    create_tasks=True,
    task_type=2,
    task_status=1,
    department=3,
    user=None,
    autoreply=POLICY,
)
NEW_TASK = CreateTask(task_type=2, task_status=1, department=3, user=None, title="Wedding photos in June")


def with_policy(**changes):
    return {"autoreply": dataclasses.replace(POLICY, **changes)}


@pytest.mark.parametrize(
    ("msg_overrides", "fact_overrides", "client", "reply", "task", "autoreply"),
    [
        # A first email from a stranger: new client, new task, acknowledgement.
        ({}, {}, NewClient("Jane Doe", CLIENT), ReplyInfo(False, None, None, None, None), NEW_TASK,
         SendReply),
        # A known client's new conversation.
        ({}, {"candidates": (JANE,)}, Matched(9, False, (9,)), ReplyInfo(False, None, None, None, None),
         NEW_TASK, SendReply),
        # The client answers our auto-reply: joins the task, no second auto-reply.
        ({"in_reply_to": (OUR_ID,), "subject": "Re: Thanks"}, {"candidates": (JANE,)},
         Matched(9, False, (9,)), ReplyInfo(True, 4, 40, OUR_ID, "in-reply-to"), JoinTask(40), "is-reply"),
        # Joining an existing task does not depend on the mailbox creating tasks.
        ({"in_reply_to": (OUR_ID,)}, {"candidates": (JANE,), "create_tasks": False},
         Matched(9, False, (9,)), ReplyInfo(True, 4, 40, OUR_ID, "in-reply-to"), JoinTask(40), "is-reply"),
        # A reply in a conversation without a task opens none.
        ({"references": ("old@client.example",)}, {"candidates": (JANE,)}, Matched(9, False, (9,)),
         ReplyInfo(True, 5, None, "old@client.example", "references"),
         NoTask("It replies to an earlier conversation; tasks are opened for new ones only."), "is-reply"),
        # Our signed token, unknown to the store (e.g. restored backup): still a reply.
        ({"in_reply_to": (make_message_id(SECRET, "gone", "studio.example"),)}, {},
         NewClient("Jane Doe", CLIENT),
         ReplyInfo(True, None, None, make_message_id(SECRET, "gone", "studio.example"), "our-token"),
         NoTask("It replies to an earlier conversation; tasks are opened for new ones only."), "is-reply"),
        ({}, {"create_tasks": False}, NewClient("Jane Doe", CLIENT), ReplyInfo(False, None, None, None, None),
         NoTask("This mailbox does not create tasks."), SendReply),
        ({}, {"task_type": None}, NewClient("Jane Doe", CLIENT), ReplyInfo(False, None, None, None, None),
         NoTask("This mailbox creates tasks, but has no task type or status set."), SendReply),
        # new_client: is_new_client comes from the match.
        ({}, {**with_policy(when="new_client"), "candidates": (JANE,)}, Matched(9, False, (9,)),
         ReplyInfo(False, None, None, None, None), NEW_TASK, "not-new-client"),
        ({}, with_policy(when="new_client"), NewClient("Jane Doe", CLIENT),
         ReplyInfo(False, None, None, None, None), NEW_TASK, SendReply),
        # Unmatched senders are still filed, tasked and (if the rules allow) answered.
        ({}, {"unknown_sender": "leave_unmatched"},
         Unmatched(f"No client has the address {CLIENT}, and new senders are left unmatched."),
         ReplyInfo(False, None, None, None, None), NEW_TASK, SendReply),
        # A bounce: no client created, task still opened (someone should see it), no reply.
        ({"from_addr": Address("Mail Delivery System", "MAILER-DAEMON@mx.example"), "return_path": "",
          "subject": "Undelivered Mail Returned to Sender", "content_type": "multipart/report"}, {},
         Unmatched("mailer-daemon@mx.example is an automated sender, so no client was created."),
         ReplyInfo(False, None, None, None, None),
         dataclasses.replace(NEW_TASK, title="Undelivered Mail Returned to Sender"), "null-sender"),
    ],
)
def test_decide(make_msg, msg_overrides, fact_overrides, client, reply, task, autoreply):
    decision = decide(make_msg(**msg_overrides), dataclasses.replace(FACTS, **fact_overrides))
    assert isinstance(decision, Decision)
    assert (decision.client, decision.reply, decision.task) == (client, reply, task)
    if autoreply is SendReply:
        assert decision.autoreply == SendReply(CLIENT, MAILBOX, decision.autoreply.reason)
    else:
        assert isinstance(decision.autoreply, Skip) and decision.autoreply.rule == autoreply


@pytest.mark.parametrize(
    ("subject", "sender", "title"),
    [
        ("Wedding photos", Address("Jane", CLIENT), "Wedding photos"),
        ("  Multi\r\n line\tsubject ", Address("Jane", CLIENT), "Multi line subject"),
        ("", Address("Jane Doe", CLIENT), f"(no subject) from Jane Doe <{CLIENT}>"),
        ("   ", Address("", CLIENT), f"(no subject) from {CLIENT}"),
        ("", None, "(no subject) from an unknown sender"),
        ("x" * 500, None, "x" * 199 + "\u2026"),
    ],
)
def test_task_title(make_msg, subject, sender, title):
    assert task_title(make_msg(subject=subject, from_addr=sender)) == title


def test_the_secret_stays_out_of_reprs():
    assert "installation secret" not in repr(FACTS)


def test_decide_is_repeatable(make_msg):
    msg = make_msg()
    assert decide(msg, FACTS) == decide(msg, FACTS)


def test_autoreply_rate_limit_and_age_flow_through(make_msg):
    facts = dataclasses.replace(FACTS, **with_policy(last_reply_to_sender=NOW - dt.timedelta(days=1)))
    assert decide(make_msg(), facts).autoreply.rule == "rate-limit"
