"""End to end in headless Chromium (Playwright driving the system's /usr/bin/chromium) against
the real `mailroom --headless` process, Dovecot and the SMTP server: log in through the printed
URL, set up outgoing email (Send Test Email), a Gmail-preset email box with a wrong and then the
right password, Check now on the dashboard. Every page is photographed, empty and filled, at
1280x800, and the dashboard and email box form also at 420 px wide; the folder is printed
($MAILROOM_SCREENSHOTS, or a temporary folder).

With CI=true a missing Chromium or Playwright fails the run (tests/conftest.py turns skips
into failures); elsewhere these tests are skipped.
"""

from __future__ import annotations

import pytest

from tests.mailgen import make_message
from tests.test_app import Headless
from tests.web.chromium import require, snap, watched_page

playwright = require()


@pytest.fixture
def app(real_keyring, mailroom_home):
    running = Headless({**real_keyring, "MAILROOM_HOME": str(mailroom_home)})
    yield running
    out, err = running.stop()
    assert running.proc.returncode == 0, err
    assert "Traceback" not in err


def test_a_user_sets_up_mailroom_in_the_browser(app, browser, shots, dovecot, mailbox_user, smtp, certs):
    expect = playwright.expect
    base = f"http://127.0.0.1:{app.port}"
    page, errors = watched_page(browser)

    # log in through the printed one-time URL: it leaves the address bar
    page.goto(app.url)
    assert page.url == base + "/"
    expect(page.get_by_role("heading", name="Welcome to Mailroom")).to_be_visible()
    snap(page, shots, "dashboard-empty", narrow=True)
    for name, path in (("mailboxes-empty", "/mailboxes"), ("mailbox-form-empty", "/mailboxes/new"),
                       ("outgoing-empty", "/outgoing"), ("templates-empty", "/settings/templates"),
                       ("template-form-empty", "/settings/templates/new"), ("users-empty", "/settings/users"),
                       ("departments-empty", "/settings/departments"), ("task-types-empty", "/settings/task_types"),
                       ("task-statuses-empty", "/settings/task_statuses"), ("company-empty", "/company")):
        page.goto(base + path)
        snap(page, shots, name, narrow=name == "mailbox-form-empty")

    # outgoing email: the preset fills in, then the test servers; Send Test Email reaches the SMTP server
    page.goto(base + "/outgoing")
    page.select_option("#provider", "gmail")
    expect(page.locator("#host")).to_have_value("smtp.gmail.com")
    page.fill("#host", "127.0.0.1")
    page.fill("#port", str(smtp.submission_port))
    page.select_option("#security", "starttls")
    page.fill("#display_name", "Lumen Photography")
    page.fill("#email", "studio@localhost")
    page.fill("#username", "studio@localhost")
    page.fill("#password", "studiopw")
    page.fill("#ca_file", str(certs.ca_crt))
    page.fill("#test_to", "owner@example.com")
    page.get_by_role("button", name="Send Test Email").click()
    expect(page.locator(".flash.ok")).to_contain_text("A test email was sent to owner@example.com")
    assert smtp.capture.wait_for(1)[0]["rcpt_tos"] == ["owner@example.com"]
    expect(page.locator("#password-state")).to_contain_text("A password is saved.")
    snap(page, shots, "outgoing-filled")

    # the lists the email box refers to, and a template with its live preview
    for section, values in (("departments", {"#name": "Weddings"}), ("departments", {"#name": "Portraits"}),
                            ("users", {"#name": "Bo Berg", "#email": "bo@lumen.example"}),
                            ("task_types", {"#name": "Inquiry"}),
                            ("task_statuses", {"#name": "New"})):
        page.goto(f"{base}/settings/{section}/new")
        for selector, value in values.items():
            page.fill(selector, value)
        if section == "users":
            page.select_option("#department", "Portraits")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".flash.ok")).to_contain_text("saved")
    page.goto(base + "/settings/users/new")
    page.fill("#name", "Ann Archer")
    page.fill("#email", "ann@lumen.example")
    page.select_option("#department", "Weddings")
    snap(page, shots, "user-form-filled")
    page.get_by_role("button", name="Save", exact=True).click()
    page.goto(base + "/settings/templates/new")
    page.fill("#name", "Thanks")
    page.fill("#subject", "Thank you, {{ client.first_name }}")
    page.fill("#body", "Dear {{ client.first_name }},\nthank you for your email about {{ message.subject }}.\n{% if %}")
    expect(page.locator("#preview-problems")).to_contain_text("line 3")
    page.fill("#body", "Dear {{ client.first_name }},\nthank you for your email about {{ message.subject }}.\n")
    expect(page.locator("#preview-text")).to_contain_text("Dear Jane,")
    expect(page.locator("#preview-subject")).to_have_text("Thank you, Jane")
    snap(page, shots, "template-form-filled")
    page.get_by_role("button", name="Save", exact=True).click()
    page.goto(base + "/company")
    page.fill("#name", "Lumen Photography")
    page.fill("#business_hours", "Mon-Fri 09:00-17:00")
    page.fill("#timezone", "Europe/London")
    page.get_by_role("button", name="Save", exact=True).click()
    snap(page, shots, "company-filled")
    for name, path in (("templates-filled", "/settings/templates"), ("users-filled", "/settings/users"),
                       ("departments-filled", "/settings/departments"),
                       ("task-statuses-filled", "/settings/task_statuses")):
        page.goto(base + path)
        snap(page, shots, name)

    # a new email box with the Gmail preset, pointed at the test Dovecot
    page.goto(base + "/mailboxes")
    page.get_by_role("link", name="New", exact=True).click()
    page.fill("#description", "Studio")
    page.select_option("#provider", "gmail")
    expect(page.locator("#host")).to_have_value("pop.gmail.com")
    expect(page.locator("#port")).to_have_value("995")
    expect(page.locator("#gmail-help")).to_be_visible()
    expect(page.locator("#gmail-help")).to_contain_text("app password")
    expect(page.locator('#user option[value="Bo Berg"]')).to_be_enabled()
    page.select_option("#department", "Weddings")                  # Assigned to User follows it
    expect(page.locator('#user option[value="Bo Berg"]')).to_be_disabled()
    page.select_option("#user", "Ann Archer")
    page.check("#create_tasks")
    page.select_option("#task_type", "Inquiry")
    snap(page, shots, "mailbox-form-gmail")
    page.fill("#host", "127.0.0.1")
    page.fill("#port", str(dovecot.pop3s_port))
    page.fill("#email", mailbox_user.address)
    page.fill("#username", mailbox_user.name)
    page.fill("#ca_file", str(certs.ca_crt))
    page.fill("#password", "wrong-password")
    page.get_by_role("button", name="OK", exact=True).click()
    error = page.locator("#password-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("password")
    expect(error.get_by_role("link", name="How to set up Gmail")).to_be_visible()
    assert "password-error" in page.locator("#password").get_attribute("aria-describedby")
    expect(page.get_by_role("button", name="Save anyway")).to_be_visible()
    snap(page, shots, "mailbox-form-wrong-password", narrow=True)
    page.fill("#password", mailbox_user.password)
    page.get_by_role("button", name="OK", exact=True).click()
    expect(page.locator(".flash.ok")).to_contain_text('Email box "Studio" saved.')
    snap(page, shots, "mailboxes-filled")

    # the dashboard: the first run, then Check now imports what arrived, shown without a reload
    page.get_by_role("link", name="Dashboard").click()
    row = page.locator("tr[data-mailbox]")
    expect(row.locator('[data-bind="last_run"]')).not_to_have_text("not yet", timeout=30_000)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(3))
    row.get_by_role("button", name="Check Studio now").click()
    expect(row.locator('[data-bind="counts"]')).to_contain_text("3 imported", timeout=30_000)
    expect(row.locator('[data-bind="state_text"]')).to_have_text("Waiting")
    snap(page, shots, "dashboard-filled", narrow=True)
    page.goto(base + "/mailboxes/edit/Studio")
    expect(page.locator("#password-state")).to_contain_text("A password is saved.")
    snap(page, shots, "mailbox-form-filled", narrow=True)
    assert errors == []
