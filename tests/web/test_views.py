"""The pages through Flask's test client, on a real store, keyring, Dovecot and SMTP server."""

from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser

import keyring
import pytest
from keyring.backends import fail

from tests.helpers import wait_until
from tests.web.conftest import log_in
from tests.mailgen import make_message

FORM_PAGES = {"company": "/company", "outgoing": "/outgoing", "mailboxes": "/mailboxes/new",
              "departments": "/settings/departments/new", "users": "/settings/users/new",
              "task_types": "/settings/task_types/new", "task_statuses": "/settings/task_statuses/new",
              "templates": "/settings/templates/new"}


class Controls(HTMLParser):
    """The form controls of a page and the labels that name them."""

    def __init__(self, text: str):
        super().__init__()
        self.controls: dict[str, dict] = {}
        self.labels: set[str] = set()
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls[a.get("id", "")] = a


def form_data(entry: dict) -> dict:
    """A saved entry as the browser would post its form (checkboxes "y" when ticked)."""
    out = {}
    for key, value in entry.items():
        if value is True:
            out[key] = "y"
        elif value in (None, False):
            continue
        elif isinstance(value, list):
            out[key] = ", ".join(value)
        else:
            out[key] = str(value)
    return out


def top_of(text: str) -> str:
    """What the page shows above its settings form (where a test's result belongs)."""
    return text[text.index('<main id="main">'):text.index('<form method="post" class="settings"')]


def field_block(text: str, name: str) -> str:
    """The markup of one field's block (label, input, help, error)."""
    start = text.index(f'id="{name}-field"')
    return text[start:text.index("</div>", start)]


def test_every_field_of_every_section_is_rendered_with_its_label_and_help(page, controller):
    for spec in controller.setting_sections():
        text = page.get(FORM_PAGES[spec.name]).text
        controls = Controls(text)
        for f in spec.fields:
            assert f.name in controls.controls, (spec.name, f.name)
            assert f.name in controls.labels, (spec.name, f.name)
            assert f.page_help in html.unescape(text), (spec.name, f.name)     # the settings table's page words
            assert f">{f.label}</label>" in html.unescape(text), (spec.name, f.name)
            assert f'aria-describedby="{f.name}-help' in text
        unlabelled = [i for i in controls.controls if i not in controls.labels]
        assert unlabelled == [], (spec.name, unlabelled)


def test_the_seed_labels_are_used(page):
    outgoing = page.get("/outgoing").text
    for words in ("SMTP Server Name", "Display Name", "Email Address", "Logon Name", "Logon Password",
                  "Security", "SMTP Port", "Send Test Email", "SSL/TLS", "STARTTLS"):
        assert words in outgoing, words
    box = page.get("/mailboxes/new").text
    for words in ("Description", "Leave email on server", "Assigned to Department", "Assigned to User",
                  "Auto-create a task for each new conversation", "Task Type", "Task Status", "Send auto-reply email",
                  "Form Letter / HTML Email", "When to send the auto-reply", "Exclude Emails Before", "Connector",
                  "POP3", "Mail Server", "Domain", "User Name", "Password", "Port Number", "Gmail", "Outlook.com",
                  "Microsoft 365", "Yahoo", "iCloud"):
        assert words in box, words


def test_the_first_start_welcomes_and_leads_to_the_two_steps(page, controller):
    text = page.get("/").text
    assert "Welcome to Mailroom" in text and 'href="/outgoing"' in text and 'href="/mailboxes/new"' in text


def test_outgoing_password_is_write_only_kept_when_empty_and_cleared_apart(page, controller, configure):
    configure()
    controller.clear_password("outgoing")
    data = form_data(controller.settings()["outgoing"])
    assert page.submit("/outgoing", {**data, "password": "studiopw"}).status_code == 302   # tested, then saved
    text = page.get("/outgoing").text
    assert "A password is saved." in text and "studiopw" not in text
    assert 'id="password"' in text and not re.search(r'<input[^>]*id="password"[^>]*value="[^"]', text)
    assert page.submit("/outgoing", {**data, "display_name": "Renamed"}).status_code == 302   # empty: kept
    assert controller.has_password("outgoing")
    assert controller.settings()["outgoing"]["display_name"] == "Renamed"
    assert page.submit("/outgoing", {**data, "action": "clear_password"}).status_code == 302
    assert not controller.has_password("outgoing")
    assert "No password saved yet." in page.get("/outgoing").text


def test_without_a_keyring_the_page_says_so_where_the_password_goes_and_stores_nothing(page, controller, configure):
    configure()
    data = form_data(controller.settings()["outgoing"])
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        text = page.get("/outgoing").text
        block = field_block(text, "password")
        assert "No password store (keyring) is available" in block and "disabled" in block
        response = page.submit("/outgoing", {**data, "password": "would-be-lost"})
        assert "No password store (keyring) is available" in field_block(response.text, "password")
    finally:
        keyring.set_keyring(previous)


