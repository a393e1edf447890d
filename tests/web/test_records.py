"""The record pages through Flask's test client: clients, a client's timeline, addresses, merge,
unfiled mail, messages (sanitized HTML, attachments, source), tasks, search, activity, the
outbox and the quarantine, on mail imported from the real Dovecot and replies sent to the real
SMTP server."""

from __future__ import annotations

import contextlib
import html
import re

import pytest
import sqlalchemy as sa

from mailroom.fetch import MailboxRun
from mailroom.outbox import drain
from mailroom.store import schema as s
from tests.web import mailset
from tests.helpers import wait_until

THANKS = {"name": "Thanks", "kind": "form_letter", "subject": "Thank you, {{ client.first_name }}",
          "body": "Dear {{ client.first_name }},\nwe got your email and will answer soon.\n"}
REMOTE = "http://remote.test.invalid"


@pytest.fixture
def filed(ctx, controller, configure, mailbox_user, smtp):
    """The realistic set imported from Dovecot (tasks on, auto-replies on and sent), by subject."""
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks", create_tasks=True,
                    task_type="Inquiry")
    controller.save_entry("task_statuses", {"name": "Done", "final": True})
    controller.save_entry("users", {"name": "Ann Archer", "email": "ann@lumen.example", "department": "Front desk"})
    to = mailbox_user.address
    mailbox_user.deliver_many([mailset.new_client(to), mailset.reply(to), mailset.newsletter(to, REMOTE),
                               mailset.with_attachment(to)])
    report = MailboxRun(ctx, box).run()
    assert (report.error, report.imported) == (None, 4)
    drain(ctx)
    return {"box": box, "ids": message_ids(ctx)}


def message_ids(ctx) -> dict[str, int]:
    with ctx.engine.connect() as conn:
        return {subject: pk for pk, subject in conn.execute(
            sa.select(s.messages.c.id, s.messages.c.subject).where(s.messages.c.direction == "in"))}


def client_id(controller, name: str) -> int:
    return next(c.id for c in controller.records.clients(name).items if c.name == name)


def table_of(response) -> str:
    """The text of the page's list (without the flash messages and filters above it)."""
    found = re.search(r"<table.*?</table>", response.text, re.S)
    return text_of_html(found.group()) if found else ""


def text_of_html(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def text_of(response) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded, spaces folded)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


# --- clients ---------------------------------------------------------------------------

def test_the_client_list_counts_and_finds_by_name_or_address(page, filed):
    rows = text_of(page.get("/clients"))
    assert "Ava Martin ava.martin@example.com 3 1" in rows          # two in, one auto-reply out; one task
    assert "Noah Nguyen noah.nguyen@example.org 2 1" in rows
    assert "Studio Supplies" not in rows                            # a newsletter makes no client: unfiled
    found = text_of(page.get("/clients?q=NGUYEN"))
    assert "Noah Nguyen" in found and "Ava Martin" not in found
    found = text_of(page.get("/clients?q=example.org"))
    assert "Noah Nguyen" in found and "Ava" not in found
    assert "No client's name or address contains “nobody”" in text_of(page.get("/clients?q=nobody"))


def test_a_client_page_shows_mail_replies_and_tasks_newest_first(page, controller, filed):
    ava = client_id(controller, "Ava Martin")
    response = page.get(f"/clients/{ava}")
    text = text_of(response)
    assert "ava.martin@example.com" in text
    entries = re.findall(r'<li class="entry entry-(\w+)', response.text)
    assert sorted(entries) == ["in", "in", "out", "task"]
    times = [e.at for e in controller.records.timeline(ava).items]
    assert times == sorted(times, reverse=True)
    assert "Auto-reply sent" in text and "Thank you, Ava" in text        # the reply that went out, and its state
    assert "Wedding photography on 14 June" in text and "Re: Wedding photography on 14 June" in text


