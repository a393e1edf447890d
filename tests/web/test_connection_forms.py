"""The email box and outgoing forms' connection tests, through Flask's test client, on the real
store, keyring, Dovecot and SMTP server (a silent port only where a server must not answer):
a saved mailbox has its password before the worker can see it and is checked at once; a typed
password is held for the retry without being shown; Outgoing tests before it saves, marks the
field at fault and keeps the working password; tests the user waits on are short and worded
as tests; a working account sends what waited in the outbox."""

from __future__ import annotations

import html
import re

import keyring
import pytest
from keyring.backends import fail

from mailroom.controller import Controller
from mailroom.errors import MailroomError
from mailroom.secrets import mailbox_account, outgoing_account
from tests.mailgen import make_message
from tests.servers.scripted import ScriptedSmtp, closed_port, silent_port
from tests.web import mailset
from tests.web.conftest import INSTANCE_KEY, PORT, PageClient, log_in, wait_until
from tests.web.test_records import THANKS
from tests.web.test_views import field_block, form_data, top_of
from web import create_app


def unreachable_box(controller, description: str) -> dict:
    """A new email box nothing answers for (its own account: one mailbox per account)."""
    login = f"{description.lower()}@localhost"
    return {**form_data(controller.settings()["mailboxes"][0]), "description": description,
            "port": str(closed_port()), "username": login, "email": login}


def new_box(controller, dovecot_user, **changes) -> dict:
    """The form data of a new email box on `dovecot_user`, like the saved "Studio" one."""
    return {**form_data(controller.settings()["mailboxes"][0]), "description": "Front desk inbox",
            "username": dovecot_user.name, "email": dovecot_user.address, **changes}


# --- M1: a saved mailbox has its password before the worker sees it; then it is checked ---

