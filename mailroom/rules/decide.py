"""The one decision the pipeline asks for: what to do with one incoming message.

`decide(msg, facts)` runs the rules in order — client match, reply detection (and
whether a reply joins its thread), task, auto-reply, and the reply's bytes — and
returns a `Decision` that the importer (mailroom/importer.py) carries out in one store
transaction. The importer looks up the
`Facts` first (candidate clients by sender address, store rows for the referenced
Message-IDs, the mailbox's settings, when this sender last had an auto-reply, how many
replies went out this hour) and never decides anything itself. A reply that cannot be built is a `Skip` in the
decision, so what `explain` shows is what the import does.

Pure: no store, no clock, no sending. The secret is kept out of reprs so a logged
`Facts` cannot leak it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Mapping

from mailroom.model import ParsedMessage
from mailroom.rules.automated import automated_reason
from mailroom.rules.autoreply import AutoreplyPolicy, SendReply, Skip, decide_autoreply
from mailroom.rules.cutoff import BACKLOG_GRACE, is_backlog
from mailroom.rules.match import (ClientDecision, ClientRecord, Matched, NewClient, Unmatched, UnknownSender,
                                  match_client)
from mailroom.rules.reply import ComposedReply, ReplySetup, build_reply, merge_context
from mailroom.rules.templates import one_line
from mailroom.rules.thread import (NOT_A_REPLY, KnownMessage, ReplyInfo, detect_reply, make_message_id,
                                   message_id_domain)

MAX_TITLE = 200


@dataclass(frozen=True)
class CreateTask:
    """Open a task for this message, with the mailbox's type, status and assignment."""

    task_type: int
    task_status: int
    department: int | None
    user: int | None
    title: str


@dataclass(frozen=True)
class JoinTask:
    """File the message under the existing task `task_id` of its conversation."""

    task_id: int


@dataclass(frozen=True)
class NoTask:
    """No task; `reason` is shown in the activity log."""

    reason: str