def test_addresses_are_added_checked_and_removed(page, controller, filed):
    ava = client_id(controller, "Ava Martin")
    page.submit(f"/clients/{ava}/addresses", {"email": " Ava@Work.Example "})
    assert controller.records.client(ava).emails == ("ava.martin@example.com", "ava@work.example")
    response = page.submit(f"/clients/{ava}/addresses", {"email": "not an address"}, follow_redirects=True)
    assert "must be an email address" in response.text
    response = page.submit(f"/clients/{ava}/addresses", {"email": "noah.nguyen@example.org"}, follow_redirects=True)
    assert "Other clients have this address too (Noah Nguyen)" in html.unescape(response.text)
    page.submit(f"/clients/{ava}/addresses/remove", {"email": "ava@work.example"})
    page.submit(f"/clients/{ava}/addresses/remove", {"email": "noah.nguyen@example.org"})
    assert controller.records.client(ava).emails == ("ava.martin@example.com",)


def test_merging_moves_addresses_messages_and_tasks_and_removes_the_other(page, controller, filed):
    ava, noah = client_id(controller, "Ava Martin"), client_id(controller, "Noah Nguyen")
    choose = text_of(page.get(f"/clients/{ava}/merge?q=nguyen"))
    assert "Merge into Ava Martin" in choose
    confirm = text_of(page.get(f"/clients/{ava}/merge?other={noah}"))
    assert "Merge “Noah Nguyen” into “Ava Martin”?" in confirm and "noah.nguyen@example.org" in confirm
    assert page.submit(f"/clients/{ava}/merge", {"client": str(noah)}).status_code == 302
    merged = controller.records.client(ava)
    assert (merged.emails, merged.messages, merged.open_tasks) == (
        ("ava.martin@example.com", "noah.nguyen@example.org"), 5, 2)
    assert page.get(f"/clients/{noah}").status_code == 404
    assert "no client number" in page.get(f"/clients/{noah}").text


def test_a_merge_that_fails_halfway_changes_nothing(page, controller, filed, ctx):
    ava, noah = client_id(controller, "Ava Martin"), client_id(controller, "Noah Nguyen")
    with ctx.engine.begin() as conn:     # the last step of a merge (removing the other client) fails
        conn.exec_driver_sql("CREATE TRIGGER no_delete BEFORE DELETE ON clients BEGIN "
                             "SELECT RAISE(ABORT, 'refused by the test'); END")
    with pytest.raises(sa.exc.IntegrityError):
        controller.records.merge_clients(ava, noah)
    assert controller.records.client(noah).messages == 2 and controller.records.client(ava).messages == 3
    assert controller.records.client(noah).emails == ("noah.nguyen@example.org",)


def test_unfiled_mail_is_attached_or_made_a_new_client(page, controller, ctx, configure, mailbox_user):
    box = configure(company={"unknown_sender": "leave_unmatched"}, create_tasks=True, task_type="Inquiry")
    to = mailbox_user.address
    mailbox_user.deliver_many([mailset.new_client(to), mailset.with_attachment(to)])
    MailboxRun(ctx, box).run()
    ids = message_ids(ctx)
    ava_msg, noah_msg = ids["Wedding photography on 14 June"], ids["Signed contract for the portrait session"]
    text = text_of(page.get("/clients/unfiled"))
    assert "Wedding photography on 14 June" in text and "Not a client yet" in text
    assert page.get(f"/messages/{ava_msg}/file").status_code == 200
    response = page.submit(f"/messages/{ava_msg}/file", {"action": "new", "name": "Ava Martin"})
    ava = int(response.headers["Location"].rsplit("/", 1)[1])
    assert controller.records.client(ava).emails == ("ava.martin@example.com",)
    assert controller.records.tasks().items[-1].client_id == ava        # the task it opened is hers too
    assert "Ava Martin" in text_of(page.get(f"/messages/{noah_msg}/file?q=ava"))
    page.submit(f"/messages/{noah_msg}/file", {"action": "attach", "client": str(ava)})
    assert controller.records.client(ava).emails == ("ava.martin@example.com", "noah.nguyen@example.org")
    assert controller.records.client(ava).messages == 2
    assert "Nothing to file" in text_of(page.get("/clients/unfiled"))


