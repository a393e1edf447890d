"""The record pages end to end in headless Chromium, against the real Dovecot and SMTP server:
the page served by a real waitress in this process with the worker running (so a parser bug
can be simulated for one message and then fixed), mail imported from Dovecot.

1. A small realistic set (a new client, their reply, an HTML newsletter with remote and inline
   images, an attachment, the same client from a second address, a malformed message): find
   the client with the header's search, open the message, download the attachment, close the
   task, merge the two clients, try the quarantined message again.
2. A hostile HTML email (script, onerror, javascript: links, remote images, CSS url(), meta
   refresh, a form): nothing runs and no request reaches the stand-in for the remote host, a
   local HTTP server that counts what it gets, until "Show images" (which it then sees).

Every page is photographed, empty and filled (tests.web.chromium).
"""

from __future__ import annotations

import http.server
import threading

import pytest

from mailroom.fetch import MailboxRun
from tests.web import mailset
from tests.web.chromium import require, snap, watched_page
from tests.helpers import wait_until
from tests.web.test_records import THANKS, parser_bug

playwright = require()
expect = playwright.expect


class Remote(http.server.ThreadingHTTPServer):
    """Stands in for the web servers hostile and bulk mail point at: counts every request."""

    def __init__(self):
        self.requests: list[str] = []
        remote = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                remote.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(mailset.PNG)))
                self.end_headers()
                self.wfile.write(mailset.PNG)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def remote():
    server = Remote()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def chromium_page(browser):
    return watched_page(browser, accept_downloads=True, ignore=("Content Security Policy",))