def test_send_test_email_shows_the_result_at_the_top(page, controller, configure, smtp):
    configure()
    data = form_data(controller.settings()["outgoing"])
    response = page.submit("/outgoing", {**data, "action": "test", "test_to": "ann@example.com"},
                           follow_redirects=True)
    flashed = top_of(response.text)
    assert 'class="flash ok"' in flashed and "A test email was sent to ann@example.com" in flashed
    assert len(smtp.capture.messages) == 1
    response = page.submit("/outgoing", {**data, "action": "test", "password": "wrong"})
    top = top_of(response.text)
    assert 'id="test-result"' in top and "The test email was not sent" in top
    assert 'role="alert"' in field_block(response.text, "password")          # the field to fix is marked
    assert len(smtp.capture.messages) == 1


def test_a_new_mailbox_ok_tests_first_and_names_the_field(page, controller, configure, mailbox_user, certs):
    configure()
    other = mailbox_user.dovecot.new_user("frontdesk")                    # one mailbox per account
    entry = dict(form_data(controller.settings()["mailboxes"][0]), description="Front desk inbox",
                 username=other.name, email=other.address)
    response = page.submit("/mailboxes/new", {**entry, "password": "wrong"})
    assert response.status_code == 200
    block = field_block(response.text, "password")
    assert "invalid" in block and 'role="alert"' in block and 'aria-describedby="password-help password-state password-error"' in block
    assert "Save anyway" in response.text
    assert controller.mailbox_id("Front desk inbox") is None                 # nothing saved
    response = page.submit("/mailboxes/new", {**entry, "password": other.password})
    assert response.status_code == 302
    mailbox_id = controller.mailbox_id("Front desk inbox")
    assert mailbox_id is not None and controller.has_password(mailbox_id)
    assert "works: 0 messages" in page.get("/mailboxes").text


def test_save_anyway_is_an_explicit_second_choice(page, controller, configure):
    configure()
    entry = dict(form_data(controller.settings()["mailboxes"][0]), description="Later", port="1",
                 username="later@localhost", email="later@localhost")
    response = page.submit("/mailboxes/new", {**entry, "password": "x"})
    assert "Save anyway" in response.text and controller.mailbox_id("Later") is None
    assert page.submit("/mailboxes/new", {**entry, "action": "save_anyway"}).status_code == 302
    assert controller.mailbox_id("Later") is not None


def test_assigned_user_outside_the_department_is_refused_on_save(page, controller, configure):
    configure()
    page.submit("/settings/departments/new", {"name": "Weddings"})
    page.submit("/settings/users/new", {"name": "Ann", "email": "ann@example.com", "department": "Weddings"})
    entry = dict(form_data(controller.settings()["mailboxes"][0]), department="Front desk", user="Ann")
    response = page.submit("/mailboxes/edit/Studio", {**entry, "action": "save_anyway"})
    assert "not in department" in field_block(response.text, "user")
    assert 'data-parent="Weddings"' in page.get("/mailboxes/edit/Studio").text     # the script narrows the list


def test_a_preset_fills_the_server_without_javascript(page):
    response = page.submit("/mailboxes/new", {"provider": "gmail", "action": "preset"})
    text = response.text
    assert 'value="pop.gmail.com"' in text and 'value="995"' in text
    assert re.search(r'<option selected value="ssl">|<option value="ssl" selected', text)
    gmail = text[text.index('id="gmail-help"'):]
    assert "2-Step Verification" in gmail and "app password" in gmail and "Enable POP" in gmail
    assert 'id="gmail-help" data-preset-note="gmail" hidden' not in text


def test_deleting_a_mailbox_asks_keeps_mail_and_removes_the_password(page, controller, configure):
    box = configure()
    text = page.get("/mailboxes/delete/Studio").text
    assert "is kept" in text and "removed from the system keyring" in text
    assert controller.mailbox_id("Studio") is not None
    assert page.submit("/mailboxes/delete/Studio").status_code == 302
    assert controller.mailbox_id("Studio") is None and not controller.has_password(box.id)


def test_renaming_follows_and_deleting_a_used_entry_is_refused(page, controller, configure):
    configure(department="Front desk")
    assert page.submit("/settings/departments/edit/Front desk", {"name": "Reception"}).status_code == 302
    assert controller.settings()["mailboxes"][0]["department"] == "Reception"
    text = html.unescape(page.get("/settings/departments/delete/Reception").text)
    assert 'mailbox "Studio" (department)' in text and "cannot be deleted" in text
    page.submit("/settings/departments/delete/Reception")
    assert [d["name"] for d in controller.settings()["departments"]] == ["Reception"]


