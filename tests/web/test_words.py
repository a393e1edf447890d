"""The page speaks to a person, not a terminal: it links to its own forms where the command
line names a command, words settings in its own labels, says honestly what a provider
allows, and lets its user sign out. Through Flask's test client, on a real store, keyring,
Dovecot and SMTP server."""

from __future__ import annotations

import html
import re
import ssl

from mailroom.model import Endpoint
from mailroom.rules.diagnose import auth_error, tls_error
from tests.mailgen import make_message
from tests.web import mailset
from tests.web.conftest import BASE, INSTANCE_KEY, PORT, PageClient, log_in, wait_until
from tests.web.test_records import THANKS
from tests.web.test_views import form_data
from web import create_app, mint_login_url

# What a command line or a settings file would say: never on the page.
TERMINAL_WORDS = re.compile(r"mailroom (password|config|check|open|fetch|mailbox|test-email)|settings file"
                            r"|config import|\[outgoing\]", re.I)
# The settings file's values and keys, where the page has words of its own.
JARGON = ('"starttls"', '"ssl"', '"none"', "new_conversation", "new_client", "every_email", "form_letter",
          "html_email", "leave_unmatched", "Max message mb", "max_message_mb", "RFC 8601", "authserv",
          "Authserv", "ca_file", "the password in the keyring")