def test_mail_from_an_address_several_clients_share_is_listed_as_ambiguous(page, controller, ctx, filed,
                                                                           mailbox_user):
    ava, noah = client_id(controller, "Ava Martin"), client_id(controller, "Noah Nguyen")
    controller.records.add_client_email(noah, "ava.martin@example.com")
    mailbox_user.deliver(mailset.reply(mailbox_user.address).replace(b"<second.ava@", b"<third.ava@"))
    assert MailboxRun(ctx, filed["box"]).run().imported == 1
    text = text_of(page.get("/clients/unfiled"))
    assert "Several clients have this address: Ava Martin, Noah Nguyen" in text
    [pk] = [m.pk for m in controller.records.unfiled().items if m.ambiguous]
    assert "one of several clients with this address" in text_of(page.get(f"/messages/{pk}"))
    page.submit(f"/messages/{pk}/file", {"action": "attach", "client": str(ava)})
    assert [m.from_addr for m in controller.records.unfiled().items] == ["news@supplies.example"]   # the newsletter
    assert controller.records.client(noah).emails == ("noah.nguyen@example.org", "ava.martin@example.com")


# --- messages --------------------------------------------------------------------------

def test_a_message_shows_its_headers_text_and_html_in_a_sandboxed_frame(page, filed, mailbox_user):
    pk = filed["ids"]["Spring offers: lenses and backdrops"]
    response = page.get(f"/messages/{pk}")
    text = text_of(response)
    for words in ("From Studio Supplies <news@supplies.example>", f"To {mailbox_user.address}", "Email box Studio",
                  "2 remote images are blocked", "Plain text",
                  "Spring offers: 20% off lenses"):
        assert words in text, words
    [frame] = re.findall(r"<iframe [^>]*>", response.text)
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    assert f'src="/messages/{pk}/frame"' in frame
    body = page.get(f"/messages/{pk}/frame")
    csp = body.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src data:;" in csp and "sandbox" in csp
    assert "frame-ancestors 'self'" in csp and body.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert 'src="data:image/png;base64,' in body.text                 # the cid: logo, from the stored message
    assert REMOTE not in body.text and "Spring offers" in body.text
    shown = page.get(f"/messages/{pk}/frame?images=1")
    assert "img-src data: http: https:" in shown.headers["Content-Security-Policy"]
    assert f'src="{REMOTE}/banner.jpg"' in shown.text
    assert "shown for this message" in text_of(page.get(f"/messages/{pk}?images=1"))
    assert 'src="/messages/%d/frame?images=1"' % pk in page.get(f"/messages/{pk}?images=1").text


def test_hostile_html_loses_everything_that_could_run_or_load(page, ctx, configure, mailbox_user):
    box = configure()
    mailbox_user.deliver(mailset.hostile(mailbox_user.address, REMOTE))
    MailboxRun(ctx, box).run()
    [pk] = message_ids(ctx).values()
    body = page.get(f"/messages/{pk}/frame").text.lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "<form", "<input", "<meta http-equiv", "url(",
                "<link", "<iframe", "<object", "<svg", "poster", REMOTE, "alert("):
        assert bad not in body.replace('<meta charset="utf-8">', ""), bad
    assert "congratulations!" in body and "click to claim" in body


def test_an_attachment_downloads_from_the_stored_message_under_a_safe_name(page, filed):
    pk = filed["ids"]["Signed contract for the portrait session"]
    assert "Contract (signed).pdf application/pdf" in text_of(page.get(f"/messages/{pk}"))
    response = page.get(f"/messages/{pk}/attachments/1")
    assert response.data == mailset.PDF
    assert response.headers["Content-Type"] == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "Contract (signed).pdf" in disposition
    assert "/" not in disposition and ".." not in disposition
    assert page.get(f"/messages/{pk}/attachments/2").status_code == 404
    assert page.get("/messages/999999/attachments/1").status_code == 404


def test_view_source_is_the_raw_message_as_text(page, filed):
    pk = filed["ids"]["Signed contract for the portrait session"]
    response = page.get(f"/messages/{pk}/source")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Message-ID: <contract.noah@example.org>" in response.text
    assert "Content-Disposition: attachment" in response.text


# --- tasks -----------------------------------------------------------------------------

