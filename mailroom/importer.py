"""Import one parsed message inside the caller's transaction: look up, decide, record.

The shell around `mailroom.rules.decide`: it reads the facts the rules need from the
store (candidate clients, referenced messages, the last auto-reply to the sender in
any mailbox, the replies queued in the last hour), asks `decide`, and writes what it
decided — client, conversation, message (with why it got no task, why it got or did
not get a reply, and why it did not join the thread it named), task, seen UID and the
auto-reply's outbox row — on the connection it is given, so all of it commits or none
of it does. A message already stored from any mailbox (same Message-ID and bytes) is
recorded as a duplicate and nothing else. `explain` runs the same steps and rolls back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.context import Context
from mailroom.errors import ConfigError, MailroomError
from mailroom.mail.parse import html_to_text, parse_message
from mailroom.clock import utcnow
from mailroom.model import Mailbox, ParsedMessage
from mailroom.rules.authresults import trusted_authserv_id
from mailroom.rules.autoreply import AutoreplyPolicy, SendReply, Skip, reply_address
from mailroom.rules.cutoff import company_zone, cutoff_instant, is_before_cutoff
from mailroom.rules.decide import CreateTask, Decision, Facts, JoinTask, NoTask, decide
from mailroom.rules.hours import parse_business_hours
from mailroom.rules.match import Matched, NewClient, sender_key
from mailroom.rules.reply import ReplySetup
from mailroom.settings.fields import defaults
from mailroom.store import mailboxes, records
from mailroom.store import schema as s

log = logging.getLogger("mailroom.importer")

# Skips worth a line in the log at once; the routine ones (lists, old mail, replies)
# are only recorded with the message.
_NOTABLE_SKIPS = {"template-failed": logging.WARNING, "compose-failed": logging.WARNING,
                  "hourly-cap": logging.INFO, "forged-sender": logging.INFO, "non-ascii-address": logging.INFO}


@dataclass(frozen=True)
class Outcome:
    state: str                 # imported | duplicate
    message_pk: int | None
    outbox_id: int | None = None


def _row(conn: Connection, table: sa.Table, row_id: int | None) -> dict | None:
    if row_id is None:
        return None
    found = conn.execute(sa.select(table).where(table.c.id == row_id)).mappings().first()
    return dict(found) if found else None


class Importer:
    """Everything one mailbox's imports need that does not change during a run."""

    def __init__(self, ctx: Context, mailbox: Mailbox, *, clock: Callable[[], dt.datetime]):
        self.box = mailbox
        self.clock = clock
        self.secret = ctx.signing_secret()
        with ctx.engine.connect() as conn:
            # Never saved: the settings' defaults (the settings table is their one source).
            self.company = _row(conn, s.company, 1) or defaults("company")
            self.outgoing = _row(conn, s.outgoing, 1) or defaults("outgoing")
            self.template = _row(conn, s.templates, mailbox.autoreply_template_id)
            self.user = _row(conn, s.users, mailbox.user_id)
            self.department = _row(conn, s.departments, mailbox.department_id)
            own = [self.outgoing.get("email") or ""]
            for email, aliases in conn.execute(sa.select(s.mailboxes.c.email, s.mailboxes.c.aliases)):
                own += [email, *(aliases or [])]
            own += conn.execute(sa.select(s.users.c.email)).scalars()   # staff mail is internal
            self.first_checked = mailboxes.first_checked(conn, mailbox.id)
        self.timezone = company_zone(self.company["timezone"])
        hours = self.company["business_hours"]
        self.policy = AutoreplyPolicy(
            enabled=bool(mailbox.autoreply and self.template),
            when=mailbox.autoreply_when,
            outside_hours_only=mailbox.autoreply_outside_hours_only,
            business_hours=parse_business_hours(hours) if hours else None,
            timezone=self.timezone,
            mailbox_addresses=mailbox.addresses,
            own_addresses=tuple(sorted({a.lower() for a in own if a})),
            x_loop=mailbox.email.lower(),
            now=clock(),
            rate_limit=dt.timedelta(days=self.company["autoreply_rate_limit_days"]),
            trusted_authserv_id=trusted_authserv_id(mailbox.host, mailbox.authserv_id),
            max_per_hour=self.company["autoreply_max_per_hour"],
        )
        self.reply_setup = self._reply_setup() if self.template else None

    def _reply_setup(self) -> ReplySetup:
        """The template and the names merged into this mailbox's replies."""
        template, company = self.template, self.company
        return ReplySetup(
            template_name=template["name"], template_kind=template["kind"], template_subject=template["subject"],
            template_body=template["body"], display_name=self.outgoing.get("display_name") or "",
            timezone=self.timezone, company_name=company["name"], company_phone=company["phone"],
            company_business_hours=company["business_hours"], mailbox_description=self.box.description,
            user_name=self.user["name"] if self.user else "",
            department_name=self.department["name"] if self.department else "", html_to_text=html_to_text)

    # --- facts and decision ---------------------------------------------------------
    def reply_policy(self, conn: Connection, msg: ParsedMessage, now: dt.datetime) -> AutoreplyPolicy:
        """The auto-reply policy with the store's facts about this sender filled in."""
        policy = dataclasses.replace(self.policy, now=now)
        if not policy.enabled:
            return policy
        # Across every mailbox of the install: a second or renamed mailbox, or a
        # +tag, must not earn a sender a second reply; the cap counts all replies.
        to = reply_address(msg)
        return dataclasses.replace(
            policy, last_reply_to_sender=records.last_autoreply(conn, sender_key(to)) if to else None,
            replies_last_hour=records.autoreplies_since(conn, now - dt.timedelta(hours=1)))

    def decide(self, conn: Connection, msg: ParsedMessage, now: dt.datetime | None = None) -> Decision:
        sender = msg.from_addr.email if msg.from_addr else ""
        now = now or self.clock()
        box, policy = self.box, self.reply_policy(conn, msg, now)
        facts = Facts(
            candidates=_candidates(conn, sender),
            unknown_sender=self.company["unknown_sender"],
            known=records.known_messages(conn, [*msg.in_reply_to, *msg.references]),
            secret=self.secret,
            create_tasks=box.create_tasks,
            task_type=box.task_type_id, task_status=box.task_status_id,
            department=box.department_id, user=box.user_id,
            tasks_for_automated_mail=box.tasks_for_automated_mail,
            autoreply=policy,
            reply_setup=self.reply_setup,
            reply_nonce=uuid.uuid4().hex,
            # Never checked yet (explain, or this very first run): its first check is now.
            first_checked=self.first_checked or now,
        )
        return decide(msg, facts)

    # --- recording ------------------------------------------------------------------
    def import_message(self, conn: Connection, uid: str, msg: ParsedMessage) -> Outcome:
        return self.import_batch(conn, [(uid, msg)])[0]

    def import_batch(self, conn: Connection, items: list[tuple[str, ParsedMessage]]) -> list[Outcome]:
        """import_message for each (uid, message), in order, on one connection; their seen
        UIDs are written together at the end (one statement: nothing reads them before)."""
        outcomes, seen = [], []
        for uid, msg in items:
            outcome, now = self._import(conn, msg)
            outcomes.append(outcome)
            seen.append((uid, outcome.state, outcome.message_pk, now))
        records.mark_seen_each(conn, self.box.id, seen)
        return outcomes

    def _import(self, conn: Connection, msg: ParsedMessage) -> tuple[Outcome, dt.datetime]:
        box, now = self.box, self.clock()
        # Any mailbox: a mailbox renamed (a new id) or a second one reading the same
        # account serves old mail again, which must be neither filed nor answered twice.
        duplicate = records.find_duplicate(conn, msg.message_id, msg.raw_sha256)
        if duplicate is not None:
            return Outcome("duplicate", duplicate), now
        decision = self.decide(conn, msg, now)
        client = decision.client
        if isinstance(client, NewClient):
            client_id = records.insert_client(conn, client.name, client.email, now)
        else:
            client_id = client.client_id if isinstance(client, Matched) else None
        conversation_id = decision.reply.conversation_id
        if conversation_id is None:
            conversation_id = records.insert_conversation(conn, client_id, box.id, msg.subject, now)
        task, autoreply = decision.task, decision.autoreply
        message_pk = records.insert_message(
            conn, msg, direction="in", mailbox_id=box.id, client_id=client_id,
            conversation_id=conversation_id, is_reply=decision.reply.is_reply,
            client_ambiguous=isinstance(client, Matched) and client.ambiguous, now=now,
            task_note=" ".join(n for n in (decision.note, task.reason if isinstance(task, NoTask) else None) if n)
            or None,
            autoreply_rule=autoreply.rule if isinstance(autoreply, Skip) else None,
            autoreply_note=autoreply.reason)
        if isinstance(task, CreateTask):
            records.insert_task(conn, client_id=client_id, conversation_id=conversation_id, title=task.title,
                                task_type_id=task.task_type, task_status_id=task.task_status,
                                department_id=task.department, user_id=task.user,
                                source_message_pk=message_pk, now=now)
        outbox_id = None
        if isinstance(autoreply, SendReply) and decision.composed is not None:
            # The transactional outbox row: written with the import, sent later (at most once).
            outbox_id = records.queue_autoreply(
                conn, mailbox_id=box.id, reply_to_message_pk=message_pk, to_addr=autoreply.to,
                to_key=sender_key(autoreply.to), from_addr=autoreply.from_address,
                message_id=decision.composed.message_id, raw=decision.composed.raw, now=now)
        elif isinstance(autoreply, Skip) and autoreply.rule in _NOTABLE_SKIPS:
            log.log(_NOTABLE_SKIPS[autoreply.rule], "mailbox %s: no auto-reply to message %s (%r): %s",
                    box.description, msg.message_id, msg.subject, autoreply.reason)
        return Outcome("imported", message_pk, outbox_id), now