TaskDecision = CreateTask | JoinTask | NoTask


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What the shell looked up for one message in one mailbox.

    `candidates`: clients owning the sender's address. `known`: store rows for the
    ids in the message's In-Reply-To and References. `secret`: the installation's
    Message-ID signing key. The task fields are the mailbox's settings (ids, or None
    for "any department" / "no user"); `tasks_for_automated_mail` opens tasks for list,
    auto-submitted, bounce and no-reply mail too. `autoreply`: the mailbox's auto-reply
    policy; `decide` adds whether the message is a reply and from a new client. Its
    `own_addresses` (mailboxes, outgoing account, users) are never made clients, and
    their mail is internal. `reply_setup` (None: the reply is decided but not built) and
    `reply_nonce` (fresh for each message) make the reply itself. `first_checked`: when
    the mailbox was first checked (its backlog opens no tasks; None: no backlog rule).
    """

    candidates: tuple[ClientRecord, ...]
    unknown_sender: UnknownSender
    known: Mapping[str, KnownMessage]
    secret: bytes = field(repr=False)
    create_tasks: bool
    task_type: int | None
    task_status: int | None
    department: int | None
    user: int | None
    autoreply: AutoreplyPolicy
    tasks_for_automated_mail: bool = False
    reply_setup: ReplySetup | None = None
    reply_nonce: str = "reply"
    first_checked: dt.datetime | None = None


@dataclass(frozen=True)
class Decision:
    """Everything to do with one message: whose it is, its thread, its task, its reply.

    `composed` is the reply's Message-ID and bytes when `autoreply` is a SendReply and
    the facts carried a `reply_setup`; otherwise None. `note`: why the message did not
    join the conversation it replies to (`own_thread`), for the message's record.
    """

    client: ClientDecision
    reply: ReplyInfo
    task: TaskDecision
    autoreply: SendReply | Skip
    composed: ComposedReply | None = None
    note: str | None = None


def decide(msg: ParsedMessage, facts: Facts) -> Decision:
    """The decision for `msg`, from the facts the shell looked up."""
    own = frozenset(address.lower() for address in facts.autoreply.own_addresses)
    software = automated_reason(msg)
    client = match_client(msg.from_addr, facts.candidates, facts.unknown_sender, own,
                          automated=software[1] if software else None)
    client, reply, note = own_thread(client, detect_reply(msg, facts.known, facts.secret))
    autoreply_facts = facts.autoreply.with_thread(
        is_reply=reply.is_reply, is_new_client=isinstance(client, NewClient)
    )
    autoreply = decide_autoreply(msg, autoreply_facts)
    composed = None
    if isinstance(autoreply, SendReply) and facts.reply_setup is not None:
        built = _build_reply(msg, autoreply, client, facts)
        if isinstance(built, Skip):
            autoreply = built
        else:
            composed = built
    return Decision(client=client, reply=reply, task=_decide_task(msg, reply, client, facts, software),
                    autoreply=autoreply, composed=composed, note=note)


def own_thread(client: ClientDecision, reply: ReplyInfo) -> tuple[ClientDecision, ReplyInfo, str | None]:
    """Does a reply join the conversation it names? Only when its sender is that
    conversation's client, or is no client at all (our own staff answering in the
    thread, an unmatched sender): then (client, reply, None).

    A different client, or a sender who would become a new client (a partner
    answering an auto-reply the client forwarded), starts a conversation of their own,
    so their mail is neither hidden in someone else's thread nor left without a task:
    (client, NOT_A_REPLY, the note saying which conversation it named). When several
    clients share the address and the conversation's client is one of them, the
    message is filed against that one.
    """
    owner = reply.client_id
    if not reply.is_reply or owner is None or isinstance(client, Unmatched):
        return client, reply, None
    if isinstance(client, Matched) and owner in client.candidate_ids:
        return (replace(client, client_id=owner) if client.client_id != owner else client), reply, None
    note = (f"It replies to conversation {reply.conversation_id} of another client, so it starts a "
            "conversation of its own.")
    return client, NOT_A_REPLY, note


def _build_reply(msg: ParsedMessage, send: SendReply, client: ClientDecision, facts: Facts) -> ComposedReply | Skip:
    setup = facts.reply_setup
    assert setup is not None
    message_id = make_message_id(facts.secret, facts.reply_nonce, message_id_domain(send.from_address))
    context = merge_context(msg, client, facts.candidates, send.to, setup)
    return build_reply(msg, send, context, setup, message_id=message_id, x_loop=facts.autoreply.x_loop,
                       now=facts.autoreply.now)


def _decide_task(msg: ParsedMessage, reply: ReplyInfo, client: ClientDecision, facts: Facts,
                 software: tuple[str, str] | None) -> TaskDecision:
    # A reply joins its conversation's task whatever the mailbox's task setting:
    # the task exists already, and the answer belongs with it.
    if reply.task_id is not None:
        return JoinTask(reply.task_id)
    if reply.is_reply:
        return NoTask("It replies to an earlier conversation; tasks are opened for new ones only.")
    if isinstance(client, Unmatched) and client.internal:
        return NoTask("It comes from one of our own addresses: internal mail gets no task.")
    if not facts.create_tasks:
        return NoTask("This mailbox does not create tasks.")
    if is_backlog(msg.date, facts.first_checked):
        # Connecting a mailbox with years of mail must not open a task per old conversation.
        return NoTask(f"It is dated more than {BACKLOG_GRACE.days} days before this mailbox was first "
                      "checked: old mail is filed, but opens no task.")
    if software is not None and not facts.tasks_for_automated_mail:
        # Newsletters, out-of-office replies, bounces and no-reply mail are nobody's
        # task; the mailbox setting tasks_for_automated_mail opens tasks for them too.
        return NoTask(f"{software[1]} Automated mail gets no task (tasks_for_automated_mail is off).")
    if facts.task_type is None or facts.task_status is None:
        return NoTask("This mailbox creates tasks, but has no task type or status set.")
    return CreateTask(
        task_type=facts.task_type,
        task_status=facts.task_status,
        department=facts.department,
        user=facts.user,
        title=task_title(msg),
    )


def task_title(msg: ParsedMessage) -> str:
    """The message's subject on one line, or "(no subject) from <sender>"; at most 200 characters."""
    title = one_line(msg.subject)
    if not title:
        sender = msg.from_addr
        if sender is None or not sender.email:
            who = "an unknown sender"
        elif sender.name.strip():
            who = f"{one_line(sender.name)} <{sender.email}>"
        else:
            who = sender.email
        title = f"(no subject) from {who}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "\u2026"