def visible(text: str) -> str:
    """A page's text as a reader sees it: no tags, no attribute values, no script."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def assert_no_terminal_words(page: PageClient, text: str, where: str) -> None:
    found = TERMINAL_WORDS.search(visible(text))
    assert found is None, (where, found and found.group())


def test_problems_link_to_the_pages_own_forms_never_to_a_command_or_the_settings_file(page, controller, configure,
                                                                                      mailbox_user):
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks", poll_minutes=60)
    mailbox_user.deliver(mailset.new_client(mailbox_user.address))
    assert controller.run_mailbox(box.id).imported == 1                  # its auto-reply waits in the outbox
    controller.save_section("outgoing", {})                               # then the outgoing account goes
    controller.send_replies()
    controller.clear_password(box.id)                                    # and the mailbox's password
    assert controller.run_mailbox(box.id).error.startswith("No password is saved")

    dashboard = page.get("/").text
    assert_no_terminal_words(page, dashboard, "dashboard")
    assert "No outgoing (SMTP) server is set up" in dashboard
    outbox_problem = dashboard[dashboard.index("No outgoing (SMTP) server"):]
    assert re.match(r'[^<]*</span>\s*<a href="/outgoing">', outbox_problem)     # the way to fix it, on the page
    assert 'href="/mailboxes/edit?key=Studio#password-field"' in dashboard         # the row's Fix
    assert 'id="no-outgoing"' in dashboard and "Set up outgoing email" in dashboard

    listing = page.get("/mailboxes").text
    assert_no_terminal_words(page, listing, "mailboxes")
    assert 'id="no-outgoing"' in listing and 'href="/outgoing"' in listing

    form = page.get("/mailboxes/edit/Studio").text
    assert_no_terminal_words(page, form, "mailbox form")
    assert 'id="autoreply-needs-outgoing"' in form
    data = form_data(controller.settings()["mailboxes"][0])
    tested = page.submit("/mailboxes/edit/Studio", {**data, "action": "ok"}).text      # OK tests: no password
    assert_no_terminal_words(page, tested, "mailbox form, tested")
    assert 'No password is saved for mailbox "Studio".' in html.unescape(tested)

    outgoing = page.submit("/outgoing", {"action": "test", "security": "starttls"}).text
    assert_no_terminal_words(page, outgoing, "outgoing, tested")
    assert "Enter the name of the SMTP server" in outgoing              # at its field: nothing is tried


def test_a_fix_is_a_link_to_the_field_on_its_form(app):
    from mailroom.errors import Fix
    from web.render import fix_text, fix_url

    with app.test_request_context():
        assert fix_url(Fix("outgoing", "host")) == "/outgoing#host-field"
        assert fix_url(Fix("mailboxes", "password", "Front desk")) == "/mailboxes/edit?key=Front+desk#password-field"
        assert fix_url(Fix("mailboxes")) == "/mailboxes/new"
        assert fix_url(Fix("templates", "body", "Thanks")) == "/settings/templates/edit?key=Thanks#body-field"   # any name has an address
        assert (fix_text(Fix("outgoing", "host")), fix_text(Fix("mailboxes", "password", "Sales"))) == \
            ("Set up outgoing email", "Save the password")


def test_the_command_line_still_words_the_fix_as_a_command(run_cli):
    result = run_cli("test-email", "--to", "ann@example.com")
    assert result.returncode == 1
    assert "No outgoing (SMTP) server is set up" in result.stderr and "mailroom config import --help" in result.stderr


def test_the_dashboard_links_to_what_mailroom_held_could_not_send_and_each_boxs_checks(page, controller, configure,
                                                                                       mailbox_user):
    box = configure(poll_minutes=60)
    mailbox_user.deliver(make_message(1, to=mailbox_user.address))
    controller.run_mailbox(box.id)
    text = page.get("/").text
    held = text[text.index("Held back"):]
    assert re.match(r'Held back \(unreadable or too large\)</dt><dd><a href="/quarantine"', held)
    assert f'href="/activity?mailbox={box.id}"' in text and "1 imported" in text
    assert '<a href="/outbox">See which</a>' in text


def test_a_too_large_message_is_held_once_after_a_reset_and_named_alike(page, controller, configure, mailbox_user):
    box = configure(max_message_mb=1, poll_minutes=60)
    mailbox_user.deliver(make_message(1, to=mailbox_user.address, attachment_kb=1500))
    assert controller.run_mailbox(box.id).too_large == 1
    assert controller.forget_seen(box.id) >= 1                         # `mailroom mailbox reset`
    assert controller.run_mailbox(box.id).too_large == 1               # met again...
    assert controller.status().quarantined == 1                       # ...and held once
    text = visible(page.get("/").text)
    assert re.search(r"Held back \(unreadable or too large\)\s+1\b", text)
    assert "1 too large (left on the server)" in text
    reason = visible(page.get("/quarantine").text)
    assert "max_message_mb" not in reason and "largest message size" in reason


def test_outlook_and_microsoft_365_say_password_sign_in_is_off_and_fill_in_nothing(page):
    for path, which in (("/mailboxes/new", "pop3"), ("/outgoing", "smtp")):
        text = html.unescape(page.get(path).text)
        for name in ("Outlook.com", "Microsoft 365"):
            assert f"{name} accepts no password for POP or SMTP any more" in text and "(OAuth)" in text
        filled = page.submit(path, {"action": "preset", "provider": "outlook", "host": ""}).text
        assert 'id="host" name="host" type="text" value=""' in filled, which   # no server that cannot work
        assert re.search(r'data-preset-note="outlook"(?! hidden)[^>]*>', filled)


def test_the_forms_use_the_pages_words_for_settings(page):
    pages = ("/company", "/outgoing", "/mailboxes/new", "/settings/templates/new", "/settings/users/new",
             "/settings/task_statuses/new")
    for path in pages:
        text = visible(page.get(path).text)
        assert not [j for j in JARGON if j in text], path
    box = page.get("/mailboxes/new").text
    block = box[box.index('id="create_tasks-field"'):]
    block = visible(block[:block.index("</div>")])
    assert "Auto-create a task for each new conversation" in block and "task for each email" not in block
    # the errors a form shows speak the same words (a certificate not trusted, a rejected login)
    server = Endpoint("pop3", "mail.example.com", 995, "ssl", username="ann")
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "self-signed certificate"
    for exc in (tls_error(server, untrusted), auth_error(server, "-ERR no")):
        assert not [j for j in JARGON if j in exc.message], exc.message


def test_gmail_notes_on_both_forms_and_a_clear_warning_when_mail_is_deleted(page, controller, configure):
    outgoing = html.unescape(page.submit("/outgoing", {"action": "preset", "provider": "gmail"}).text)
    assert 'id="gmail-help" data-preset-note="gmail">' in outgoing
    assert "app password" in outgoing and "Workspace" in outgoing and "smtp.gmail.com" in outgoing
    assert "Enable POP" not in outgoing                                     # POP is the email box's business
    box = html.unescape(page.submit("/mailboxes/new", {"action": "preset", "provider": "gmail",
                                                       "leave_on_server": "y"}).text)
    for words in ("Enable POP for all mail", "from now on", "When messages are accessed with POP",
                  "the administrator can turn app passwords off"):
        assert words in box, words
    assert re.search(r'id="leave-on-server-warning"[^>]* hidden', box)      # ticked: no warning
    configure(leave_on_server=False)
    saved_off = page.get("/mailboxes/edit/Studio").text
    warning = re.search(r'<p[^>]*id="leave-on-server-warning"[^>]*>(.*?)</p>', saved_off, re.S)
    assert warning and " hidden" not in warning.group(0).split(">")[0]
    assert "deletes from the server each message it has imported" in visible(warning.group(1))


def test_pause_words_and_state(page, controller, configure):
    controller.start()
    empty = page.get("/").text
    assert 'action="/pause"' not in empty                                  # nothing to pause yet
    box = configure(poll_minutes=60)
    controller.clear_password(box.id)
    controller.check_now(box.id)
    wait_until(lambda: controller.status().mailbox(box.id).state == "error")
    listing = page.get("/mailboxes").text
    row = listing[listing.index('href="/mailboxes/edit?key=Studio"'):]
    row = row[:row.index("</tr>")]
    assert ">Problem <a class=\"fix\" href=\"/mailboxes/edit?key=Studio#password-field\"" in row   # as the dashboard
    response = page.submit("/pause", {"minutes": ""})
    assert response.status_code == 302
    text = page.get("/").text
    assert "Checks paused until you resume." in text and "until I resume" not in text
    feed = page.get("/status.json").get_json()
    [row] = feed["mailboxes"]
    assert (row["state_text"], row["next_run"], feed["overall"]) == ("Paused", "—", "paused")
    assert row["error"].startswith("No password is saved")               # the problem stays, to fix meanwhile
    assert "Something needs you" not in text


def test_the_refused_page_fits_how_mailroom_runs(app, client, controller):
    expired = client.get(mint_login_url(app, seconds=-1).removeprefix(BASE)).text
    words = visible(expired)
    assert "mailroom open" in words and "tray" not in words                # headless: no tray to click
    assert "within a minute" not in words and "printed at start-up" not in words
    with_tray = create_app(controller, config={"PORT": PORT, "INSTANCE_KEY": INSTANCE_KEY, "OPEN_PAGE": print})
    with_tray.test_client_class = PageClient
    text = visible(with_tray.test_client().get("/").text)
    assert "Open Mailroom from its tray icon" in text and "Click the Mailroom icon in the tray" in text


def test_signing_out_ends_the_session_and_no_session_survives_a_restart(app, client, controller):
    log_in(app, client)
    assert client.post("/logout").status_code == 400                        # CSRF, as every POST
    assert client.get("/").status_code == 200
    out = client.submit("/logout")
    assert out.status_code == 200 and "Signed out" in out.text
    assert client.get("/").status_code == 403
    log_in(app, client)
    cookie = client.get_cookie(f"mailroom-{controller.install_id}", domain="127.0.0.1")
    restarted = create_app(controller, config={"PORT": PORT, "INSTANCE_KEY": INSTANCE_KEY})
    restarted.test_client_class = PageClient
    later = restarted.test_client()
    later.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert later.get("/").status_code == 403                                 # the old cookie is worthless now
    assert client.get("/").status_code == 200                                # (it still works where it was made)