def test_tasks_are_filtered_and_closed_with_a_final_status(page, controller, filed):
    text = text_of(page.get("/tasks"))
    assert "Wedding photography on 14 June" in text and "Signed contract for the portrait session" in text
    [ava_task, noah_task] = sorted(controller.records.tasks().items, key=lambda t: t.id)
    assert f'href="/messages/{ava_task.message_pk}"' in page.get("/tasks").text
    assert f'href="/clients/{ava_task.client_id}"' in page.get("/tasks").text
    response = page.submit(f"/tasks/{ava_task.id}", {"status": "Done", "user": "Ann Archer", "back": "/tasks"})
    assert response.headers["Location"] == "/tasks"
    done = controller.records.task(ava_task.id)
    assert (done.status, done.closed, done.user, done.department) == ("Done", True, "Ann Archer", "Front desk")
    assert "Wedding photography" not in table_of(page.get("/tasks"))          # open only, by default
    assert "Wedding photography" in table_of(page.get("/tasks?state=closed"))
    assert "Signed contract" not in table_of(page.get("/tasks?state=closed"))
    assert "Wedding photography" in table_of(page.get("/tasks?state=all&user=Ann+Archer"))
    assert "Signed contract" not in table_of(page.get("/tasks?state=all&user=Ann+Archer"))
    assert "Wedding photography" in text_of(page.get("/tasks?state=all&department=Front+desk&status=Done&type=Inquiry"))
    assert "No tasks match" in text_of(page.get("/tasks?state=all&type=Nothing"))
    response = page.submit(f"/tasks/{noah_task.id}", {"status": "Nope", "back": "//evil.example/"},
                           follow_redirects=False)
    assert response.headers["Location"] == "/tasks"                          # never another site
    assert '"Nope" is not a status' in html.unescape(page.get("/tasks").text)
    assert controller.records.task(noah_task.id).status == "New"


# --- search ----------------------------------------------------------------------------

def test_search_finds_clients_messages_and_tasks_with_the_words_marked(page, filed):
    response = page.get("/search?q=rehearsal")
    assert "<mark>rehearsal</mark>" in response.text
    assert "Re: Wedding photography on 14 June" in text_of(response)
    text = text_of(page.get("/search?q=nguyen"))
    assert "Noah Nguyen" in text and "Signed contract for the portrait session" in text
    response = page.get("/search?q=contract")
    assert response.text.count("<mark>contract</mark>") >= 2                 # the message, and the task
    assert "<mark>" not in page.get("/search?q=zebra").text
    assert "No message has these words" in text_of(page.get("/search?q=zebra"))


def test_search_marks_but_escapes_what_mail_wrote(page, ctx, configure, mailbox_user):
    from tests.mailgen import make_message

    box = configure()
    mailbox_user.deliver(make_message(1, to=mailbox_user.address, subject='<b onmouseover="x()">Lens</b> offer',
                                      body="Our <script>lens</script> offer for you."))
    MailboxRun(ctx, box).run()
    response = page.get("/search?q=lens")
    assert "&lt;b onmouseover=&#34;x()&#34;&gt;<mark>Lens</mark>&lt;/b&gt;" in response.text
    assert "&lt;script&gt;<mark>lens</mark>&lt;/script&gt;" in response.text
    assert "<script>" not in response.text and "<b " not in response.text


def test_search_ranks_a_subject_above_a_mention_in_a_body(page, ctx, configure, mailbox_user, controller):
    from tests.mailgen import make_message

    box = configure()
    mailbox_user.deliver_many([
        make_message(1, to=mailbox_user.address, subject="Question", body="By the way, what about albums?"),
        make_message(2, to=mailbox_user.address, subject="Albums for the wedding", body="Hello."),
    ])
    MailboxRun(ctx, box).run()
    results = controller.records.search("albums")
    assert results.full_text is True
    assert ["".join(t for t, _ in hit.title) for hit in results.messages] == ["Albums for the wedding", "Question"]


# --- activity, outbox, quarantine ------------------------------------------------------

def test_activity_lists_each_check_and_charts_the_imports_per_day(page, filed):
    response = page.get("/activity")
    text = text_of(response)
    assert "Studio" in text and "4 in 30 days" in text
    assert re.search(r"Studio \d", text)
    assert response.text.count('<rect class="bar"') == 30
    assert re.search(r"<title>\d+ \w+: 4 imported</title>", response.text)
    assert "<svg" in response.text
    assert '<td class="num" data-label="Imported">4</td>' in response.text


