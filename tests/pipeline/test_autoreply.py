"""Auto-replies end to end: real Dovecot in, real SMTP out, loop-proof, at most once."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import subprocess
import sys
import time

import sqlalchemy as sa

from mailroom.fetch import MailboxRun
from mailroom.model import Mailbox
from mailroom.outbox import drain
from mailroom.store import schema as s
from tests.conftest import REPO_ROOT
from tests.mailgen import make_message

THANKS = {"name": "Thanks", "kind": "form_letter", "subject": "Thank you, {{ client.first_name }}",
          "body": "Dear {{ client.first_name }},\n\nwe got your email \"{{ message.subject }}\" and "
                  "{{ company.name }} will answer soon.\nCall us on {{ company.phone }}.\n"}
HTML = {"name": "Welcome", "kind": "html_email", "subject": "Welcome to {{ company.name }}",
        "body": "<p>Hello <b>{{ client.name }}</b>,</p><p>we will be in touch.</p>"}


def inquiry(i: int, user, *, sender: str | None = None, when: dt.datetime | None = None, headers=()) -> bytes:
    address = sender or f"client{i}@example.com"
    return make_message(i, to=user.address, sender=f"Client Number{i} <{address}>",
                        date=when or dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5),
                        extra_headers=[("Return-Path", f"<{address}>"), *headers])


def autoreply_box(configure, **fields) -> Mailbox:
    fields = {"autoreply_template": "Thanks", **fields}
    return configure(templates=[THANKS, HTML], autoreply=True, create_tasks=True, task_type="Inquiry",
                     company={"name": "Lumen Photography", "phone": "+44 20 7946 0000"}, **fields)


def outbox_states(ctx) -> list[str]:
    with ctx.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(s.outbox.c.state).order_by(s.outbox.c.id))]


def test_a_new_client_gets_exactly_one_reply_with_the_right_headers(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    original = inquiry(1, mailbox_user)
    mailbox_user.deliver(original)
    report = MailboxRun(ctx, box).run()
    assert report.imported == 1 and len(report.outbox_ids) == 1
    assert drain(ctx).sent == 1
    [sent] = smtp.capture.wait_for(1)
    msg = sent["msg"]
    assert sent["rcpt_tos"] == ["client1@example.com"]
    assert msg["To"] == "client1@example.com"
    assert email.utils.parseaddr(msg["From"]) == ("Lumen Photography", mailbox_user.address)
    assert msg["Auto-Submitted"] == "auto-replied"
    original_id = email.message_from_bytes(original)["Message-ID"]
    assert msg["In-Reply-To"] == original_id
    assert msg["References"].split()[-1] == original_id
    assert msg["X-Loop"] == mailbox_user.address
    assert msg["Subject"] == "Thank you, Client"
    body = msg.get_content()
    assert "Dear Client," in body and "Lumen Photography will answer soon" in body and "+44 20 7946 0000" in body
    assert outbox_states(ctx) == ["sent"]
    # the reply is on the client's record, in the original's conversation
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.select(s.messages.c.direction, s.messages.c.conversation_id,
                                      s.messages.c.client_id).order_by(s.messages.c.id)).all()
    assert [r.direction for r in rows] == ["in", "out"] and rows[0][1:] == rows[1][1:]

    # nothing is sent twice, however often the outbox is drained
    assert drain(ctx).sent == 0 and len(smtp.capture) == 1

    # the client answers our reply: it threads back, joins the task, and gets no reply
    answer = inquiry(2, mailbox_user, sender="client1@example.com",
                     headers=[("In-Reply-To", msg["Message-ID"]), ("References", msg["Message-ID"])])
    mailbox_user.deliver(answer)
    MailboxRun(ctx, box).run()
    with ctx.engine.connect() as conn:
        last = conn.execute(sa.select(s.messages).order_by(s.messages.c.id.desc()).limit(1)).mappings().one()
        tasks = conn.execute(sa.select(sa.func.count()).select_from(s.tasks)).scalar()
    assert last["is_reply"] and last["conversation_id"] == rows[0][1] and tasks == 1
    assert drain(ctx).sent == 0


def test_an_html_template_goes_out_as_multipart_alternative(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure, autoreply_template="Welcome")
    mailbox_user.deliver(inquiry(3, mailbox_user, sender="o'brien@example.com"))
    MailboxRun(ctx, box).run()
    drain(ctx)
    [sent] = smtp.capture.wait_for(1)
    msg = sent["msg"]
    assert msg.get_content_type() == "multipart/alternative"
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "<b>Client Number3</b>" in html and "Client Number3" in text and "<b>" not in text


def test_the_same_sender_within_the_period_gets_no_second_reply(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure, autoreply_when="every_email")
    mailbox_user.deliver(inquiry(1, mailbox_user, sender="repeat@example.com"))
    MailboxRun(ctx, box).run()
    mailbox_user.deliver(inquiry(2, mailbox_user, sender="repeat@example.com"))
    MailboxRun(ctx, box).run()
    assert drain(ctx).sent == 1
    assert outbox_states(ctx) == ["sent"]


def test_lists_bounces_and_out_of_office_get_no_reply(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    mailbox_user.deliver_many([
        inquiry(1, mailbox_user, sender="news@lists.example.com",
                headers=[("List-Id", "<news.lists.example.com>"), ("Precedence", "list")]),
        make_message(2, to=mailbox_user.address, sender="MAILER-DAEMON@mx.example.com",
                     date=dt.datetime.now(dt.timezone.utc), extra_headers=[("Return-Path", "<>")]),
        inquiry(3, mailbox_user, sender="away@example.com",
                headers=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")]),
    ])
    report = MailboxRun(ctx, box).run()
    assert report.imported == 3 and report.outbox_ids == []
    assert drain(ctx).sent == 0 and len(smtp.capture) == 0


def test_connecting_a_mailbox_with_200_old_messages_sends_nothing(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
    mailbox_user.deliver_many(inquiry(i, mailbox_user, when=long_ago - dt.timedelta(hours=i)) for i in range(200))
    report = MailboxRun(ctx, box).run()
    assert report.imported == 200 and report.outbox_ids == []
    assert drain(ctx).sent == 0 and len(smtp.capture) == 0


def test_smtp_down_during_import_replies_wait_and_go_out_next_run(ctx, configure, mailbox_user, smtp, run_cli):
    autoreply_box(configure)
    mailbox_user.deliver_many(inquiry(i, mailbox_user) for i in range(3))
    with smtp.temporarily_down():
        down = run_cli("fetch", "--once", "--json")
    report = json.loads(down.stdout)
    assert report["mailboxes"][0]["imported"] == 3 and report["sent"] == 0
    assert outbox_states(ctx) == ["pending"] * 3
    up = json.loads(run_cli("fetch", "--once", "--json").stdout)
    assert up["sent"] == 3 and outbox_states(ctx) == ["sent"] * 3
    assert len(smtp.capture.wait_for(3)) == 3


def test_sigkill_while_sending_never_sends_a_reply_twice(ctx, configure, mailbox_user, smtp, mailroom_home,
                                                         real_keyring):
    autoreply_box(configure)
    mailbox_user.deliver_many(inquiry(i, mailbox_user) for i in range(40))
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home)}
    rng = random.Random(5)
    kills_while_sending = 0
    for _trial in range(20):
        proc = subprocess.Popen([sys.executable, "-m", "mailroom", "fetch", "--once"], env=env, cwd=REPO_ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        start = len(smtp.capture)
        while len(smtp.capture) == start and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.02))
        kills_while_sending += proc.poll() is None and len(smtp.capture) > start
        proc.kill()
        proc.wait()
    subprocess.run([sys.executable, "-m", "mailroom", "fetch", "--once"], env=env, cwd=REPO_ROOT, check=True,
                   capture_output=True, timeout=120)
    replied_to = [m["msg"]["In-Reply-To"] for m in smtp.capture]
    assert len(replied_to) == len(set(replied_to)), "an incoming message got two auto-replies"
    states = outbox_states(ctx)
    assert len(states) == 40 and set(states) <= {"sent", "uncertain"}
    # a reply cut off by a kill may or may not have reached the server: never resent
    assert states.count("sent") <= len(replied_to) <= states.count("sent") + states.count("uncertain")
    assert kills_while_sending >= 5, f"only {kills_while_sending} kills landed while sending"


def test_refusals_permanent_fail_temporary_retry_with_backoff(ctx, configure, mailbox_user, smtp):
    box = autoreply_box(configure)
    smtp.capture.refuse.update({"gone@example.com": "550 5.1.1 No such user here",
                                "busy@example.com": "451 4.3.0 Try again later"})
    mailbox_user.deliver_many([inquiry(1, mailbox_user, sender="gone@example.com"),
                               inquiry(2, mailbox_user, sender="busy@example.com")])
    MailboxRun(ctx, box).run()
    first = drain(ctx)
    assert (first.sent, first.failed, first.waiting) == (0, 1, 1)
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.select(s.outbox).order_by(s.outbox.c.id)).mappings().all()
    assert rows[0]["state"] == "failed" and "550 5.1.1 No such user here" in rows[0]["last_error"]
    assert rows[1]["state"] == "pending" and "451" in rows[1]["last_error"] and rows[1]["attempts"] == 1
    assert drain(ctx).sent == 0                                # not due yet: back-off
    del smtp.capture.refuse["busy@example.com"]
    later = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)  # noqa: E731
    assert drain(ctx, clock=later).sent == 1
    assert outbox_states(ctx) == ["failed", "sent"]


def test_a_row_left_sending_by_a_dead_sender_becomes_uncertain_and_is_never_sent(ctx, configure, mailbox_user,
                                                                                 smtp, run_cli):
    box = autoreply_box(configure)
    mailbox_user.deliver(inquiry(1, mailbox_user))
    MailboxRun(ctx, box).run()
    with ctx.engine.begin() as conn:
        conn.execute(s.outbox.update().values(state="sending"))
    assert drain(ctx).sent == 0 and len(smtp.capture) == 0
    assert outbox_states(ctx) == ["uncertain"]
    assert json.loads(run_cli("stats", "--json").stdout)["outbox"]["uncertain"] == 1


# A 20-line form letter (3 kB) and an HTML email (6 kB) with the long lines page editors write.
LETTER = {"name": "Letter", "kind": "form_letter", "subject": "Your enquiry: {{ message.subject }}",
          "body": "Dear {{ client.first_name }},\n\n" + "".join(
              f"{i}. Thank you for writing to {{{{ company.name }}}}; this paragraph explains our packages, "
              "our booking terms, the deposit and the delivery of your photographs in detail.\n"
              for i in range(1, 21)) + "\nKind regards,\n{{ company.name }}\n"}
PAGE = {"name": "Page", "kind": "html_email", "subject": "Welcome to {{ company.name }}",
        "body": "<!DOCTYPE html><html><body>" + "".join(
            f'<p style="margin:0 0 12px 0;font-family:Georgia,serif;color:#333">Section {i}: '
            "{{ company.name }} covers weddings, portraits and events, with prints, albums and "
            "online galleries for every client.</p>" for i in range(1, 33)) + "</body></html>"}


def test_long_form_letters_and_html_emails_go_out_with_crlf_and_short_lines(ctx, configure, mailbox_user, smtp):
    # RFC 5321 section 2.3.8: CRLF only. Bare LF made the whole reply one line, which
    # the server refused ("500 Line too long"); strict servers refuse bare LF outright.
    assert len(LETTER["body"]) > 3000 and len(PAGE["body"]) > 6000
    for i, template in enumerate(("Letter", "Page")):
        box = configure(templates=[LETTER, PAGE], autoreply=True, autoreply_template=template,
                        company={"name": "Lumen Photography"})
        mailbox_user.deliver(inquiry(i, mailbox_user))
        assert len(MailboxRun(ctx, box).run().outbox_ids) == 1
        result = drain(ctx)
        assert (result.sent, result.failed) == (1, 0), outbox_states(ctx)
    sent = smtp.capture.wait_for(2)
    assert [m["msg"].get_content_type() for m in sent] == ["text/plain", "multipart/alternative"]
    for message in sent:
        raw = message["raw"]
        assert len(raw) > 3000
        assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF went out"
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert "20. Thank you for writing to Lumen Photography" in sent[0]["msg"].get_content()
    assert "Section 32: Lumen Photography" in sent[1]["msg"].get_body(("html",)).get_content()
    assert outbox_states(ctx) == ["sent", "sent"]
