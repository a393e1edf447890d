"""The settings forms end to end in headless Chromium (the page on a real waitress in this
process, the real store): a department named with a non-breaking space is refused at its
field; one saved blank by an older version blocks no other save, and its warning's link
opens its form in the browser; a department named ".." opens and renames; a template
typed with the browser's CR LF is kept as LF; deleting a user that tasks use says what
happens to them. Each page is photographed (tests.web.chromium).
"""

from __future__ import annotations

from mailroom.clock import utcnow
from mailroom.settings import repo
from tests.mailgen import make_message
from tests.web.chromium import require, snap, watched_page

playwright = require()
expect = playwright.expect


def test_odd_names_in_the_browser(served, browser, shots, configure, mailbox_user):
    controller, server = served
    box = configure(create_tasks=True, task_type="Inquiry")
    base = f"http://127.0.0.1:{server.port}"
    page, errors = watched_page(browser)
    page.goto(server.login_url())

    # a name of a non-breaking space is refused at its field, and nothing is saved
    page.goto(base + "/settings/departments/new")
    page.fill("#name", "\u00a0")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#name-error")).to_contain_text("is required")
    snap(page, shots, "department-form-blank-name")
    assert [d["name"] for d in controller.settings()["departments"]] == ["Front desk"]

    # one saved blank by an older version: the next save works and links to it
    doc = controller.settings()
    doc["departments"].append({"name": ""})
    repo.save(controller.ctx.engine, doc)
    page.goto(base + "/settings/departments")
    expect(page.get_by_role("link", name="(no name: fix it)")).to_be_visible()
    snap(page, shots, "departments-with-a-blank-name")
    page.goto(base + "/company")
    page.fill("#name", "Lumen Photography Ltd")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash.ok")).to_have_text("Company saved.")
    warning = page.locator(".flash.warning")
    expect(warning).to_contain_text("Department without a name: Name is required")
    snap(page, shots, "company-saved-with-a-stored-problem")
    warning.get_by_role("link", name="Fix the department without a name").click()
    expect(page.get_by_role("heading", name="Department without a name")).to_be_visible()
    page.fill("#name", "Portraits")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash.ok")).to_have_text('Department "Portraits" saved.')

    # ".." opens, renames and deletes like any name
    page.goto(base + "/settings/departments/new")
    page.fill("#name", "..")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("link", name="..", exact=True).click()
    expect(page.locator("#name")).to_have_value("..")
    page.fill("#name", "Events")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("table.list")).to_contain_text("Events")
    snap(page, shots, "departments-after-odd-names")

    # a template typed in the browser (CR LF on the wire) is kept with LF
    page.goto(base + "/settings/templates/new")
    page.fill("#name", "Thanks")
    page.fill("#subject", "Thanks")
    body = "Dear {{ client.first_name }},\n\n{{ user.name }} will answer.\n"
    page.fill("#body", body)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash.ok")).to_have_text('Template "Thanks" saved.')
    assert controller.settings()["templates"][0]["body"] == body

    # a user that tasks use: the confirmation says how many and what happens to them
    page.goto(base + "/settings/users/new")
    page.fill("#name", "Ann Archer")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash.ok")).to_have_text('User "Ann Archer" saved.')
    controller.save_entry("mailboxes", {**controller.settings()["mailboxes"][0], "user": "Ann Archer"}, "Studio")
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, date=utcnow()) for i in range(2))   # new mail opens tasks
    controller.run_mailbox(box.id)
    controller.save_entry("mailboxes", {**controller.settings()["mailboxes"][0], "user": None,
                                        "autoreply": True, "autoreply_template": "Thanks"}, "Studio")
    page.goto(base + "/settings/users")
    page.get_by_role("link", name="Ann Archer").click()
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("main")).to_contain_text("It is used by 2 tasks; they become unassigned.")
    snap(page, shots, "user-delete-used-by-tasks")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".flash.ok")).to_have_text('User "Ann Archer" deleted.')
    # the import's warning after a save: the template's {{ user.name }} in a mailbox with no user
    page.goto(base + "/settings/templates/edit?key=Thanks")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash.warning")).to_contain_text("has no user, so it will be blank in its auto-replies")
    snap(page, shots, "template-saved-with-a-warning", narrow=True)
    assert errors == []