def _candidates(conn: Connection, sender: str) -> tuple:
    """The clients owning `sender`, and those owning it without its "+detail" (RFC 5233)."""
    if not sender:
        return ()
    found = records.client_candidates(conn, sender)
    base = sender_key(sender)
    if base != sender.strip().lower():
        found += records.client_candidates(conn, base)
    return tuple(found)


# Headers every email has at least one of; a file with none of them is not an email
# (a text note, a PDF, a saved web page), whatever the tolerant parser made of it.
_EMAIL_HEADERS = ("from", "to", "cc", "date", "subject", "message-id", "received", "return-path")


def explain(ctx: Context, raw: bytes, description: str | None = None,
            clock: Callable[[], dt.datetime] | None = None) -> dict:
    """What the pipeline would decide for `raw` in a mailbox; nothing is stored.

    Besides the decision: every rule that blocks an auto-reply (not only the first),
    whether the mailbox's `exclude_before` would skip it, and whether it is stored
    already (then a fetch would count it as a duplicate and decide nothing).
    """
    from mailroom.mail.parse import header_date
    from mailroom.rules.autoreply import Skip, blocking_rules

    with ctx.engine.connect() as conn:
        boxes = [mailboxes.by_description(conn, description)] if description else \
            mailboxes.every(conn, enabled_only=True)
    if not boxes:
        raise ConfigError("No mailbox is set up yet; explain decides as one of your mailboxes. "
                          "Add one to a settings file and import it; see: mailroom config import --help",
                          field="description")
    box = boxes[0]
    msg = parse_message(raw)
    if not any(msg.has_header(name) for name in _EMAIL_HEADERS):
        raise MailroomError("This does not look like an email: it has none of the headers From, To, "
                            "Date, Subject, Message-ID or Received.", kind="not_email", field="file")
    clock = clock or utcnow
    importer = Importer(ctx, box, clock=clock)
    with ctx.engine.connect() as conn:
        now = clock()
        decision = importer.decide(conn, msg, now)
        facts = importer.reply_policy(conn, msg, now).with_thread(
            is_reply=decision.reply.is_reply, is_new_client=isinstance(decision.client, NewClient))
        stored = records.find_duplicate(conn, msg.message_id, msg.raw_sha256)
        conn.rollback()
    blocking = blocking_rules(msg, facts)
    first = decision.autoreply
    if isinstance(first, Skip) and (not blocking or blocking[0].rule != first.rule):
        blocking = [first, *(b for b in blocking if b.rule != first.rule)]  # the decision is the authority
    cutoff = None
    if box.exclude_before:
        date = header_date(raw)
        cutoff = {"exclude_before": box.exclude_before.isoformat(),
                  "date": date.isoformat() if date else None,
                  "skipped": is_before_cutoff(date, cutoff_instant(box.exclude_before, importer.timezone))}
    return describe(msg, box, decision, blocking=blocking, stored=stored, cutoff=cutoff)


