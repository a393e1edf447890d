"""Whose mail is it: staff, other clients' threads, subaddresses, automated senders and
a mailbox's old mail, imported from the real Dovecot with auto-replies to the real SMTP."""

from __future__ import annotations

import datetime as dt
import email.utils

import sqlalchemy as sa

from mailroom.fetch import MailboxRun
from mailroom.importer import explain
from mailroom.outbox import drain
from mailroom.store import schema as s
from tests.mailgen import make_message
from tests.pipeline.test_autoreply import autoreply_box


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def mail(i: int, user, sender: str, *, when: dt.datetime | None = None, headers=(), subject: str | None = None):
    address = email.utils.parseaddr(sender)[1]
    return make_message(i, to=user.address, sender=sender, subject=subject,
                        date=when or now() - dt.timedelta(minutes=5),
                        extra_headers=[("Return-Path", f"<{address}>"), *headers])


def filed(ctx) -> list[tuple]:
    """(sender, client's first address or None, conversation, is_reply, tasks of it, task_note) per message in."""
    m, e, t = s.messages, s.client_emails, s.tasks
    first_email = sa.select(sa.func.min(e.c.email)).where(e.c.client_id == m.c.client_id).scalar_subquery()
    tasks = sa.select(sa.func.count()).select_from(t).where(t.c.source_message_pk == m.c.id).scalar_subquery()
    with ctx.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(m.c.from_addr, first_email, m.c.conversation_id, m.c.is_reply, tasks, m.c.task_note)
            .where(m.c.direction == "in").order_by(m.c.id))]


def replied_to(ctx) -> list[str]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(sa.select(s.outbox.c.to_addr).order_by(s.outbox.c.id)).scalars())


def count(ctx, table) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_staff_member_s_mail_is_internal(ctx, configure, mailbox_user):
    box = autoreply_box(configure, users=[{"name": "Ann Archer", "email": "Ann.Archer@staff.example"}])
    mailbox_user.deliver_many([mail(1, mailbox_user, "Ann Archer <ann.archer@staff.example>"),
                               mail(2, mailbox_user, "Ann <ann.archer+notes@staff.example>"),
                               mail(3, mailbox_user, "Jane Doe <jane@client.example>")])
    assert MailboxRun(ctx, box).run().imported == 3
    internal = "It comes from one of our own addresses: internal mail gets no task."
    rows = filed(ctx)
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        ("ann.archer@staff.example", None, 0, internal),
        ("ann.archer+notes@staff.example", None, 0, internal),
        ("jane@client.example", "jane@client.example", 1, None)]
    assert count(ctx, s.clients) == 1 and replied_to(ctx) == ["jane@client.example"]


def test_a_reply_in_another_client_s_thread_starts_its_own_conversation(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    mailbox_user.deliver(mail(1, mailbox_user, "Jane Doe <jane@client.example>", subject="Wedding in June"))
    MailboxRun(ctx, box).run()
    assert drain(ctx).sent == 1
    [sent] = smtp.capture.wait_for(1)
    ours = sent["msg"]["Message-ID"]
    # Jane forwarded our acknowledgement to Carlos, who answers it; then Jane answers it too.
    thread = [("In-Reply-To", ours), ("References", ours)]
    mailbox_user.deliver_many([mail(2, mailbox_user, "Carlos Ruiz <carlos@partner.example>", headers=thread,
                                    subject="Re: Thank you, Jane"),
                               mail(3, mailbox_user, "Jane Doe <jane@client.example>", headers=thread,
                                    subject="Re: Thank you, Jane")])
    assert MailboxRun(ctx, box).run().imported == 2

    jane, carlos, jane_again = filed(ctx)
    assert carlos[:5] == ("carlos@partner.example", "carlos@partner.example", carlos[2], False, 1)
    assert carlos[2] != jane[2]
    assert carlos[5] == (f"It replies to conversation {jane[2]} of another client, so it starts a "
                         "conversation of its own.")
    assert jane_again[:5] == ("jane@client.example", "jane@client.example", jane[2], True, 0)
    assert replied_to(ctx) == ["jane@client.example", "carlos@partner.example"]


def test_a_subaddress_is_its_client_and_automated_senders_make_no_clients(ctx, configure, mailbox_user):
    box = configure(create_tasks=True, task_type="Inquiry")
    mailbox_user.deliver(mail(1, mailbox_user, "Jane Doe <jane.doe@client.example>"))
    MailboxRun(ctx, box).run()
    mailbox_user.deliver_many([
        mail(2, mailbox_user, "Jane Doe <Jane.Doe+photos@client.example>"),
        mail(3, mailbox_user, "Shop News <news@shop.example>",
             headers=[("List-Id", "<news.shop.example>"), ("List-Unsubscribe", "<mailto:u@shop.example>")]),
        mail(4, mailbox_user, "Sam Lee <sam@away.example>", subject="Out of office",
             headers=[("Auto-Submitted", "auto-replied")]),
    ])
    assert MailboxRun(ctx, box).run().imported == 3
    rows = filed(ctx)
    assert [r[:2] for r in rows] == [("jane.doe@client.example", "jane.doe@client.example"),
                                     ("jane.doe+photos@client.example", "jane.doe@client.example"),
                                     ("news@shop.example", None), ("sam@away.example", None)]
    assert count(ctx, s.clients) == 1
    assert [r[4] for r in rows] == [1, 1, 0, 0]


def test_connecting_a_mailbox_with_years_of_mail_files_it_but_opens_no_tasks_and_sends_nothing(
        ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    years = [mail(i, mailbox_user, f"Client {i} <client{i}@example.com>", when=now() - dt.timedelta(days=300 * i))
             for i in range(1, 6)]
    last_week = mail(6, mailbox_user, "Client 6 <client6@example.com>", when=now() - dt.timedelta(days=3))
    today = mail(7, mailbox_user, "Client 7 <client7@example.com>")
    mailbox_user.deliver_many([*years, last_week, today])
    before = explain(ctx, years[0])                              # what a user asks before the first check
    assert before["task"]["action"] == "none" and "before this mailbox was first checked" in before["task"]["reason"]
    assert before["autoreply"]["send"] is False and explain(ctx, today)["task"]["action"] == "create"

    assert MailboxRun(ctx, box).run().imported == 7
    rows = filed(ctx)
    assert [r[1] for r in rows] == [f"client{i}@example.com" for i in range(1, 8)]   # all filed against clients
    assert [r[4] for r in rows] == [0, 0, 0, 0, 0, 1, 1]        # tasks: a week's grace, not years of backlog
    assert all("before this mailbox was first checked" in r[5] for r in rows[:5])
    assert replied_to(ctx) == ["client7@example.com"]            # replies: only to mail of the last day
    assert drain(ctx).sent == 1 and len(smtp.capture.wait_for(1)) == 1

    # The backlog is what the mailbox held when first checked: new mail still gets its task.
    mailbox_user.deliver(mail(8, mailbox_user, "Client 8 <client8@example.com>"))
    assert MailboxRun(ctx, box).run().imported == 1
    assert filed(ctx)[-1][4] == 1
