"""The settings document: validation reports every bad field; the field table is complete."""

from __future__ import annotations

import datetime as dt

import pytest

from mailroom.errors import ConfigError
from mailroom.settings.document import validate
from mailroom.settings.fields import SECTION, SECTIONS, defaults, is_loopback_host

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
    ("mailboxes", 0, "task_status", "Nope", "mailboxes[1].task_status: no task status named 'Nope'"),
    ("mailboxes", 0, "user", "Bob", "mailboxes[1].user: no user named 'Bob'"),
    ("mailboxes", 0, "autoreply_template", None, "mailboxes[1].autoreply_template: is required when autoreply is true"),
    ("mailboxes", 0, "autoreply_when", "sometimes", "mailboxes[1].autoreply_when: must be one of"),
    ("mailboxes", 0, "poll_minutes", 0, "mailboxes[1].poll_minutes: must be 1-1440 minutes"),
    ("mailboxes", 0, "poll_minutes", 10_000_000, "mailboxes[1].poll_minutes: must be 1-1440 minutes"),
    ("mailboxes", 0, "ca_file", "/nonexistent/ca.pem", "mailboxes[1].ca_file: no such file"),
    ("company", None, "timezone", "Mars/Olympus", "company.timezone: must be a time zone name"),
    ("company", None, "business_hours", "whenever", "company.business_hours:"),
    ("outgoing", None, "security", "tls", "outgoing.security: must be one of"),
    ("users", 0, "department", "Portraits", "users[1].department: no department named 'Portraits'"),
    ("templates", 0, "kind", "fax", "templates[1].kind: must be one of: form_letter, html_email"),
    ("templates", 0, "body", "{{ client.shoe_size }}", "templates[1].body: line 1: unknown merge field"),
    ("templates", 0, "body", "Dear\n\n{{ client.name } }}", "templates[1].body: line 3: unexpected '}'"),
    ("templates", 0, "subject", "{% if %}", "templates[1].subject: line 1: "),
    ("templates", 0, "body", "{% include 'sig.txt' %}",
     "templates[1].body: line 1: {% include %} is not available in templates"),
    ("templates", 0, "body", "{{ '%0400000000d' % 1 }}",
     "templates[1].body: line 1: widths and precisions above 1,000 are not allowed"),
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


# -- control characters: a CR LF in a user name became a second POP3 command ---------------

CONTROL = "must be one line of text without control characters"


@pytest.mark.parametrize("section,index,key,value,problem", [
    ("mailboxes", 0, "username", "x\r\nDELE 1", f"mailboxes[1].username: {CONTROL} such as line breaks or tabs "
                                                "(found U+000D at character 2)"),
    ("mailboxes", 0, "domain", "CORP\tX", f"mailboxes[1].domain: {CONTROL}"),
    ("mailboxes", 0, "description", "Sales\x00", f"mailboxes[1].description: {CONTROL}"),
    ("mailboxes", 0, "user", "Ann\x85Bea", f"mailboxes[1].user: {CONTROL}"),
    ("mailboxes", 0, "aliases", ["a@b.example\x7f"], f"mailboxes[1].aliases: {CONTROL}"),
    ("outgoing", None, "username", "me\nRCPT TO:<x@y>", f"outgoing.username: {CONTROL}"),
    ("outgoing", None, "display_name", "Lumen\x1b[31m", f"outgoing.display_name: {CONTROL}"),
    ("company", None, "name", "Lumen\u009b", f"company.name: {CONTROL}"),
    ("users", 0, "name", "Ann\rBea", f"users[1].name: {CONTROL}"),
    ("templates", 0, "subject", "Thanks\r\nBcc: all@x.example", f"templates[1].subject: {CONTROL}"),
    ("templates", 0, "body", "Dear\x00 you", "templates[1].body: must not contain control characters other "
                                              "than line breaks and tabs (found U+0000 at character 5)"),
])
def test_control_characters_are_refused(section, index, key, value, problem):
    with pytest.raises(ConfigError) as err:
        validate(with_change(section, index, key, value))
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_a_template_body_keeps_its_line_breaks_and_tabs_as_lf():
    """A browser sends CR LF; stored as LF, the page's save equals the same text imported."""
    body = "Dear {{ client.first_name }},\r\n\tthank you.\rBye\n"
    doc, _ = validate(with_change("templates", 0, "body", body))
    assert doc["templates"][0]["body"] == "Dear {{ client.first_name }},\n\tthank you.\nBye\n"