def test_every_outgoing_mail_and_send_again_after_saying_it_may_arrive_twice(page, controller, ctx, configure,
                                                                             mailbox_user, smtp):
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks")
    smtp.capture.refuse["ava.martin@example.com"] = "550 5.1.1 No such user here"
    mailbox_user.deliver(mailset.new_client(mailbox_user.address))
    MailboxRun(ctx, box).run()
    assert drain(ctx).failed == 1
    [failed] = controller.records.outgoing(problems_only=True).items
    assert "550 5.1.1 No such user here" in text_of(page.get("/outbox"))
    assert "could not be sent" in text_of(page.get("/activity/sent"))
    confirm = text_of(page.get(f"/outbox/{failed.id}/send-again"))
    assert "It may arrive twice" in confirm and "Send again, it may arrive twice" in confirm
    assert controller.records.outgoing_mail(failed.id).state == "failed"        # asking changed nothing
    del smtp.capture.refuse["ava.martin@example.com"]
    assert page.submit(f"/outbox/{failed.id}/send-again").status_code == 302
    [sent] = smtp.capture.wait_for(1)
    assert sent["rcpt_tos"] == ["ava.martin@example.com"]
    wait_until(lambda: controller.records.outgoing_mail(failed.id).state == "sent")
    assert "Every auto-reply went out" in text_of(page.get("/outbox"))
    assert page.submit(f"/outbox/{failed.id}/send-again", follow_redirects=True).status_code == 200
    assert len(smtp.capture.messages) == 1                                      # not again once sent


@contextlib.contextmanager
def parser_bug():
    """While inside: the parser raises on the malformed message (a bug of the code of then)."""
    from mailroom.mail import parse   # parsing loads parse_message from here when it is used

    real = parse.parse_message

    def buggy(data, *args, **kwargs):
        if b"broken-merge.example" in data:
            raise RecursionError("simulated parser bug")
        return real(data, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse, "parse_message", buggy)
        yield


def test_a_quarantined_message_is_tried_again_and_imported_once(page, controller, ctx, configure, mailbox_user):
    box = configure(create_tasks=True, task_type="Inquiry")
    raw = mailset.malformed(mailbox_user.address)
    mailbox_user.deliver(raw)
    with parser_bug():
        report = MailboxRun(ctx, box).run()
        assert (report.error, report.quarantined) == (None, 1)
        [held] = controller.records.quarantine().items
        assert "simulated parser bug" in text_of(page.get("/quarantine"))
        detail = page.get(f"/quarantine/{held.id}")
        assert "Message-ID: &lt;broken.1@broken-merge.example&gt;" in detail.text and "Try again" in detail.text
        download = page.get(f"/quarantine/{held.id}/download")
        assert download.data == raw and download.headers["Content-Disposition"].startswith("attachment;")
        response = page.submit(f"/quarantine/{held.id}/retry", follow_redirects=True)     # the bug is still there
        assert "It still cannot be imported: parser failure: RecursionError" in text_of(response)
        assert message_ids(ctx) == {}
    response = page.submit(f"/quarantine/{held.id}/retry")
    pk = int(response.headers["Location"].rsplit("/", 1)[1])
    assert "Your booking is confirmed." in text_of(page.get(f"/messages/{pk}"))
    assert page.submit(f"/quarantine/{held.id}/retry").status_code == 302          # a second press
    assert list(message_ids(ctx).values()) == [pk]                                  # imported exactly once
    assert len(controller.records.tasks().items) == 1
    assert controller.records.quarantine().items == ()
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.select(s.seen_uids.c.state, s.seen_uids.c.message_pk)).all() == [("imported", pk)]
    again = MailboxRun(ctx, box).run()
    assert (again.new, again.imported) == (0, 0)


