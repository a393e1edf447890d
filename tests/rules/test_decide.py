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
from mailroom.rules.thread import NOT_A_REPLY, KnownMessage, ReplyInfo, make_message_id

from .factory import ALIAS, CLIENT, MAILBOX, NOW

SECRET = b"installation secret"
OUR_ID = make_message_id(SECRET, "n1", "studio.example")
SENT = KnownMessage(OUR_ID, conversation_id=4, task_id=40, direction="out")
NO_TASK_THREAD = KnownMessage("old@client.example", conversation_id=5, task_id=None, direction="in")
JANE = ClientRecord(9, "Jane Doe", (CLIENT,))
# Jane's first email, in her conversation 6 with its task 60.
JANES_MAIL = KnownMessage("jane-1@client.example", conversation_id=6, task_id=60, direction="in", client_id=9)

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
    known={SENT.message_id: SENT, NO_TASK_THREAD.message_id: NO_TASK_THREAD, JANES_MAIL.message_id: JANES_MAIL},
    secret=SECRET,
    create_tasks=True,
    task_type=2,
    task_status=1,
    department=3,
    user=None,
    autoreply=POLICY,
)
NEW_TASK = CreateTask(task_type=2, task_status=1, department=3, user=None, title="Wedding photos in June")
INTERNAL = NoTask("It comes from one of our own addresses: internal mail gets no task.")
BACKLOG = NoTask("It is dated more than 7 days before this mailbox was first checked: old mail is filed, "
                 "but opens no task.")