def test_a_user_finds_reads_files_and_closes_client_mail(served, browser, shots, configure, mailbox_user, smtp,
                                                          remote, tmp_path):
    controller, server = served
    box = configure(templates=[THANKS], autoreply=True, autoreply_template="Thanks", create_tasks=True,
                    task_type="Inquiry", poll_minutes=60)
    controller.save_entry("task_statuses", {"name": "Done", "final": True})
    base = f"http://127.0.0.1:{server.port}"
    page, errors = chromium_page(browser)
    page.goto(server.login_url())
    for name, path in (("clients-empty", "/clients"), ("tasks-empty", "/tasks"), ("activity-empty", "/activity"),
                       ("sent-empty", "/activity/sent"), ("outbox-empty", "/outbox"),
                       ("quarantine-empty", "/quarantine"), ("unfiled-empty", "/clients/unfiled"),
                       ("search-empty", "/search?q=wedding")):
        page.goto(base + path)
        snap(page, shots, name, narrow=name == "clients-empty")

    to = mailbox_user.address
    second = mailset.new_client(to).replace(b"ava.martin@example.com", b"ava@studio-work.example").replace(
        b"<first.ava@example.com>", b"<other.ava@studio-work.example>").replace(
        b"Wedding photography on 14 June", b"Our wedding album")
    mailbox_user.deliver_many([mailset.new_client(to), mailset.reply(to), mailset.newsletter(to, remote.url),
                               mailset.with_attachment(to), second, mailset.malformed(to)])
    with parser_bug():                           # the malformed message meets a bug of the code of then
        controller.start()
        wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1, timeout=60)
    assert controller.status().quarantined == 1
    wait_until(lambda: len(smtp.capture.messages) == 3)        # the auto-replies (not to the newsletter)

    # find the client with the header's search box
    page.goto(base + "/")
    page.fill("#site-search", "Martin")
    page.keyboard.press("Enter")
    expect(page.locator("#found-clients + ul.hits")).to_contain_text("Ava Martin")
    expect(page.locator("mark").first).to_have_text("Martin")
    snap(page, shots, "search-filled", narrow=True)
    page.get_by_role("link", name="Ava Martin").first.click()
    expect(page.get_by_role("heading", name="Ava Martin", level=1)).to_be_visible()
    expect(page.locator(".timeline .entry")).to_have_count(4)                 # two in, one reply out, one task
    expect(page.locator(".timeline")).to_contain_text("Auto-reply sent")
    snap(page, shots, "client-filled", narrow=True)

    # open the message
    page.locator(".entry-in").get_by_role("link", name="Wedding photography on 14 June", exact=True).click()
    expect(page.locator(".mail-text")).to_contain_text("we are getting married on 14 June")
    expect(page.locator(".headers")).to_contain_text("ava.martin@example.com")
    snap(page, shots, "message-text")

    # the newsletter: inline logo shown, remote images blocked until asked for
    page.goto(base + "/search?q=spring")
    page.get_by_role("link", name="Spring offers: lenses and backdrops").click()
    frame = page.frame_locator("iframe.mail-frame")
    expect(frame.get_by_role("heading", name="Spring offers")).to_be_visible()
    expect(frame.locator('img[alt="Studio Supplies"]')).to_have_js_property("naturalWidth", 1)   # the cid: image
    expect(page.locator(".images-note")).to_contain_text("2 remote images are blocked")
    snap(page, shots, "message-html")
    assert remote.requests == []

    # the attachment downloads under its own name, with the stored bytes
    page.goto(base + "/search?q=contract")
    page.locator("#found-messages + ul.hits a").first.click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Contract (signed).pdf").click()
    assert download.value.suggested_filename == "Contract (signed).pdf"
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == mailset.PDF
    snap(page, shots, "message-attachment")

    # close Ava's task
    page.get_by_role("link", name="Tasks", exact=True).click()
    row = page.locator("tr", has_text="Wedding photography on 14 June")
    snap(page, shots, "tasks-filled", narrow=True)
    row.get_by_label("Status of").select_option("Done")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.ok")).to_contain_text("(closed)")
    expect(page.locator("tbody tr", has_text="Wedding photography on 14 June")).to_have_count(0)
    page.select_option("#f-state", "closed")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("tbody")).to_contain_text("Wedding photography on 14 June")

    # merge the second Ava into the first
    ava = next(c.id for c in controller.records.clients("ava.martin").items)
    page.goto(f"{base}/clients/{ava}")
    page.get_by_role("link", name="Merge with another client…").click()
    page.fill("#q", "studio-work")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Merge Ava Martin into Ava Martin").click()
    expect(page.locator(".merge-confirm")).to_contain_text("ava@studio-work.example")
    snap(page, shots, "merge-confirm")
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.locator(".flash.ok")).to_contain_text("Merged")
    expect(page.locator(".addresses")).to_contain_text("ava@studio-work.example")
    expect(page.locator(".timeline")).to_contain_text("Our wedding album")

    # the quarantined message: its reason and text, then try again with the bug fixed
    page.get_by_role("link", name="Activity", exact=True).click()
    expect(page.locator(".chart")).to_contain_text("5 in 30 days")
    snap(page, shots, "activity-filled", narrow=True)
    page.get_by_role("link", name="Outgoing mail").click()
    expect(page.locator("tbody")).to_contain_text("sent")
    snap(page, shots, "sent-filled")
    page.get_by_role("link", name="Quarantine").click()
    expect(page.locator("tbody")).to_contain_text("simulated parser bug")
    snap(page, shots, "quarantine-filled")
    page.locator("tbody a").first.click()
    expect(page.locator("pre.raw")).to_contain_text("Message-ID: <broken.1@broken-merge.example>")
    snap(page, shots, "held-message")
    page.get_by_role("button", name="Try again").click()
    expect(page.locator(".flash.ok")).to_have_text("Imported.")
    expect(page.locator(".mail-text")).to_contain_text("Your booking is confirmed.")
    assert controller.status().quarantined == 0
    page.goto(base + "/clients")
    snap(page, shots, "clients-filled")
    assert errors == []


def test_hostile_mail_runs_nothing_and_loads_nothing_until_images_are_shown(served, browser, shots, ctx, configure,
                                                                            mailbox_user, remote):
    controller, server = served
    box = configure()
    mailbox_user.deliver(mailset.hostile(mailbox_user.address, remote.url))
    assert MailboxRun(ctx, box).run().imported == 1
    [message] = controller.records.search("prize").messages
    page, errors = chromium_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server.login_url())
    page.goto(f"http://127.0.0.1:{server.port}/messages/{message.id}")
    frame = page.frame_locator("iframe.mail-frame")
    expect(frame.get_by_text("Congratulations!")).to_be_visible()
    page.wait_for_load_state("networkidle")
    frame.get_by_text("Click to claim").click()                     # its javascript: URL is gone
    expect(frame.locator("script, form, input, iframe, object, svg, meta[http-equiv], link")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert page.title() != "pwned" and page.frames[1].url.endswith(f"/messages/{message.id}/frame")
    assert (remote.requests, dialogs) == ([], [])
    snap(page, shots, "message-hostile")

    page.get_by_role("link", name="Show images").click()
    expect(frame.get_by_text("Congratulations!")).to_be_visible()
    wait_until(lambda: remote.requests == ["/remote-image.png"])       # the one remote image, nothing else
    page.wait_for_load_state("networkidle")
    assert (remote.requests, dialogs) == (["/remote-image.png"], [])
    snap(page, shots, "message-hostile-images-shown")
    assert errors == []