def describe(msg: ParsedMessage, box: Mailbox, d: Decision, *, blocking=(), stored: int | None = None,
             cutoff: dict | None = None) -> dict:
    """The decision as plain data (explain's --json): what `d` says, plus the blocking
    auto-reply rules, the message already stored (its id) and the cutoff check."""
    client = d.client
    if isinstance(client, Matched):
        who = {"match": "existing", "client_id": client.client_id, "ambiguous": client.ambiguous}
    elif isinstance(client, NewClient):
        who = {"match": "new", "name": client.name, "email": client.email}
    else:
        who = {"match": "unmatched", "reason": client.reason}
    task = d.task
    if isinstance(task, CreateTask):
        task_info = {"action": "create", "title": task.title}
    elif isinstance(task, JoinTask):
        task_info = {"action": "join", "task_id": task.task_id}
    else:
        task_info = {"action": "none", "reason": task.reason}
    reply = d.autoreply
    return {
        "mailbox": box.description,
        "message_id": msg.message_id,
        "from": msg.from_addr.email if msg.from_addr else None,
        "subject": msg.subject,
        "date": msg.date.isoformat() if msg.date else None,
        "client": who,
        "conversation": {"is_reply": d.reply.is_reply, "via": d.reply.via,
                         "conversation_id": d.reply.conversation_id, "note": d.note},
        "task": task_info,
        "autoreply": {"send": isinstance(reply, SendReply),
                      "to": reply.to if isinstance(reply, SendReply) else None,
                      "reason": reply.reason,
                      "rule": None if isinstance(reply, SendReply) else reply.rule,
                      "blocked_by": [{"rule": b.rule, "reason": b.reason} for b in blocking]},
        "already_stored": {"message_pk": stored} if stored is not None else None,
        "cutoff": cutoff,
    }
