"""The settings document: validation reports every bad field; the field table is complete."""

from __future__ import annotations

import datetime as dt

import pytest

from mailroom.errors import ConfigError
from mailroom.settings.document import validate
from mailroom.settings.fields import SECTIONS

GOOD = {
    "company": {"name": "Lumen", "timezone": "Europe/London", "business_hours": "Mon-Fri 09:00-17:00"},
    "outgoing": {"host": "smtp.gmail.com", "security": "ssl", "email": "studio@lumen.example"},
    "departments": [{"name": "Weddings"}],
    "users": [{"name": "Ann", "email": "ann@lumen.example", "department": "Weddings"}],
    "task_types": [{"name": "Inquiry"}],
    "task_statuses": [{"name": "Open", "task_type": "Inquiry"}, {"name": "Done", "final": True}],
    "templates": [{"name": "Thanks", "kind": "form_letter", "subject": "Re: {{ message.subject }}",
                   "body": "Dear {{ client.first_name }},\nthank you."}],
    "mailboxes": [{"description": "Sales", "host": "pop.gmail.com", "email": "studio@lumen.example",
                   "create_tasks": True, "task_type": "Inquiry", "autoreply": True,
                   "autoreply_template": "Thanks", "department": "Weddings", "user": "Ann"}],
}


def with_change(section: str, index: int | None, key: str, value) -> dict:
    doc = {k: (dict(v) if isinstance(v, dict) else [dict(e) for e in v]) for k, v in GOOD.items()}
    target = doc[section] if index is None else doc[section][index]
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
    return doc


def test_a_good_document_gets_its_defaults():
    doc, warnings = validate(GOOD)
    box = doc["mailboxes"][0]
    assert warnings == []
    assert (box["port"], box["security"], box["protocol"], box["username"]) == (995, "ssl", "pop3", "studio@lumen.example")
    assert box["leave_on_server"] is True and box["enabled"] is True and box["poll_minutes"] == 5
    assert box["task_status"] == "Open"          # the first open status of the task type
    assert doc["outgoing"]["port"] == 465        # ssl → 465


@pytest.mark.parametrize("section,index,key,value,problem", [
    ("mailboxes", 0, "port", 99999, "mailboxes[1].port: must be 1-65535"),
    ("mailboxes", 0, "port", "abc", "mailboxes[1].port: must be a whole number"),
    ("mailboxes", 0, "host", "pop gmail com", "mailboxes[1].host: must be a server name"),
    ("mailboxes", 0, "host", None, "mailboxes[1].host: is required"),
    ("mailboxes", 0, "security", "tls", "mailboxes[1].security: must be one of: ssl, starttls, none"),
    ("mailboxes", 0, "email", "studio", "mailboxes[1].email: must be an email address"),
    ("mailboxes", 0, "aliases", ["ok@x.example", "nope"], "mailboxes[1].aliases: not an email address: nope"),
    ("mailboxes", 0, "exclude_before", "31/01/2026", "mailboxes[1].exclude_before: must be a date"),
    ("mailboxes", 0, "leave_on_server", "maybe", "mailboxes[1].leave_on_server: must be true or false"),
    ("mailboxes", 0, "task_type", "Nope", "mailboxes[1].task_type: no task type named 'Nope'"),
    ("mailboxes", 0, "user", "Bob", "mailboxes[1].user: no user named 'Bob'"),
    ("mailboxes", 0, "autoreply_template", None, "mailboxes[1].autoreply_template: is required when autoreply is true"),
    ("mailboxes", 0, "autoreply_when", "sometimes", "mailboxes[1].autoreply_when: must be one of"),
    ("mailboxes", 0, "poll_minutes", 0, "mailboxes[1].poll_minutes: must be 1 or more"),
    ("mailboxes", 0, "ca_file", "/nonexistent/ca.pem", "mailboxes[1].ca_file: no such file"),
    ("company", None, "timezone", "Mars/Olympus", "company.timezone: must be a time zone name"),
    ("company", None, "business_hours", "whenever", "company.business_hours:"),
    ("outgoing", None, "security", "tls", "outgoing.security: must be one of"),
    ("users", 0, "department", "Portraits", "users[1].department: no department named 'Portraits'"),
    ("templates", 0, "kind", "fax", "templates[1].kind: must be one of: form_letter, html_email"),
    ("templates", 0, "body", "{{ client.shoe_size }}", "templates[1]:"),
    ("templates", 0, "body", "{% if %}", "templates[1]:"),
])
def test_each_bad_field_is_named(section, index, key, value, problem):
    with pytest.raises(ConfigError) as err:
        validate(with_change(section, index, key, value))
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_every_problem_is_reported_at_once():
    doc = with_change("mailboxes", 0, "port", 0)
    doc["mailboxes"].append({"description": "Sales", "host": "x y", "email": "e"})
    with pytest.raises(ConfigError) as err:
        validate(doc)
    problems = err.value.problems
    assert "mailboxes[1].port: must be 1-65535" in problems
    assert "mailboxes[2].description: 'Sales' is used twice" in problems
    assert any(p.startswith("mailboxes[2].host") for p in problems)
    assert any(p.startswith("mailboxes[2].email") for p in problems)


def test_a_user_outside_the_mailbox_department_is_refused():
    doc = with_change("users", 0, "department", None)
    doc["departments"].append({"name": "Portraits"})
    doc["users"].append({"name": "Bea", "department": "Portraits"})
    doc["mailboxes"][0]["user"] = "Bea"
    with pytest.raises(ConfigError) as err:
        validate(doc)
    assert "mailboxes[1].user: 'Bea' is not in department 'Weddings'" in err.value.problems


def test_unknown_keys_are_warnings_not_errors():
    doc, warnings = validate(with_change("mailboxes", 0, "prot", "pop3"))
    assert warnings == ["mailboxes[1].prot: unknown setting, ignored"]
    assert doc["mailboxes"][0]["protocol"] == "pop3"


def test_dates_from_toml_and_text_are_the_same():
    a, _ = validate(with_change("mailboxes", 0, "exclude_before", dt.date(2026, 1, 31)))
    b, _ = validate(with_change("mailboxes", 0, "exclude_before", "2026-01-31"))
    assert a == b


def test_every_field_is_documented():
    """Form, validation and help come from one table: every field carries help text."""
    for section in SECTIONS:
        assert section.help
        for f in section.fields:
            assert f.help.strip().endswith((".", ")")), f"{section.name}.{f.name}"
            assert f.kind in ("str", "int", "bool", "date", "list", "ref")
            assert (f.ref is not None) == (f.kind == "ref")
