"""Auto-replies that must not go out, end to end: real Dovecot in, real SMTP out.

Unsendable addresses and failing templates are recorded skips that never stop an
import; forged and tagged senders, floods and second mailboxes do not turn Mailroom
into a spam reflector; automated mail opens no task and our own addresses are no client.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging

import pytest
import sqlalchemy as sa

from mailroom.checks import send_test_email
from mailroom.fetch import MailboxRun
from mailroom.importer import explain
from mailroom.model import Mailbox
from mailroom.outbox import drain
from mailroom.secrets import mailbox_account
from mailroom.settings import repo
from mailroom.settings.document import validate
from mailroom.store import schema as s
from tests.mailgen import make_message
from tests.pipeline.test_autoreply import THANKS, autoreply_box, inquiry, outbox_states

NAMED = {"name": "Named", "kind": "form_letter", "subject": "Thank you",
         "body": "Dear {{ client.name }},\nthank you for your email.\n"}
# Valid against the sample message, but fails for a message without a subject.
FIRST_WORD = {"name": "FirstWord", "kind": "form_letter", "subject": "Re: {{ message.subject }}",
              "body": "Your reference: {{ message.subject.split()[0] }}\n"}


def raw_message(i: int, user, *, sender: str, return_path: str, subject: str = "Booking a portrait",
                headers=(), content_type: str = "text/plain; charset=utf-8") -> bytes:
    """A message written byte by byte: UTF-8 headers (RFC 6532) and odd Return-Paths as they arrive."""
    when = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5))
    lines = [f"Return-Path: <{return_path}>", *(f"{name}: {value}" for name, value in headers),
             f"From: {sender}", f"To: {user.address}", f"Subject: {subject}", f"Date: {when}",
             f"Message-ID: <raw.{i}@client.example>", "MIME-Version: 1.0", f"Content-Type: {content_type}",
             "Content-Transfer-Encoding: 8bit", "", "Hello, are you free in June?", ""]
    return "\r\n".join(lines).encode("utf-8")


def messages(ctx) -> list[dict]:
    with ctx.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(s.messages).where(s.messages.c.direction == "in").order_by(s.messages.c.id)).mappings()]


def count(ctx, table) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def second_mailbox(ctx, user, description: str) -> tuple[Mailbox, object]:
    """Add a second mailbox, on an account of its own on the same server: (it, its user)."""
    other = user.dovecot.new_user("second")
    doc = repo.load(ctx.engine)
    first = doc["mailboxes"][0]
    doc["mailboxes"].append(dict(first, description=description, username=other.name, email=other.address,
                                 aliases=[]))
    canonical, _warnings = validate(doc)
    repo.save(ctx.engine, canonical)
    box = ctx.mailbox(description)
    ctx.secrets.set(mailbox_account(box.id), other.password)
    return box, other


# --- B: a reply problem never stops an import --------------------------------------------

def test_unsendable_return_paths_are_recorded_skips_and_the_rest_goes_out(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    mailbox_user.deliver_many([
        raw_message(1, mailbox_user, sender="Ann <ann@client.example>", return_path="ann@ex\u00e4mple.com"),
        raw_message(2, mailbox_user, sender="Bob <bob@client.example>", return_path="bo\x01b@client.example"),
        raw_message(3, mailbox_user, sender="J\u00f6rg D\u00f6e <jd\u00f6e@m\u00e4chine.example>",
                    return_path="jd\u00f6e@m\u00e4chine.example"),
        inquiry(4, mailbox_user),
    ])
    report = MailboxRun(ctx, box).run()
    assert (report.imported, report.quarantined, len(report.outbox_ids)) == (4, 0, 1)
    rows = messages(ctx)
    assert [r["autoreply_rule"] for r in rows] == ["non-ascii-address", "null-sender", "non-ascii-address", None]
    assert "SMTPUTF8" in rows[0]["autoreply_note"] and "SMTPUTF8" in rows[2]["autoreply_note"]
    assert rows[3]["autoreply_note"] == "It starts a new conversation."
    # The filed messages have their client and task as usual.
    assert all(r["client_id"] for r in rows) and count(ctx, s.tasks) == 4
    result = drain(ctx)
    assert (result.sent, result.failed) == (1, 0)
    assert [m["rcpt_tos"] for m in smtp.capture.wait_for(1)] == [["client4@example.com"]]


def test_explain_says_what_the_import_does(ctx, configure, mailbox_user, smtp):
    box = configure(templates=[THANKS, FIRST_WORD], autoreply=True, autoreply_template="FirstWord",
                    autoreply_when="every_email")
    idn = "jd\u00f6e@m\u00e4chine.example"
    cases = [
        raw_message(1, mailbox_user, sender=idn, return_path=idn),
        raw_message(2, mailbox_user, sender="ann@client.example", return_path="ann@ex\u00e4mple.com"),
        raw_message(3, mailbox_user, sender="eve@client.example", return_path="eve@client.example", subject=""),
        raw_message(4, mailbox_user, sender="sam@client.example", return_path="sam@client.example"),
    ]
    before = [explain(ctx, raw, "Studio")["autoreply"] for raw in cases]
    assert [(e["send"], e["rule"]) for e in before] == [
        (False, "non-ascii-address"), (False, "non-ascii-address"), (False, "template-failed"), (True, None)]
    mailbox_user.deliver_many(cases)
    report = MailboxRun(ctx, box).run()
    assert (report.imported, report.quarantined, len(report.outbox_ids)) == (4, 0, 1)
    assert [(r["autoreply_rule"], r["autoreply_note"]) for r in messages(ctx)] == [
        (e["rule"], e["reason"]) for e in before]
    assert "'FirstWord' could not be rendered" in before[2]["reason"]


def test_a_legacy_outbox_row_to_a_non_ascii_address_fails_alone(ctx, configure, mailbox_user, smtp):
    # Rows queued by an older version: a non-ASCII recipient and bare-LF bytes.
    box = autoreply_box(configure)
    mailbox_user.deliver_many([inquiry(1, mailbox_user), inquiry(2, mailbox_user)])
    MailboxRun(ctx, box).run()
    with ctx.engine.begin() as conn:
        first, second = conn.execute(sa.select(s.outbox.c.id, s.outbox.c.raw).order_by(s.outbox.c.id)).all()
        conn.execute(s.outbox.update().where(s.outbox.c.id == first.id).values(to_addr="ann@ex\u00e4mple.com"))
        conn.execute(s.outbox.update().where(s.outbox.c.id == second.id)
                     .values(raw=second.raw.replace(b"\r\n", b"\n")))
    result = drain(ctx)
    assert (result.sent, result.failed, result.error) == (1, 1, None)
    assert outbox_states(ctx) == ["failed", "sent"]
    with ctx.engine.connect() as conn:
        error = conn.execute(sa.select(s.outbox.c.last_error).where(s.outbox.c.id == first.id)).scalar()
    assert "SMTPUTF8" in error and error.startswith("Not sent")
    [sent] = smtp.capture.wait_for(1)
    assert b"\n" not in sent["raw"].replace(b"\r\n", b"")


# --- C: not a spam reflector ------------------------------------------------------------

def test_a_flood_of_forged_senders_gets_at_most_the_hourly_cap(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)   # autoreply_max_per_hour left at its default, 50
    mailbox_user.deliver_many(inquiry(i, mailbox_user, sender=f"victim{i}@third-party.example")
                              for i in range(60))
    report = MailboxRun(ctx, box).run()
    assert (report.imported, len(report.outbox_ids)) == (60, 50)
    rows = messages(ctx)
    assert [r["autoreply_rule"] for r in rows] == [None] * 50 + ["hourly-cap"] * 10
    assert "autoreply_max_per_hour" in rows[-1]["autoreply_note"]
    # The cap is per hour for the whole install: an hour later replies go out again.
    mailbox_user.deliver(inquiry(60, mailbox_user, sender="late@client.example"))
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=61)
    assert len(MailboxRun(ctx, box, clock=lambda: later).run().outbox_ids) == 1


def test_a_lower_cap_is_honoured(ctx, configure, mailbox_user, smtp):
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks",
                    company={"autoreply_max_per_hour": 2})
    mailbox_user.deliver_many(inquiry(i, mailbox_user) for i in range(3))
    assert len(MailboxRun(ctx, box).run().outbox_ids) == 2
    assert [r["autoreply_rule"] for r in messages(ctx)] == [None, None, "hourly-cap"]


def test_tagged_addresses_of_one_person_get_one_reply(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure, autoreply_when="every_email")
    mailbox_user.deliver_many(inquiry(i, mailbox_user, sender=f"Target+{i}@Victim.example") for i in range(8))
    mailbox_user.deliver(inquiry(8, mailbox_user, sender="other@victim.example"))  # someone else: a reply
    report = MailboxRun(ctx, box).run()
    assert len(report.outbox_ids) == 2
    assert [r["autoreply_rule"] for r in messages(ctx)] == [None] + ["rate-limit"] * 7 + [None]


def test_a_second_mailbox_does_not_reply_to_the_same_sender_again(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    mailbox_user.deliver(inquiry(1, mailbox_user, sender="ann@client.example"))
    assert len(MailboxRun(ctx, box).run().outbox_ids) == 1
    second, other = second_mailbox(ctx, mailbox_user, "Front desk")
    other.deliver(inquiry(2, other, sender="ann@client.example"))
    assert MailboxRun(ctx, second).run().outbox_ids == []
    assert messages(ctx)[-1]["autoreply_rule"] == "rate-limit"


def test_a_return_path_our_provider_calls_forged_gets_no_reply(ctx, configure, mailbox_user, smtp):
    # The test server is no known provider: its authserv-id is set, as a user of a
    # self-hosted server would.
    box = autoreply_box(configure, authserv_id="mx.studio.example")
    forged = ("mx.studio.example; spf=fail (not permitted) smtp.mailfrom=victim@bank.example; "
              "dmarc=fail (p=REJECT) header.from=bank.example")
    genuine = ("mx.studio.example; spf=pass smtp.mailfrom=ann@client.example; "
               "dmarc=pass header.from=client.example")
    mailbox_user.deliver_many([
        inquiry(1, mailbox_user, sender="victim@bank.example", headers=[("Authentication-Results", forged)]),
        inquiry(2, mailbox_user, sender="ann@client.example", headers=[("Authentication-Results", genuine)]),
        # The same failing verdict, but stamped by a server we do not trust: ignored.
        inquiry(3, mailbox_user, sender="bob@client.example",
                headers=[("Authentication-Results", forged.replace("mx.studio.example", "mx.evil.example")
                          .replace("bank.example", "client.example").replace("victim@", "bob@"))]),
    ])
    report = MailboxRun(ctx, box).run()
    assert len(report.outbox_ids) == 2
    rows = messages(ctx)
    assert [r["autoreply_rule"] for r in rows] == ["forged-sender", None, None]
    assert "mx.studio.example" in rows[0]["autoreply_note"]


def test_a_spoofed_client_address_does_not_leak_the_client_s_name(ctx, configure, mailbox_user, smtp):
    box = configure(templates=[NAMED], autoreply=True, autoreply_template="Named")
    mailbox_user.deliver(inquiry(1, mailbox_user, sender="jane@client.example"))
    MailboxRun(ctx, box).run()
    with ctx.engine.begin() as conn:
        conn.execute(s.clients.update().values(name="Jane Doe-Smith"))  # the studio knows her by her full name
        # her first reply went out long ago: the rate limit does not hold back the next
        conn.execute(s.outbox.update().values(created_at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)))
    spoof = make_message(2, to=mailbox_user.address, sender="J. <jane@client.example>",
                         date=dt.datetime.now(dt.timezone.utc),
                         extra_headers=[("Return-Path", "<x@stranger.example>")])
    # ... and she writes again from a subaddress of her own: her name is hers to see.
    tagged = make_message(3, to=mailbox_user.address, sender="J. <jane@client.example>",
                          date=dt.datetime.now(dt.timezone.utc),
                          extra_headers=[("Return-Path", "<jane+shop@client.example>")])
    mailbox_user.deliver_many([spoof, tagged])
    assert len(MailboxRun(ctx, box).run().outbox_ids) == 2
    assert drain(ctx).sent == 3
    sent = {m["rcpt_tos"][0]: m["msg"].get_content() for m in smtp.capture.wait_for(3)}
    assert "Dear J.," in sent["x@stranger.example"] and "Doe-Smith" not in sent["x@stranger.example"]
    assert "Dear Jane Doe-Smith," in sent["jane+shop@client.example"]


# --- D: automated mail, our own addresses --------------------------------------------------

@pytest.mark.parametrize("tasks_for_automated_mail", [False, True])
def test_automated_mail_opens_no_task_and_our_addresses_are_no_client(ctx, configure, mailbox_user, smtp,
                                                                      tasks_for_automated_mail):
    box = configure(create_tasks=True, task_type="Inquiry", aliases=["hello@lumen.example"],
                    tasks_for_automated_mail=tasks_for_automated_mail)
    mailbox_user.deliver_many([
        inquiry(1, mailbox_user, sender="news@shop.example", headers=[("List-Id", "<news.shop.example>")]),
        inquiry(2, mailbox_user, sender="away@client.example", headers=[("Auto-Submitted", "auto-replied")]),
        inquiry(3, mailbox_user, sender="holiday@client.example", headers=[("X-Autoreply", "yes")]),
        make_message(4, to=mailbox_user.address, sender="MAILER-DAEMON@mx.example",
                     date=dt.datetime.now(dt.timezone.utc), extra_headers=[("Return-Path", "<>")]),
        inquiry(5, mailbox_user, sender="no-reply@shop.example"),
        inquiry(6, mailbox_user, sender="Studio <studio@localhost>"),         # the outgoing account
        inquiry(7, mailbox_user, sender="Studio <hello@lumen.example>"),      # an alias of the mailbox
        inquiry(8, mailbox_user, sender="Ann Archer <ann@client.example>"),   # a person
    ])
    assert MailboxRun(ctx, box).run().imported == 8
    rows = messages(ctx)
    notes = [r["task_note"] for r in rows]
    internal = "It comes from one of our own addresses: internal mail gets no task."
    # Our own addresses' mail is internal: no task, whatever tasks_for_automated_mail says.
    assert notes[5:] == [internal, internal, None]
    if tasks_for_automated_mail:
        assert notes[:5] == [None] * 5 and count(ctx, s.tasks) == 6
    else:
        assert count(ctx, s.tasks) == 1
        for note, why in zip(notes[:5], ["List-Id", "Auto-Submitted", "X-Autoreply", "null sender",
                                         "no-reply@shop.example"]):
            assert why in note and note.endswith("Automated mail gets no task (tasks_for_automated_mail is off).")
    with ctx.engine.connect() as conn:
        clients = sorted(e for (e,) in conn.execute(sa.select(s.client_emails.c.email)))
    assert clients == ["ann@client.example"]          # automated senders make no clients either
    assert all(r["client_id"] is None for r in rows[:7])


# --- E: duplicates across mailboxes --------------------------------------------------------

def test_mail_two_mailboxes_both_receive_is_filed_and_answered_once(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    both = [inquiry(1, mailbox_user), inquiry(2, mailbox_user)]
    mailbox_user.deliver_many(both)
    assert MailboxRun(ctx, box).run().imported == 2
    second, other = second_mailbox(ctx, mailbox_user, "Front desk")
    other.deliver_many(both)                  # the same bytes, e.g. copies of a message sent to both
    report = MailboxRun(ctx, second).run()
    assert (report.imported, report.duplicates, report.outbox_ids) == (0, 2, [])
    assert count(ctx, s.messages) == 2 and count(ctx, s.tasks) == 2 and count(ctx, s.outbox) == 2
    assert drain(ctx).sent == 2 and len(smtp.capture) == 2


# --- F: what was sent is logged, and the test email is CRLF too ----------------------------

def test_every_sent_reply_is_logged_at_info(ctx, configure, mailbox_user, smtp, caplog):
    box = autoreply_box(configure)
    mailbox_user.deliver(inquiry(1, mailbox_user, sender="ann@client.example"))
    MailboxRun(ctx, box).run()
    original = messages(ctx)[0]
    with caplog.at_level(logging.INFO, logger="mailroom.outbox"):
        assert drain(ctx).sent == 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "mailroom.outbox" and r.levelno == logging.INFO]
    assert "ann@client.example" in line and original["message_id"] in line
    assert repr(original["subject"]) in line and "Studio" in line


def test_the_test_email_goes_out_with_crlf(ctx, configure, smtp):
    configure()
    assert send_test_email(ctx, "client@example.com").ok
    [sent] = smtp.capture.wait_for(1)
    assert b"\n" not in sent["raw"].replace(b"\r\n", b"") and sent["msg"]["Subject"] == "Mailroom test email"
