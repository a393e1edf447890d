"""The page's words end to end in headless Chromium, on a real waitress in this process, the
real Dovecot and SMTP server: a problem's Fix link leads to the field to fix, the warnings
the page's script shows and hides (Leave email on server unticked, a Microsoft preset), the
paused dashboard, and signing out. Every state is photographed (tests.web.chromium)."""

from __future__ import annotations

from tests.web import mailset
from tests.web.chromium import require, snap, watched_page
from tests.web.conftest import wait_until
from tests.web.test_records import THANKS

playwright = require()
expect = playwright.expect


def test_problems_lead_to_their_fields_and_the_warnings_show_as_they_apply(served, browser, shots, configure,
                                                                           mailbox_user):
    controller, server = served
    base = f"http://127.0.0.1:{server.port}"
    page, errors = watched_page(browser)
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks", poll_minutes=60)
    mailbox_user.deliver(mailset.new_client(mailbox_user.address))
    assert controller.run_mailbox(box.id).imported == 1
    controller.save_section("outgoing", {})
    controller.send_replies()
    controller.clear_password(box.id)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).state == "error")

    page.goto(server.login_url())
    expect(page.locator("#no-outgoing")).to_contain_text("no outgoing email account is set up")
    row = page.locator(f'tr[data-mailbox="{box.id}"]')
    expect(row).to_contain_text("No password is saved")
    snap(page, shots, "words-dashboard-problems", narrow=True)
    row.get_by_role("link", name="Fix Studio").click()
    assert page.url == base + "/mailboxes/edit?key=Studio#password-field"
    expect(page.locator("#autoreply-needs-outgoing")).to_be_visible()

    # unticking Leave email on server says what it does, at once
    warning = page.locator("#leave-on-server-warning")
    expect(warning).to_be_hidden()
    page.uncheck("#leave_on_server")
    expect(warning).to_be_visible()
    # a Microsoft preset says why it cannot work, and fills in nothing
    page.select_option("#provider", "microsoft365")
    expect(page.locator('[data-preset-note="microsoft365"]')).to_be_visible()
    expect(page.locator("#host")).to_have_value("127.0.0.1")
    snap(page, shots, "words-mailbox-warnings", narrow=True)
    page.check("#leave_on_server")
    expect(warning).to_be_hidden()

    page.goto(base + "/outgoing")
    page.select_option("#provider", "gmail")
    expect(page.locator("#gmail-help")).to_be_visible()
    expect(page.locator("#gmail-help")).to_contain_text("administrator can turn app passwords off")
    snap(page, shots, "words-outgoing-gmail")

    page.goto(base + "/")
    page.select_option("#minutes", "")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash.ok")).to_have_text("Checks paused until you resume.")
    expect(row.locator('[data-bind="state_text"]')).to_have_text("Paused")
    expect(row.locator('[data-bind="next_run"]')).to_have_text("—")
    expect(page.locator('[data-bind="overall_text"]')).to_have_text("Something needs you")   # replies can't go out
    snap(page, shots, "words-dashboard-paused")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    snap(page, shots, "words-signed-out")
    assert errors == []
    page.goto(base + "/")                                       # refused (a 403 the console notes)
    expect(page.get_by_role("heading", name="Open Mailroom with a fresh login link")).to_be_visible()