# -- names: trimmed, then required; unique regardless of capitals -----------------------------

@pytest.mark.parametrize("section,key", [("departments", "name"), ("users", "name"), ("task_types", "name"),
                                         ("task_statuses", "name"), ("templates", "name"),
                                         ("mailboxes", "description")])
@pytest.mark.parametrize("blank", ["   ", "\u00a0", " \u2003\u3000 ", "\u2009"])
def test_a_name_of_spaces_only_is_required(section, key, blank):
    with pytest.raises(ConfigError) as err:
        validate(with_change(section, 0, key, blank))
    assert f"{section}[1].{key}: is required" in err.value.problems


def test_names_are_trimmed_and_blank_references_are_none():
    doc = with_change("departments", 0, "name", "\u00a0Weddings ")
    doc["users"][0]["department"] = " Weddings\u00a0"
    doc["mailboxes"][0]["user"] = "  "
    canonical, _ = validate(doc)
    assert canonical["departments"][0]["name"] == "Weddings" and canonical["users"][0]["department"] == "Weddings"
    assert canonical["mailboxes"][0]["user"] is None


@pytest.mark.parametrize("section,first,second", [("departments", "Weddings", "weddings"),
                                                  ("task_types", "Inquiry", "INQUIRY"),
                                                  ("mailboxes", "Sales", "sales")])
def test_names_differing_only_in_capitals_are_refused(section, first, second):
    doc = with_change(section, 0, SECTION[section].key, first)
    doc[section].append({**doc[section][0], SECTION[section].key: second, "email": "other@lumen.example"})
    with pytest.raises(ConfigError) as err:
        validate(doc)
    key = SECTION[section].key
    assert err.value.problems == [f"{section}[2].{key}: {second!r} differs from {first!r} only in capital "
                                  "letters; names must differ by more"]


def test_two_users_with_one_address_in_different_capitals_are_refused():
    doc = with_change("users", 0, "email", "bob@lumen.example")
    doc["users"].append({"name": "Bob", "email": "BOB@lumen.example"})
    with pytest.raises(ConfigError) as err:
        validate(doc)
    assert err.value.problems == ["users[2].email: 'BOB@lumen.example' is already the address of user 'Ann'"]


def test_a_status_name_used_by_two_task_types_says_why_it_must_be_unique():
    doc = with_change("task_statuses", 0, "name", "New")
    doc["task_types"].append({"name": "Booking"})
    doc["task_statuses"].append({"name": "New", "task_type": "Booking"})
    with pytest.raises(ConfigError) as err:
        validate(doc)
    [problem] = err.value.problems
    assert problem.startswith("task_statuses[3].name: 'New' is used twice (a status name is unique across all "
                              "task types")
    assert "leave its task type empty" in problem


# -- settings saved before a rule: one bad stored entry does not block other saves ------------

def test_a_problem_the_stored_settings_already_had_elsewhere_is_a_warning():
    stored = with_change("departments", 0, "name", "Weddings")
    stored["departments"].append({"name": ""})                      # saved by an older version
    edited = {k: (dict(v) if isinstance(v, dict) else [dict(e) for e in v]) for k, v in stored.items()}
    edited["company"]["name"] = "Lumen Studio"
    with pytest.raises(ConfigError):
        validate(edited)                                           # a file import stays strict
    doc, warnings = validate(edited, stored=stored, editing="company")
    assert doc["company"]["name"] == "Lumen Studio" and doc["departments"][1] == {"name": ""}
    assert warnings[0].startswith("departments[2].name: is required; this was saved before")
    with pytest.raises(ConfigError) as err:                        # the bad entry itself must be fixed
        validate(edited, stored=stored, editing="departments[2]")
    assert err.value.problems == ["departments[2].name: is required"]
    edited["departments"].append({"name": "  "})                    # a new bad entry is refused
    with pytest.raises(ConfigError) as err:
        validate(edited, stored=stored, editing="company")
    assert err.value.problems == ["departments[3].name: is required"]


def test_a_stored_problem_made_by_this_save_is_not_excused():
    stored = with_change("departments", 0, "name", "Weddings")
    stored["departments"].append({"name": "Portraits"})
    edited = {**stored, "departments": [{"name": "Weddings"}, {"name": "weddings"}]}
    with pytest.raises(ConfigError) as err:
        validate(edited, stored=stored, editing="departments[2]")
    assert err.value.problems[0].startswith("departments[2].name: 'weddings' differs from 'Weddings'")