def test_a_message_left_on_the_server_is_fetched_again_and_one_dismissed_is_not(page, controller, ctx, configure,
                                                                                mailbox_user):
    from tests.mailgen import make_message

    box = configure(max_message_mb=1)
    mailbox_user.deliver_many([make_message(1, to=mailbox_user.address, attachment_kb=1500),
                               make_message(2, to=mailbox_user.address, attachment_kb=1500)])
    assert MailboxRun(ctx, box).run().too_large == 2
    first, second = sorted(controller.records.quarantine().items, key=lambda h: h.id)
    assert first.headers_only and "its headers (still on the server)" in text_of(page.get("/quarantine"))
    assert "Download it again at the next check" in page.get(f"/quarantine/{first.id}").text
    page.submit(f"/quarantine/{first.id}/retry")
    page.submit(f"/quarantine/{second.id}/dismiss")
    assert controller.records.quarantine().items == ()
    controller.save_entry("mailboxes", {**controller.settings()["mailboxes"][0], "max_message_mb": 5}, "Studio")
    again = MailboxRun(ctx, controller.mailbox("Studio")).run()
    assert (again.new, again.imported) == (1, 1)                                    # the dismissed one stays seen


# --- paging and the pages' hygiene -----------------------------------------------------

def test_lists_page_by_keyset_without_repeating_or_skipping(page, controller, ctx):
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    with ctx.engine.begin() as conn:
        conn.execute(s.clients.insert(), [{"id": i, "name": f"Client {i % 7}", "created_at": now}
                                          for i in range(1, 131)])
        conn.execute(s.messages.insert(), [{"direction": "in", "client_id": 1, "message_id": f"m{i}@x",
                                            "subject": f"S{i}", "raw_sha256": f"{i:064x}",
                                            "date": now - dt.timedelta(minutes=i % 3), "created_at": now}
                                           for i in range(120)])
    seen, after, pages = [], None, 0
    while True:
        result = controller.records.clients(after=after, limit=50)
        seen += [c.id for c in result.items]
        pages += 1
        if result.next is None:
            break
        after = result.next
    assert (pages, sorted(seen), len(seen)) == (3, list(range(1, 131)), 130)
    names = [(c.name.lower(), c.id) for c in controller.records.clients(limit=200).items]
    assert names == sorted(names)
    entries, after = [], None
    while True:
        result = controller.records.timeline(1, after=after, limit=25)
        entries += [e.id for e in result.items]
        if result.next is None:
            break
        after = result.next
    assert sorted(entries) == sorted(set(entries)) and len(entries) == 120
    response = page.get("/clients")
    assert re.search(r'href="/clients\?after=[\w-]+"', response.text)
    bad = page.get("/clients?after=not-a-cursor")
    assert bad.status_code == 400 and "is not one Mailroom made" in bad.text


RECORD_PAGES = ("/clients", "/clients/unfiled", "/tasks", "/search?q=wedding", "/activity", "/activity/sent",
                "/outbox", "/quarantine")


def test_the_record_pages_use_our_stylesheet_and_script_only_and_nothing_inline(page, filed, controller):
    ava = client_id(controller, "Ava Martin")
    pk = filed["ids"]["Spring offers: lenses and backdrops"]
    for path in (*RECORD_PAGES, f"/clients/{ava}", f"/clients/{ava}/merge?q=a", f"/messages/{pk}",
                 f"/messages/{pk}/file"):
        response = page.get(path)
        assert response.status_code == 200, path
        text = response.text
        assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', text) == ["/static/style.css"], path
        assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/app.js" defer>'], path
        assert " style=" not in text and "<style" not in text, path
        assert not re.search(r"<[^>]+\son\w+=", text) and "javascript:" not in text, path
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'"), path


@pytest.mark.parametrize("path, current", [
    ("/clients", "Clients"), ("/tasks", "Tasks"), ("/activity", "Activity"), ("/quarantine", "Activity"),
    ("/clients/unfiled", "Clients"),
])
def test_the_navigation_marks_the_record_page_shown(page, path, current):
    assert re.findall(r'aria-current="page">([^<]+)</a>', page.get(path).text)[:1] == [current]


def test_empty_record_pages_say_what_fills_them(page):
    assert "No clients yet" in text_of(page.get("/clients"))
    assert "No open tasks" in text_of(page.get("/tasks"))
    assert "No checks yet" in text_of(page.get("/activity"))
    assert "Nothing is held back" in text_of(page.get("/quarantine"))
    assert "Type a name" in text_of(page.get("/search"))
    assert page.get("/messages/1").status_code == 404 and page.get("/clients/1").status_code == 404