STAFF = "ann@staff.example"
CARLOS_ADDR = "carlos@partner.example"
CARLOS = {"from_addr": Address("Carlos Ruiz", CARLOS_ADDR), "return_path": CARLOS_ADDR, "subject": "Re: Thanks"}
CARLOS_CLIENT = ClientRecord(11, "Carlos Ruiz", (CARLOS_ADDR,))
CARLOS_TASK = CreateTask(task_type=2, task_status=1, department=3, user=None, title="Re: Thanks")


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
        # A bounce: no client created, no task (it is nobody's job), no reply.
        ({"from_addr": Address("Mail Delivery System", "MAILER-DAEMON@mx.example"), "return_path": "",
          "subject": "Undelivered Mail Returned to Sender", "content_type": "multipart/report"}, {},
         Unmatched("mailer-daemon@mx.example is an automated sender, so no client was created."),
         ReplyInfo(False, None, None, None, None),
         NoTask("The message came from the null sender <>, as bounces and notifications do. Automated mail "
                "gets no task (tasks_for_automated_mail is off)."), "null-sender"),
        # ... unless the mailbox asks for tasks for automated mail too.
        ({"from_addr": Address("Mail Delivery System", "MAILER-DAEMON@mx.example"), "return_path": "",
          "subject": "Undelivered Mail Returned to Sender", "content_type": "multipart/report"},
         {"tasks_for_automated_mail": True},
         Unmatched("mailer-daemon@mx.example is an automated sender, so no client was created."),
         ReplyInfo(False, None, None, None, None),
         dataclasses.replace(NEW_TASK, title="Undelivered Mail Returned to Sender"), "null-sender"),
        # Our own address writing in: internal mail, filed without a client, task or reply.
        ({"from_addr": Address("Studio", MAILBOX), "return_path": MAILBOX}, {},
         Unmatched(f"{MAILBOX} is one of our own addresses, so the message is internal: it is not filed "
                   "against a client.", internal=True),
         ReplyInfo(False, None, None, None, None), INTERNAL, "own-address"),
        # So is a staff member's (a user's email is among the own addresses the shell passes).
        ({"from_addr": Address("Ann Archer", STAFF), "return_path": STAFF}, with_policy(own_addresses=(MAILBOX, STAFF)),
         Unmatched(f"{STAFF} is one of our own addresses, so the message is internal: it is not filed "
                   "against a client.", internal=True),
         ReplyInfo(False, None, None, None, None), INTERNAL, "own-address"),
        # A staff member answering in a client's thread joins it (it is our side of it).
        ({"from_addr": Address("Ann Archer", STAFF), "return_path": STAFF, "in_reply_to": (JANES_MAIL.message_id,)},
         with_policy(own_addresses=(MAILBOX, STAFF)),
         Unmatched(f"{STAFF} is one of our own addresses, so the message is internal: it is not filed "
                   "against a client.", internal=True),
         ReplyInfo(True, 6, 60, JANES_MAIL.message_id, "in-reply-to", 9), JoinTask(60), "own-address"),
        # Jane answering in her own thread joins it ...
        ({"in_reply_to": (JANES_MAIL.message_id,)}, {"candidates": (JANE,)}, Matched(9, False, (9,)),
         ReplyInfo(True, 6, 60, JANES_MAIL.message_id, "in-reply-to", 9), JoinTask(60), "is-reply"),
        # ... and when her address is shared, she is the one of them whose thread it is.
        ({"in_reply_to": (JANES_MAIL.message_id,)}, {"candidates": (JANE, ClientRecord(2, "Twin", (CLIENT,)))},
         Matched(9, True, (2, 9)), ReplyInfo(True, 6, 60, JANES_MAIL.message_id, "in-reply-to", 9),
         JoinTask(60), "is-reply"),
        # Another client, or a new sender, answering in Jane's thread starts a conversation of their own.
        ({"in_reply_to": (JANES_MAIL.message_id,), **CARLOS}, {"candidates": (CARLOS_CLIENT,)},
         Matched(11, False, (11,)), NOT_A_REPLY, CARLOS_TASK, SendReply),
        ({"in_reply_to": (JANES_MAIL.message_id,), **CARLOS}, {}, NewClient("Carlos Ruiz", CARLOS_ADDR),
         NOT_A_REPLY, CARLOS_TASK, SendReply),
        # An unmatched sender (new senders left unmatched) still joins: no client to split off.
        ({"in_reply_to": (JANES_MAIL.message_id,), **CARLOS}, {"unknown_sender": "leave_unmatched"},
         Unmatched(f"No client has the address {CARLOS_ADDR}, and new senders are left unmatched."),
         ReplyInfo(True, 6, 60, JANES_MAIL.message_id, "in-reply-to", 9), JoinTask(60), "is-reply"),
        # Mail dated over a week before the mailbox was first checked is its backlog: no task.
        ({"date": NOW - dt.timedelta(days=400)}, {"first_checked": NOW - dt.timedelta(hours=1)},
         NewClient("Jane Doe", CLIENT), NOT_A_REPLY, BACKLOG, "too-old"),
        ({"date": NOW - dt.timedelta(days=8, hours=1)}, {"first_checked": NOW - dt.timedelta(hours=1)},
         NewClient("Jane Doe", CLIENT), NOT_A_REPLY, BACKLOG, "too-old"),
        # A week's grace (last Friday's enquiry is work in hand), and undated mail may be new.
        ({"date": NOW - dt.timedelta(days=6)}, {"first_checked": NOW - dt.timedelta(hours=1)},
         NewClient("Jane Doe", CLIENT), NOT_A_REPLY, NEW_TASK, "too-old"),
        ({"date": None}, {"first_checked": NOW - dt.timedelta(hours=1)},
         NewClient("Jane Doe", CLIENT), NOT_A_REPLY, NEW_TASK, "no-date"),
        # Mail that arrives after the mailbox was connected is not backlog, however old the mailbox.
        ({}, {"first_checked": NOW - dt.timedelta(days=900)}, NewClient("Jane Doe", CLIENT), NOT_A_REPLY,
         NEW_TASK, SendReply),
    ],
)
def test_decide(make_msg, msg_overrides, fact_overrides, client, reply, task, autoreply):
    msg = make_msg(**msg_overrides)
    decision = decide(msg, dataclasses.replace(FACTS, **fact_overrides))
    assert isinstance(decision, Decision)
    assert (decision.client, decision.reply, decision.task) == (client, reply, task)
    if autoreply is SendReply:
        assert decision.autoreply == SendReply(msg.return_path, MAILBOX, decision.autoreply.reason)
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


def test_a_reply_in_another_client_s_thread_says_which_thread_it_named(make_msg):
    carlos = make_msg(in_reply_to=(JANES_MAIL.message_id,), **CARLOS)
    assert decide(carlos, FACTS).note == ("It replies to conversation 6 of another client, so it starts a "
                                          "conversation of its own.")
    assert decide(make_msg(in_reply_to=(JANES_MAIL.message_id,)), dataclasses.replace(FACTS, candidates=(JANE,))
                  ).note is None


