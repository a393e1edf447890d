"""The settings forms on the page (Flask's test client, real store and keyring): names of
spaces, odd names in addresses, duplicates by capitals, a bad entry saved by an older
version, what a deletion does to tasks, and the import's warnings after a save."""

from __future__ import annotations

import html
import re
import tomllib

import pytest

from mailroom.clock import utcnow
from mailroom.settings import repo
from tests.mailgen import make_message
from tests.web.test_views import field_block, form_data

def flashes(text: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', text)]


@pytest.mark.parametrize("section,fields", [("departments", {}), ("task_types", {}),
                                            ("users", {"email": "ann@lumen.example"})])
@pytest.mark.parametrize("blank", ["   ", "\u00a0", "\u2003 \u00a0"])
def test_a_name_of_spaces_is_required_at_its_field_and_nothing_is_saved(page, controller, section, fields, blank):
    response = page.submit(f"/settings/{section}/new", {"name": blank, **fields})
    assert response.status_code == 200
    assert "is required" in field_block(response.text, "name")
    assert controller.settings()[section] == []
    assert page.submit("/company", {"name": "Lumen", "timezone": "UTC", "unknown_sender": "create",
                                    "autoreply_rate_limit_days": "7", "autoreply_max_per_hour": "50"}
                       ).status_code == 302                                   # and nothing else is blocked


def store_as_an_older_version_did(controller, **sections) -> None:
    """Write entries straight to the store, as a version without today's checks saved them."""
    doc = controller.settings()
    for name, entries in sections.items():
        doc[name] += entries
    repo.save(controller.ctx.engine, doc)


def test_one_bad_stored_entry_blocks_no_other_save_and_can_be_fixed_from_its_link(page, controller):
    page.submit("/settings/departments/new", {"name": "Weddings"})
    store_as_an_older_version_did(controller, departments=[{"name": ""}], task_types=[{"name": "Inquiry"}])
    response = page.submit("/company", {"name": "Lumen", "timezone": "UTC", "unknown_sender": "create",
                                        "autoreply_rate_limit_days": "7", "autoreply_max_per_hour": "50"},
                           follow_redirects=True)
    assert controller.settings()["company"]["name"] == "Lumen"
    [saved, warning] = flashes(response.text)
    assert saved == "Company saved."
    assert warning.startswith("Department without a name: Name is required")
    assert 'href="/settings/departments/edit?key="' in response.text
    assert page.submit("/settings/departments/new", {"name": "Portraits"}).status_code == 302
    assert page.submit("/settings/task_types/delete?key=Inquiry").status_code == 302
    listing = page.get("/settings/departments").text                       # the bad one has a working link
    assert 'href="/settings/departments/edit?key="' in listing and "(no name: fix it)" in listing
    form = page.get("/settings/departments/edit?key=")
    assert form.status_code == 200 and "Department without a name" in html.unescape(form.text)
    response = page.submit("/settings/departments/edit?key=", {"name": " "})  # still blank: its own field says so
    assert "is required" in field_block(response.text, "name")
    assert page.submit("/settings/departments/edit?key=", {"name": "Family"}).status_code == 302
    assert [d["name"] for d in controller.settings()["departments"]] == ["Weddings", "Family", "Portraits"]


def test_a_bad_stored_entry_can_be_deleted_on_the_page(page, controller):
    store_as_an_older_version_did(controller, task_types=[{"name": ""}, {"name": "Inquiry"}])
    assert "Delete the task type without a name?" in page.get("/settings/task_types/delete?key=").text
    assert page.submit("/settings/task_types/delete?key=").status_code == 302
    assert controller.settings()["task_types"] == [{"name": "Inquiry"}]


def test_entries_saved_before_the_capitals_rule_block_nothing_and_are_named(page, controller):
    store_as_an_older_version_did(controller, departments=[{"name": "Weddings"}, {"name": "weddings"}])
    response = page.submit("/settings/task_types/new", {"name": "Inquiry"}, follow_redirects=True)
    assert [t["name"] for t in controller.settings()["task_types"]] == ["Inquiry"]
    [saved, warning] = flashes(response.text)
    assert warning.startswith("Department \"weddings\", Name: 'weddings' differs from 'Weddings' only in capital")
    assert 'href="/settings/departments/edit?key=weddings"' in response.text
    assert page.submit("/settings/departments/delete?key=Weddings").status_code == 302
    assert [d["name"] for d in controller.settings()["departments"]] == ["weddings"]


def test_two_users_with_one_address_in_other_capitals_are_refused(page, controller):
    assert page.submit("/settings/users/new", {"name": "Ann", "email": "bob@lumen.example"}).status_code == 302
    response = page.submit("/settings/users/new", {"name": "Bob", "email": "BOB@lumen.example"})
    assert "is already the address of user 'Ann'" in html.unescape(field_block(response.text, "email"))
    assert len(controller.settings()["users"]) == 1


@pytest.mark.parametrize("name", ["..", ".", "Sales/Support", "/root", "a/../b", "x/", "50%", "#1 ?&key=x"])
def test_any_name_has_a_working_address(page, controller, name):
    def link_of(text: str, pattern: str) -> str:
        return html.unescape(re.search(pattern, text).group(1))

    assert page.submit("/settings/departments/new", {"name": name}).status_code == 302
    edit = link_of(page.get("/settings/departments").text, r'<th scope="row"><a href="([^"]+)"')
    assert edit.startswith("/settings/departments/edit?key=")
    form = page.get(edit)
    assert form.status_code == 200 and f'value="{html.escape(name)}"' in form.text
    assert page.submit(edit, {"name": f"{name} 2"}).status_code == 302                      # rename
    assert [d["name"] for d in controller.settings()["departments"]] == [f"{name} 2"]
    edit = link_of(page.get("/settings/departments").text, r'<th scope="row"><a href="([^"]+)"')
    delete = link_of(page.get(edit).text, r'href="(/settings/departments/delete[^"]*)"')
    assert page.submit(delete).status_code == 302
    assert controller.settings()["departments"] == []


@pytest.mark.parametrize("name", ["..", ".", "Sales/Support", "#1 ?&key=x"])
def test_any_email_box_name_has_a_working_address(page, controller, configure, name):
    configure()
    controller.save_entry("mailboxes", {**controller.settings()["mailboxes"][0], "description": name}, "Studio")
    listing = page.get("/mailboxes").text
    edit = html.unescape(re.search(r'<th scope="row"><a href="([^"]+)"', listing).group(1))
    assert edit.startswith("/mailboxes/edit?key=")
    form = page.get(edit)
    assert form.status_code == 200 and f'value="{html.escape(name)}"' in form.text
    delete = html.unescape(re.search(r'href="(/mailboxes/delete[^"]*)"', form.text).group(1))
    assert page.submit(delete).status_code == 302
    assert controller.settings()["mailboxes"] == []


@pytest.mark.parametrize("section,first,second", [("departments", "Weddings", "weddings"),
                                                  ("task_statuses", "New", "NEW")])
def test_a_duplicate_by_capitals_is_refused_at_the_name(page, controller, section, first, second):
    assert page.submit(f"/settings/{section}/new", {"name": first}).status_code == 302
    response = page.submit(f"/settings/{section}/new", {"name": second})
    assert response.status_code == 200
    assert f"differs from {first!r} only in capital letters" in html.unescape(field_block(response.text, "name"))
    assert len(controller.settings()[section]) == 1


def test_a_status_name_of_another_task_type_says_why(page, controller):
    for name in ("Inquiry", "Booking"):
        page.submit("/settings/task_types/new", {"name": name})
    page.submit("/settings/task_statuses/new", {"name": "New", "task_type": "Inquiry"})
    response = page.submit("/settings/task_statuses/new", {"name": "New", "task_type": "Booking"})
    block = html.unescape(field_block(response.text, "name"))
    assert "unique across all task types" in block and "leave its task type empty" in block


def test_check_every_is_capped_at_a_day(page, controller, configure):
    configure()
    entry = form_data(controller.settings()["mailboxes"][0])
    response = page.submit("/mailboxes/edit/Studio", {**entry, "poll_minutes": "10000000", "action": "save_anyway"})
    assert "must be 1-1440 minutes" in field_block(response.text, "poll_minutes")
    assert controller.settings()["mailboxes"][0]["poll_minutes"] == 5


def test_a_template_typed_in_the_browser_exports_and_imports_unchanged(page, controller, tmp_path):
    body = "Dear {{ client.first_name }},\r\n\r\nthank you.\r\n"              # a textarea's line breaks
    assert page.submit("/settings/templates/new", {"name": "Thanks", "kind": "form_letter", "subject": "Thanks",
                                                   "body": body}).status_code == 302
    assert controller.settings()["templates"][0]["body"] == "Dear {{ client.first_name }},\n\nthank you.\n"
    exported = tmp_path / "settings.toml"
    exported.write_text(controller.export_settings(), encoding="utf-8")
    doc, _ = controller.read_settings_file(exported)
    assert tomllib.loads(exported.read_text())["templates"][0]["body"].count("\r") == 0
    assert controller.plan_settings(doc).changes == []


def test_deleting_a_user_that_tasks_use_says_what_happens_to_them(page, controller, configure, mailbox_user):
    box = configure(create_tasks=True, task_type="Inquiry")
    page.submit("/settings/users/new", {"name": "Ann Archer", "email": "ann@lumen.example"})
    controller.save_entry("mailboxes", {**controller.settings()["mailboxes"][0], "user": "Ann Archer"}, "Studio")
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, date=utcnow()) for i in range(3))   # new mail opens tasks
    controller.run_mailbox(box.id)
    text = html.unescape(page.get("/settings/users/delete?key=Ann Archer").text)
    assert "cannot be deleted" in text and 'mailbox "Studio" (user)' in text          # settings: refused
    controller.save_entry("mailboxes", {**controller.settings()["mailboxes"][0], "user": None}, "Studio")
    text = html.unescape(page.get("/settings/users/delete?key=Ann Archer").text)
    assert "It is used by 3 tasks; they become unassigned." in text
    assert page.submit("/settings/users/delete?key=Ann Archer").status_code == 302
    assert controller.settings()["users"] == []