def test_a_new_mailbox_saved_with_its_password_logs_in_at_its_first_check(page, controller, configure,
                                                                          mailbox_user):
    box = configure(poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    other = mailbox_user.dovecot.new_user("frontdesk")
    assert page.submit("/mailboxes/new", {**new_box(controller, other), "password": other.password}).status_code == 302
    new_id = controller.mailbox_id("Front desk inbox")
    wait_until(lambda: controller.status().mailbox(new_id).run_seq >= 1)
    state = controller.status().mailbox(new_id)
    assert (state.state, state.error) == ("waiting", None)


def test_a_password_the_keyring_refuses_saves_no_mailbox(controller, configure, mailbox_user):
    configure()
    other = mailbox_user.dovecot.new_user("frontdesk")
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(MailroomError):
            controller.save_mailbox(new_box(controller, other), None, other.password)
    finally:
        keyring.set_keyring(previous)
    assert controller.mailbox_id("Front desk inbox") is None        # the mailbox and its password, or neither


def test_saving_a_mailbox_checks_it_at_once(page, controller, configure, mailbox_user):
    box = configure(poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    mailbox_user.deliver(make_message(1, to=mailbox_user.address))
    entry = form_data(controller.settings()["mailboxes"][0])
    assert page.submit("/mailboxes/edit/Studio", entry).status_code == 302          # OK: tested, then saved
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 2)          # not in an hour: now
    assert "1 imported" in page.get("/").text


# --- m2: the typed password is held for the retry, never rendered ----------------------

SECRET = "typed-once-7f3a9c"


def test_save_anyway_after_a_failed_test_saves_the_password_typed_before(page, controller, configure, ctx):
    configure()
    entry = unreachable_box(controller, "Later")
    response = page.submit("/mailboxes/new", {**entry, "password": SECRET})
    assert "Save anyway" in response.text and "The password you typed is kept" in response.text
    assert SECRET not in response.text and controller.mailbox_id("Later") is None
    response = page.submit("/mailboxes/new", {**entry, "port": "1"})               # OK again, field left empty
    assert "The password you typed is kept" in response.text and SECRET not in response.text
    assert page.submit("/mailboxes/new", {**entry, "action": "save_anyway"}).status_code == 302
    assert ctx.secrets.get(mailbox_account(controller.mailbox_id("Later"))) == SECRET


def test_a_held_password_stays_with_its_form_and_its_session(app, page, controller, configure, ctx):
    configure()
    page.submit("/mailboxes/new", {**unreachable_box(controller, "One"), "password": SECRET})
    other = app.test_client()                                  # another signed-in browser
    log_in(app, other)
    two = {**unreachable_box(controller, "Two"), "action": "save_anyway"}
    assert other.submit("/mailboxes/new", two).status_code == 302
    assert not controller.has_password(controller.mailbox_id("Two"))
    response = page.submit("/outgoing", {**form_data(controller.settings()["outgoing"]), "action": "save_anyway"})
    assert response.status_code == 302 and ctx.secrets.get(outgoing_account()) == "studiopw"   # not this form's
    assert "The password you typed is kept" not in page.get("/mailboxes/new").text          # opened afresh: gone
    three = {**unreachable_box(controller, "Three"), "action": "save_anyway"}
    assert page.submit("/mailboxes/new", three).status_code == 302
    assert not controller.has_password(controller.mailbox_id("Three"))


def test_a_held_password_can_be_forgotten_and_expires(app, page, controller, configure):
    configure()
    one = unreachable_box(controller, "One")
    page.submit("/mailboxes/new", {**one, "password": SECRET})
    response = page.submit("/mailboxes/new", {**one, "action": "forget_password"})
    assert "The password you typed is kept" not in response.text
    assert page.submit("/mailboxes/new", {**one, "action": "save_anyway"}).status_code == 302
    assert not controller.has_password(controller.mailbox_id("One"))
    app.extensions["mailroom.held"].seconds = 0                  # held for no time at all
    two = unreachable_box(controller, "Two")
    page.submit("/mailboxes/new", {**two, "password": SECRET})
    assert page.submit("/mailboxes/new", {**two, "action": "save_anyway"}).status_code == 302
    assert not controller.has_password(controller.mailbox_id("Two"))


# --- M4, M6, m1: Outgoing tests before it saves; Save anyway is the second choice ------

def test_a_failed_outgoing_test_saves_nothing_and_keeps_the_working_password(page, controller, configure, ctx,
                                                                            smtp):
    configure()
    before = controller.settings()["outgoing"]
    data = {**form_data(before), "display_name": "Changed"}
    for action, result in (("test", "The test email was not sent"), ("save", "The connection test failed")):
        response = page.submit("/outgoing", {**data, "password": "wrong", "action": action})
        assert response.status_code == 200 and result in top_of(response.text)
        assert "invalid" in field_block(response.text, "password") and "Save anyway" in response.text
        assert controller.settings()["outgoing"] == before
        assert ctx.secrets.get(outgoing_account()) == "studiopw"
    assert smtp.capture.messages == []
    assert page.submit("/outgoing", {**data, "action": "save_anyway"}).status_code == 302   # explicit, held password
    assert controller.settings()["outgoing"]["display_name"] == "Changed"
    assert ctx.secrets.get(outgoing_account()) == "wrong"


def test_save_tests_the_connection_first(page, controller, configure):
    configure()
    before = controller.settings()["outgoing"]
    response = page.submit("/outgoing", {**form_data(before), "port": str(closed_port())})
    assert response.status_code == 200 and "refused the connection" in field_block(response.text, "port")
    assert controller.settings()["outgoing"] == before
    response = page.submit("/outgoing", {**form_data(before), "display_name": "Tested"}, follow_redirects=True)
    assert "Outgoing email saved." in top_of(response.text)
    assert controller.settings()["outgoing"]["display_name"] == "Tested"


@pytest.mark.parametrize("action", ["save", "save_anyway", "test"])
def test_an_empty_outgoing_form_is_not_saved(page, controller, action):
    before = controller.settings()["outgoing"]
    fields = ("host", "port", "display_name", "email", "username", "password", "ca_file", "test_to")
    response = page.submit("/outgoing", {**dict.fromkeys(fields, ""), "security": "starttls", "action": action})
    assert response.status_code == 200
    assert "Enter the name of the SMTP server" in field_block(response.text, "host")
    assert controller.settings()["outgoing"] == before


def test_save_with_a_bad_field_shows_only_the_field_error(page, controller, configure):
    configure()
    before = controller.settings()["outgoing"]
    response = page.submit("/outgoing", {**form_data(before), "port": "99999"})
    assert "1-65535" in field_block(response.text, "port")
    assert "not sent" not in response.text and "connection test failed" not in response.text
    assert controller.settings()["outgoing"] == before


# --- M5, m16: Send Test Email names the fields at fault --------------------------------

def test_send_test_email_with_bad_fields_marks_each_and_sends_nothing(page, controller, configure, smtp, tmp_path):
    configure()
    before = controller.settings()["outgoing"]
    response = page.submit("/outgoing", {**form_data(before), "email": "studio@@localhost", "port": "99999",
                                         "ca_file": str(tmp_path / "missing.pem"), "action": "test"})
    assert "email address" in field_block(response.text, "email")
    assert "1-65535" in field_block(response.text, "port")
    assert "no such file" in field_block(response.text, "ca_file")
    assert "The settings have" not in response.text
    assert smtp.capture.messages == [] and controller.settings()["outgoing"] == before


def test_the_test_goes_only_to_an_email_address(page, controller, configure, smtp):
    configure()
    before = controller.settings()["outgoing"]
    response = page.submit("/outgoing", {**form_data(before), "action": "test", "test_to": "not an address"})
    assert "not an email address" in field_block(response.text, "test_to")
    assert smtp.capture.messages == [] and controller.settings()["outgoing"] == before


# --- M12: a test the user waits on is short and worded as a test ----------------------

@pytest.fixture
def hurried(ctx):
    """A page whose connection tests give a server 1 second (the process's own timeout stays 10)."""
    controller = Controller(ctx, test_timeout=1.0)
    app = create_app(controller, config={"PORT": PORT, "INSTANCE_KEY": INSTANCE_KEY})
    app.test_client_class = PageClient
    client = app.test_client()
    log_in(app, client)
    yield controller, client
    controller.shutdown()


def test_a_silent_server_fails_a_test_at_the_test_timeout(hurried, configure):
    controller, page = hurried
    configure()
    with silent_port() as port:
        box = {**form_data(controller.settings()["mailboxes"][0]), "port": str(port), "security": "none"}
        response = page.submit("/mailboxes/edit/Studio", box)
        assert "within 1 second" in field_block(response.text, "port")
        out = {**form_data(controller.settings()["outgoing"]), "port": str(port), "action": "test"}
        response = page.submit("/outgoing", out)
        assert "within 1 second" in field_block(response.text, "port")
        assert "The test email was not sent" in top_of(response.text)


def test_a_failed_test_is_worded_for_a_test(hurried, configure):
    controller, page = hurried
    configure()
    with ScriptedSmtp(trickle={"GREETING": 0.2}) as slow:       # answers, a byte at a time
        out = {**form_data(controller.settings()["outgoing"]), "port": str(slow.port), "action": "test"}
        response = page.submit("/outgoing", out)
    top = top_of(response.text)
    assert "answers too slowly" in top and "Test again in a moment" in top
    assert "Mailroom will try again" not in response.text


# --- m14, m15: the error points at the right thing -------------------------------------

def test_an_smtp_test_against_a_pop3_port_says_who_answered(page, controller, configure, dovecot):
    configure()
    out = {**form_data(controller.settings()["outgoing"]), "port": str(dovecot.pop3_port), "action": "test"}
    response = page.submit("/outgoing", out)
    block = field_block(response.text, "port")
    assert "answered, but not as an SMTP" in block and "Nothing answers" not in response.text


def test_ssl_against_another_kind_of_server_names_it_not_starttls(page, controller, configure, dovecot, smtp):
    configure()
    out = {**form_data(controller.settings()["outgoing"]), "port": str(dovecot.pop3_port), "security": "ssl"}
    block = html.unescape(field_block(page.submit("/outgoing", out).text, "port"))
    assert 'is not an SMTP (outgoing mail) server: it answered "+OK' in block
    box = {**form_data(controller.settings()["mailboxes"][0]), "port": str(smtp.submission_port), "security": "ssl"}
    response = page.submit("/mailboxes/edit/Studio", box)
    block = html.unescape(field_block(response.text, "port"))
    assert 'is not a POP3 (incoming mail) server: it answered "220' in block
    assert "Choose STARTTLS" not in response.text


@pytest.mark.parametrize("form", ["/outgoing", "/mailboxes/edit/Studio"])
def test_a_ca_file_without_a_certificate_is_named_in_a_sentence(page, controller, configure, tmp_path, form):
    configure()
    bad = tmp_path / "not-a-certificate.pem"
    bad.write_text("this is not a certificate\n")
    section = controller.settings()["outgoing"] if form == "/outgoing" else controller.settings()["mailboxes"][0]
    response = page.submit(form, {**form_data(section), "ca_file": str(bad)})
    block = field_block(response.text, "ca_file")
    assert "does not hold a certificate" in block
    assert "_ssl.c" not in response.text and "X509" not in response.text


# --- m18: a working account sends what waited, and the dashboard leads to it ------------

def test_a_working_outgoing_account_sends_what_waited_and_clears_the_outbox_error(page, controller, configure,
                                                                                  mailbox_user, smtp):
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks")
    good = controller.settings()["outgoing"]
    controller.save_section("outgoing", dict(good, port=closed_port()))
    mailbox_user.deliver(mailset.new_client(mailbox_user.address))
    assert controller.run_mailbox(box.id).imported == 1
    controller.send_replies()
    assert "refused" in (controller.status().outbox_error or "")
    dashboard = page.get("/").text
    assert re.search(r'data-show="outbox_error"(?:(?!</p>).)*href="/outgoing"', dashboard, re.S)
    response = page.submit("/outgoing", {**form_data(good), "action": "test", "test_to": "owner@example.com"})
    assert response.status_code == 302
    wait_until(lambda: controller.status().outbox_error is None and len(smtp.capture.messages) == 2)
    assert sorted(m["rcpt_tos"][0] for m in smtp.capture.messages)[1] == "owner@example.com"