def test_the_secret_stays_out_of_reprs():
    assert "installation secret" not in repr(FACTS)


def test_decide_is_repeatable(make_msg):
    msg = make_msg()
    assert decide(msg, FACTS) == decide(msg, FACTS)


def test_autoreply_rate_limit_and_age_flow_through(make_msg):
    facts = dataclasses.replace(FACTS, **with_policy(last_reply_to_sender=NOW - dt.timedelta(days=1)))
    assert decide(make_msg(), facts).autoreply.rule == "rate-limit"


def h(*pairs):
    return {"extra_headers": pairs}


NEWSLETTER = h(("List-Id", "<news.shop.example>"), ("List-Unsubscribe", "<mailto:u@shop.example>"))
OUT_OF_OFFICE = h(("Auto-Submitted", "auto-replied"))
AUTORESPONDER = h(("X-Autoreply", "yes"))
BOUNCE = {"return_path": "", "from_addr": Address("", "MAILER-DAEMON@mx.example"),
          "content_type": "multipart/report"}
NO_REPLY = {"from_addr": Address("Shop", "no-reply@shop.example"), "return_path": "bounce-7@shop.example"}
BULK = h(("Precedence", "bulk"))
REPORT = {"content_type": "message/disposition-notification"}


@pytest.mark.parametrize(
    ("msg_overrides", "detector"),
    [
        (NEWSLETTER, "mailing list"),
        (OUT_OF_OFFICE, "Auto-Submitted: auto-replied"),
        (AUTORESPONDER, "autoresponder"),
        (BOUNCE, "null sender"),
        (NO_REPLY, "no-reply@shop.example is an automated address"),
        (BULK, "Precedence: bulk"),
        (REPORT, "read report"),
    ],
)
def test_automated_mail_gets_no_task_unless_asked(make_msg, msg_overrides, detector):
    msg = make_msg(**msg_overrides)
    task = decide(msg, FACTS).task
    assert isinstance(task, NoTask) and detector in task.reason and "tasks_for_automated_mail" in task.reason
    asked = dataclasses.replace(FACTS, tasks_for_automated_mail=True)
    assert isinstance(decide(msg, asked).task, CreateTask)


@pytest.mark.parametrize(
    "msg_overrides",
    [
        {},
        # Not proof of software: no Return-Path at all, Outlook's suppress header, a
        # person's Precedence, Auto-Submitted: no, a Feedback-ID from an ESP.
        {"return_path": None},
        h(("X-Auto-Response-Suppress", "All")),
        h(("Precedence", "first-class")),
        h(("Auto-Submitted", "no")),
        h(("Feedback-ID", "1.eu-west-1.abc:AmazonSES")),
    ],
)
def test_a_person_s_mail_still_gets_a_task(make_msg, msg_overrides):
    assert decide(make_msg(**msg_overrides), FACTS).task == NEW_TASK


def test_the_reply_is_built_while_deciding(make_msg):
    from mailroom.rules.reply import ReplySetup

    setup = ReplySetup(template_name="Thanks", template_kind="form_letter", template_subject="Thanks",
                       template_body="Dear {{ client.first_name }},\nwe got it.\n", display_name="Studio",
                       timezone=ZoneInfo("Europe/London"))
    built = decide(make_msg(), dataclasses.replace(FACTS, reply_setup=setup, reply_nonce="n42"))
    assert isinstance(built.autoreply, SendReply)
    assert built.composed.message_id == make_message_id(SECRET, "n42", "studio.example")
    assert b"Dear Jane,\r\nwe got it." in built.composed.raw
    # A template that fails for this message: the decision says so, nothing to send.
    broken = dataclasses.replace(setup, template_body="Ref {{ message.subject.split()[0] }}")
    failed = decide(make_msg(subject=""), dataclasses.replace(FACTS, reply_setup=broken))
    assert failed.autoreply.rule == "template-failed" and failed.composed is None
    assert "'Thanks' could not be rendered" in failed.autoreply.reason
    # Without a setup the reply is decided, not built.
    assert decide(make_msg(), FACTS).composed is None