def test_after_saving_the_page_shows_the_imports_warnings(page, controller, configure):
    configure(autoreply=True, autoreply_template="Thanks",
              templates=[{"name": "Thanks", "kind": "form_letter", "subject": "Thanks", "body": "Thanks."}])
    response = page.submit("/settings/templates/edit?key=Thanks",
                           {"name": "Thanks", "kind": "form_letter", "subject": "Thanks",
                            "body": "{{ user.name }} will answer."}, follow_redirects=True)
    [saved, warning] = flashes(response.text)
    assert saved == 'Template "Thanks" saved.'
    assert warning.startswith('Email box "Studio", Assigned to User: template \'Thanks\' uses {{ user.name }}, '
                              "but mailbox 'Studio' has no user")
    assert 'href="/mailboxes/edit?key=Studio"' in response.text and 'class="flash warning"' in response.text


def test_a_problem_an_edit_makes_in_another_entry_names_it_with_a_link(page, controller, configure):
    configure()
    page.submit("/settings/departments/new", {"name": "Weddings"})
    page.submit("/settings/users/new", {"name": "Ann", "email": "ann@lumen.example", "department": "Front desk"})
    controller.save_entry("mailboxes", {**controller.settings()["mailboxes"][0], "department": "Front desk",
                                        "user": "Ann"}, "Studio")
    response = page.submit("/settings/users/edit?key=Ann", {"name": "Ann", "email": "ann@lumen.example",
                                                            "department": "Weddings"})
    assert response.status_code == 200 and controller.settings()["users"][0]["department"] == "Front desk"
    errors = html.unescape(response.text[response.text.index('class="errors"'):])
    assert ('Email box "Studio", Assigned to User: \'Ann\' is not in department \'Front desk\'. '
            'Fix the email box "Studio"') in re.sub(r"<[^>]+>", "", errors)
    assert '<a href="/mailboxes/edit?key=Studio">' in errors