def test_a_template_that_does_not_compile_cannot_be_saved(page, controller):
    bad = {"name": "Thanks", "kind": "form_letter", "subject": "Thanks", "body": "Dear {{ client.first_name }},\n{% if %}"}
    response = page.submit("/settings/templates/new", bad)
    assert response.status_code == 200 and controller.settings()["templates"] == []
    assert "line 2" in field_block(response.text, "body")
    good = dict(bad, body="Dear {{ client.first_name }},\nthanks.")
    preview = page.submit("/settings/templates/new", {**good, "action": "preview"}).text
    assert "Dear Jane," in preview and controller.settings()["templates"] == []
    assert page.submit("/settings/templates/new", good).status_code == 302
    assert [t["name"] for t in controller.settings()["templates"]] == ["Thanks"]


def test_the_live_preview_renders_in_the_sandbox(page):
    token = page.csrf()
    response = page.post("/settings/templates/preview", headers={"X-CSRFToken": token},
                         json={"kind": "html_email", "subject": "Hi {{ client.first_name }}",
                               "body": "<p>{{ message.subject }}</p>"})
    assert response.get_json() == {"subject": "Hi Jane", "html": "<p>Wedding photos in June</p>",
                                   "text": response.get_json()["text"], "problems": []}
    response = page.post("/settings/templates/preview", headers={"X-CSRFToken": token},
                         json={"kind": "form_letter", "subject": "x", "body": "{{ ''.__class__ }}"})
    assert response.get_json()["problems"]


def test_company_saves_and_reports_a_bad_time_zone_at_its_field(page, controller):
    response = page.submit("/company", {"name": "Lumen", "timezone": "Mars/Olympus", "unknown_sender": "create",
                                        "autoreply_rate_limit_days": "7"})
    assert "time zone" in field_block(response.text, "timezone")
    assert page.submit("/company", {"name": "Lumen", "timezone": "Europe/London", "unknown_sender": "create",
                                    "autoreply_rate_limit_days": "7"}).status_code == 302
    assert controller.settings()["company"]["name"] == "Lumen"


def test_check_now_pause_and_the_status_feed(page, controller, configure, mailbox_user):
    box = configure(poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(2))
    assert page.submit(f"/check/{box.id}").status_code == 302
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 2)
    feed = page.get("/status.json").get_json()
    [row] = feed["mailboxes"]
    assert row["counts"].startswith("2 imported") and row["state"] == "waiting" and row["next_run"].startswith("in ")
    assert "2 imported" in page.get("/").text
    assert page.submit("/pause", {"minutes": "30"}).status_code == 302
    status = controller.status()
    assert status.paused and dt.timedelta(minutes=29) < status.paused_until - dt.datetime.now(dt.timezone.utc)
    assert "Checks paused until" in page.get("/").text and page.get("/status.json").get_json()["paused"]
    page.submit("/resume")
    assert not controller.status().paused
    assert controller.status().unread == 2
    assert page.submit("/acknowledge").status_code == 204 and controller.status().unread == 0


def test_opening_the_page_clears_the_new_mail_count(app, client, controller, configure, mailbox_user):
    box = configure(poll_minutes=60)
    mailbox_user.deliver(make_message(1, to=mailbox_user.address))
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    assert controller.status().unread == 1
    log_in(app, client)                                   # the tray's Open, or `mailroom open`
    assert controller.status().unread == 0


def test_an_unknown_entry_is_not_found(page):
    assert page.get("/settings/departments/edit/Nobody").status_code == 404
    assert page.get("/settings/nothing").status_code == 404
    assert page.get("/mailboxes/edit/Nobody").status_code == 404


@pytest.mark.parametrize("path", list(FORM_PAGES.values()) + ["/", "/mailboxes", "/settings/users"])
def test_every_page_has_one_stylesheet_and_our_own_script_only(page, path):
    text = page.get(path).text
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', text) == ["/static/style.css"]
    assert re.findall(r'<script src="([^"]+)"', text) == ["/static/app.js"]
    assert "http://" not in text.replace("http://127.0.0.1", "") and "https://" not in text


@pytest.mark.parametrize("path, current", [
    ("/", "Dashboard"), ("/mailboxes/new", "Email boxes"), ("/outgoing", "Outgoing email"), ("/company", "Company"),
    ("/settings/templates/new", "Templates"), ("/settings/task_statuses", "Task statuses"),
])
def test_the_navigation_marks_exactly_the_page_shown(page, path, current):
    marked = re.findall(r'aria-current="page">([^<]+)</a>', page.get(path).text)
    assert marked == [current]