# -- booleans: TOML's true and false only ----------------------------------------------------

@pytest.mark.parametrize("value", ["no", "yes", "true", "0", 0, 1])
def test_booleans_must_be_toml_booleans(value):
    with pytest.raises(ConfigError) as err:
        validate(with_change("mailboxes", 0, "leave_on_server", value))
    assert "mailboxes[1].leave_on_server: must be true or false (without quotes)" in err.value.problems


# -- ca_file: ~ works, and the absolute path is what is kept ---------------------------------

def test_ca_file_with_a_tilde_is_stored_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "ca.pem").write_text("not read here")
    doc, _ = validate(with_change("mailboxes", 0, "ca_file", "~/ca.pem"))
    assert doc["mailboxes"][0]["ca_file"] == str(tmp_path / "ca.pem")
    monkeypatch.chdir(tmp_path)
    doc, _ = validate(with_change("outgoing", None, "ca_file", "ca.pem"))
    assert doc["outgoing"]["ca_file"] == str(tmp_path / "ca.pem")


# -- warnings --------------------------------------------------------------------------------

@pytest.mark.parametrize("host,warned", [("pop.lumen.example", True), ("192.168.1.10", True),
                                         ("127.0.0.1", False), ("127.4.5.6", False), ("localhost", False),
                                         ("mail.localhost", False), ("LOCALHOST.", False)])
def test_plain_text_logins_to_another_computer_are_warned_about(host, warned):
    doc = with_change("mailboxes", 0, "security", "none")
    doc["mailboxes"][0]["host"] = host
    _, warnings = validate(doc)
    expected = [f'mailboxes[1].security: security = "none" sends the password to {host} unencrypted, so '
                'anyone on the network in between can read it; use "ssl" or "starttls" if the server offers them']
    assert warnings == (expected if warned else [])
    assert is_loopback_host(host) is not warned


def test_loopback_needs_no_dns():
    assert is_loopback_host("::1") and is_loopback_host("[::1]")
    assert not is_loopback_host("localhost.example.com") and not is_loopback_host("10.0.0.1")


def test_plain_text_smtp_is_warned_about_only_with_a_login():
    doc = with_change("outgoing", None, "security", "none")
    _, warnings = validate(doc)
    assert warnings == []                                          # no username: no password sent
    doc["outgoing"]["username"] = "studio@lumen.example"
    _, warnings = validate(doc)
    assert [w.split(":")[0] for w in warnings] == ["outgoing.security"]


def test_a_merge_field_that_will_be_blank_is_warned_about():
    doc = with_change("mailboxes", 0, "user", None)
    doc["mailboxes"][0]["department"] = None
    doc["templates"][0]["body"] = "{{ user.name }} of {{ department.name }} will answer."
    _, warnings = validate(doc)
    assert warnings == [
        "mailboxes[1].user: template 'Thanks' uses {{ user.name }}, but mailbox 'Sales' has no user, "
        "so it will be blank in its auto-replies",
        "mailboxes[1].department: template 'Thanks' uses {{ department.name }}, but mailbox 'Sales' has no "
        "department, so it will be blank in its auto-replies"]
    _, warnings = validate(with_change("mailboxes", 0, "autoreply", False) | {
        "templates": doc["templates"], "mailboxes": [{**doc["mailboxes"][0], "autoreply": False}]})
    assert warnings == []                                          # no auto-reply, nothing to warn about


# -- words -----------------------------------------------------------------------------------

def test_sections_count_in_words():
    assert [SECTION["mailboxes"].count(n) for n in (0, 1, 2)] == ["0 mailboxes", "1 mailbox", "2 mailboxes"]
    assert SECTION["task_statuses"].count(1) == "1 task status"
    assert all(s.noun for s in SECTIONS if not s.single)


def test_defaults_come_from_the_field_table():
    assert defaults("company") == {"name": "", "phone": "", "timezone": "UTC", "business_hours": "",
                                   "unknown_sender": "create", "autoreply_rate_limit_days": 7,
                                   "autoreply_max_per_hour": 50, "notify_new_mail": True}


def test_a_name_taken_by_an_edit_is_the_edited_entrys_problem():
    doc = with_change("departments", 0, "name", "weddings")
    doc["departments"].append({"name": "Weddings"})
    with pytest.raises(ConfigError) as err:
        validate(doc, editing="departments[1]")
    assert err.value.problems == ["departments[1].name: 'weddings' differs from 'Weddings' only in capital "
                                  "letters; names must differ by more"]
