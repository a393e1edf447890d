"""The connection tests of the Outgoing and email box forms in headless Chromium, against the
real SMTP server and Dovecot (a silent port where a server must not answer): "Testing…" shows
while a test runs, its result is in view when the page comes back, and a password typed before
a failed test is kept for Save anyway. The page is served by a real waitress in this process,
with tests that give a server 2 seconds. Screenshots: tests.web.chromium.
"""

from __future__ import annotations

from tests.servers.scripted import closed_port, silent_port
from tests.web import mailset
from tests.web.chromium import require, snap, watched_page
from tests.web.test_records import THANKS

playwright = require()
expect = playwright.expect
CONTROLLER_OPTIONS = {"test_timeout": 2.0}     # for `served`: a silent server fails its test quickly


def test_a_test_says_it_is_running_and_its_result_is_in_view(served, browser, shots, configure, smtp, mailbox_user):
    controller, server = served
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks")
    good = controller.settings()["outgoing"]
    base = f"http://127.0.0.1:{server.port}"
    page, errors = watched_page(browser)
    page.goto(server.login_url())

    # an auto-reply waits for an outgoing server that refuses: the dashboard leads to Outgoing email
    controller.save_section("outgoing", dict(good, port=closed_port()))
    mailbox_user.deliver(mailset.new_client(mailbox_user.address))
    assert controller.run_mailbox(box.id).imported == 1
    controller.send_replies()
    page.goto(base + "/")
    expect(page.locator('[data-bind="outbox_error"]')).to_contain_text("refused the connection")
    snap(page, shots, "dashboard-outbox-error")
    page.get_by_role("link", name="Outgoing email settings").click()

    # Send Test Email to a server that never answers: "Sending…" by the button, then the result on top
    expect(page.get_by_role("heading", name="Outgoing email")).to_be_visible()
    with silent_port() as port:
        page.fill("#port", str(port))
        page.fill("#test_to", "owner@example.com")
        # What the page shows while the answer is awaited, noted by the page itself in storage that
        # outlives it (Playwright's locators and screenshots wait for the navigation the click starts).
        page.evaluate("""() => { const s = document.querySelector("[data-busy-status]");
            new MutationObserver(() => { const r = s.getBoundingClientRect();
                sessionStorage.setItem("busy", JSON.stringify([s.hidden, s.textContent,
                    r.top >= 0 && r.bottom <= window.innerHeight])); }).observe(s, {attributes: true}); }""")
        page.get_by_role("button", name="Send Test Email").click(no_wait_after=True)
        result = page.locator("#test-result")
        expect(result).to_contain_text("The test email was not sent", timeout=30_000)
    assert page.evaluate("""() => JSON.parse(sessionStorage.getItem("busy"))""") == [
        False, "Sending the test email…", True]
    expect(result).to_contain_text("did not answer within 2 seconds")
    expect(result).to_be_in_viewport()
    expect(page.locator("#port-error")).to_contain_text("did not answer")
    expect(page.get_by_role("button", name="Save anyway")).to_be_visible()
    snap(page, shots, "outgoing-test-failed")

    # the right port: the test goes out, the settings are saved, and the page says so at the top
    page.fill("#port", str(smtp.submission_port))
    page.get_by_role("button", name="Send Test Email").click()
    done = page.locator(".flash.ok")
    expect(done).to_contain_text("A test email was sent to owner@example.com")
    expect(done).to_contain_text("Outgoing email saved.")
    expect(done).to_be_in_viewport()
    assert smtp.capture.wait_for(1)[0]["rcpt_tos"] == ["owner@example.com"]
    snap(page, shots, "outgoing-test-sent")
    smtp.capture.wait_for(2)                                           # the auto-reply that waited
    page.goto(base + "/")
    expect(page.locator('[data-bind="outbox_error"]')).to_be_hidden()

    # a new email box whose server refuses: the typed password is kept (not shown) for Save anyway
    page.goto(base + "/mailboxes/new")
    other = mailbox_user.dovecot.new_user("frontdesk")
    page.fill("#description", "Front desk")
    page.fill("#host", "127.0.0.1")
    page.fill("#port", str(closed_port()))
    page.select_option("#security", "ssl")
    page.fill("#email", other.address)
    page.fill("#username", other.name)
    page.fill("#password", other.password)
    page.get_by_role("button", name="OK", exact=True).click()
    expect(page.locator("#check-result")).to_contain_text("The connection test failed")
    expect(page.locator("#check-result")).to_be_in_viewport()
    expect(page.locator("#password-state")).to_contain_text("The password you typed is kept")
    expect(page.locator("#password")).to_have_value("")
    snap(page, shots, "mailbox-form-password-kept")
    page.get_by_role("button", name="Save anyway").click()
    expect(page.locator(".flash.ok")).to_contain_text('Email box "Front desk" saved.')
    assert controller.has_password(controller.mailbox_id("Front desk"))
    assert errors == []
