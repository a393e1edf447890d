"""Validate a settings document (the parsed TOML file) into its canonical form.

Canonical form: {section: {key: value}} for single sections and
{section: [{key: value}, ...]} for lists, every field present (None when unset),
references by name. Every problem is reported at once, as
`mailboxes[2].port: must be 1-65535` (entries count from 1, as a person counts);
what is allowed but probably unwanted (a password sent in plain text, a merge field
that will stay blank) comes back as a warning in the same form. A form's save passes
the stored settings: what they already had wrong, on entries the save leaves alone, is
then a warning too, so one bad entry from an older version blocks nothing else.
Pure: apart from `ca_file` existence, no I/O.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from mailroom.clock import utcnow
from mailroom.errors import ConfigError, Problem
from mailroom.rules.cutoff import company_zone
from mailroom.settings.fields import SECTION, SECTIONS, Section, convert, default_port, plain_text_warning

Document = dict[str, Any]


def _entry(section: Section, raw: Any, where: str, problems: list[str], warnings: list[str]) -> dict | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a table of settings")
        return None
    out: dict[str, Any] = {}
    for key in raw:
        if key not in section.by_name:
            warnings.append(f"{where}.{key}: unknown setting, ignored")
    for f in section.fields:
        value, error = raw.get(f.name), None
        if value is not None and value != "":
            value, error = convert(f, value)   # text is trimmed (Unicode spaces too): "  " is ""
        if error:
            problems.append(f"{where}.{f.name}: {error}")
        elif value is None or value == "":
            if f.required:
                problems.append(f"{where}.{f.name}: is required")
                value = None
            else:
                value = copy.copy(f.default)
        out[f.name] = value
    return out


def _check_references(doc: Document, problems: list[str], editing: str | None) -> None:
    names = {s.name: {e[s.key] for e in doc[s.name]} for s in SECTIONS if not s.single}
    for section in SECTIONS:
        if section.single:
            continue
        seen: dict[str, tuple[str, str]] = {}
        for i, entry in enumerate(doc[section.name], 1):
            where = f"{section.name}[{i}]"
            key = entry[section.key]
            if key is not None:
                _check_unique(section, where, key, seen, problems, editing)
            for f in section.fields:
                value = entry[f.name]
                if f.ref and value is not None and value not in names[f.ref]:
                    problems.append(f"{where}.{f.name}: no {SECTION[f.ref].noun} named {value!r}")


def _check_unique(section: Section, where: str, key: str, seen: dict[str, tuple[str, str]], problems: list[str],
                  editing: str | None) -> None:
    """Names are unique regardless of capital letters: "Weddings" and "weddings" would look
    like one entry in every list, yet be two. The problem is the later entry's, or the
    one being edited (`editing`) when it is the earlier: that is the name to change."""
    if key.casefold() not in seen:
        seen[key.casefold()] = (key, where)
        return
    first, first_where = seen[key.casefold()]
    if first_where == editing:
        key, first, where = first, key, first_where
    if first == key:
        why = f"{key!r} is used twice"
    else:
        why = f"{key!r} differs from {first!r} only in capital letters; names must differ by more"
    if section.name == "task_statuses":   # per type would be ambiguous: mailboxes name a status alone
        why += (" (a status name is unique across all task types, as mailboxes and the settings file "
                "name a status by its name alone; for a status every type shares, leave its task type empty)")
    problems.append(f"{where}.{section.key}: {why}")


def _check_user_emails(doc: Document, problems: list[str]) -> None:
    """One person per address (compared without regard to case, as mail servers do)."""
    seen: dict[str, str] = {}
    for i, user in enumerate(doc["users"], 1):
        email = user["email"]
        if not email:
            continue
        if email.casefold() in seen:
            problems.append(f"users[{i}].email: {email!r} is already the address of user "
                            f"{seen[email.casefold()]!r}")
        else:
            seen[email.casefold()] = user["name"]


def _check_mailbox(doc: Document, i: int, box: dict, problems: list[str]) -> None:
    where = f"mailboxes[{i}]"
    users = {u["name"]: u for u in doc["users"]}
    statuses = {s["name"]: s for s in doc["task_statuses"]}
    if box["port"] is None and box["security"] and box["protocol"]:
        box["port"] = default_port(box["protocol"], box["security"])
    if box["username"] is None:
        box["username"] = box["email"]
    user = users.get(box["user"])
    if user and box["department"] and user["department"] not in (None, box["department"]):
        problems.append(f"{where}.user: {box['user']!r} is not in department {box['department']!r}")
    if box["create_tasks"] and not box["task_type"]:
        problems.append(f"{where}.task_type: is required when create_tasks is true")
    status = statuses.get(box["task_status"])
    if status and box["task_type"] and status["task_type"] not in (None, box["task_type"]):
        problems.append(f"{where}.task_status: {box['task_status']!r} belongs to task type "
                        f"{status['task_type']!r}, not {box['task_type']!r}")
    if box["create_tasks"] and box["task_type"] and not box["task_status"]:
        fitting = [s["name"] for s in doc["task_statuses"]
                   if s["task_type"] in (None, box["task_type"]) and not s["final"]]
        if fitting:
            box["task_status"] = fitting[0]
        else:
            problems.append(f"{where}.task_status: is required (no open status exists for "
                            f"task type {box['task_type']!r})")
    if box["autoreply"] and not box["autoreply_template"]:
        problems.append(f"{where}.autoreply_template: is required when autoreply is true")
    _check_exclude_before(doc, where, box, problems)


def _check_exclude_before(doc: Document, where: str, box: dict, problems: list[str]) -> None:
    """A cutoff in the future would skip every message until that day (today is read
    from the clock, in the company's time zone)."""
    cutoff = box["exclude_before"]
    if cutoff is None:
        return
    today = utcnow().astimezone(company_zone(doc["company"].get("timezone"))).date()  # a bad zone: reported apart
    if cutoff > today:
        problems.append(f"{where}.exclude_before: {cutoff.isoformat()} is in the future, so every message "
                        f"until then would be skipped; use today ({today.isoformat()}) or an earlier day")


def _check_template(i: int, template: dict, problems: list[str]) -> None:
    from mailroom.rules.templates import validate_template

    if template["kind"] is None or template["subject"] is None or template["body"] is None:
        return
    for error in validate_template(template["kind"], template["subject"] or "", template["body"] or ""):
        problems.append(f"templates[{i}].{error}")   # validate_template says "body: line 3: ..."


def _warn_plain_text(doc: Document, warnings: list[str]) -> None:
    out = doc["outgoing"]
    if out.get("username"):   # without a user name no password is sent
        warning = plain_text_warning(out.get("host"), out.get("security"))
        if warning:
            warnings.append(f"outgoing.security: {warning}")
    for i, box in enumerate(doc["mailboxes"], 1):
        warning = plain_text_warning(box["host"], box["security"])
        if warning:
            warnings.append(f"mailboxes[{i}].security: {warning}")


def _warn_blank_merge_fields(doc: Document, warnings: list[str]) -> None:
    """A template merging `user.name` into replies from a mailbox with no user would say nothing there."""
    from mailroom.rules.templates import merge_fields_used

    templates = {t["name"]: t for t in doc["templates"]}
    for i, box in enumerate(doc["mailboxes"], 1):
        template = templates.get(box["autoreply_template"])
        if not box["autoreply"] or template is None:
            continue
        used = merge_fields_used(template["subject"] or "", template["body"] or "")
        for group in ("user", "department"):
            if f"{group}.name" in used and box[group] is None:
                warnings.append(f"mailboxes[{i}].{group}: template {template['name']!r} uses "
                                f"{{{{ {group}.name }}}}, but mailbox {box['description']!r} has no "
                                f"{group}, so it will be blank in its auto-replies")


def _check(raw: Any, editing: str | None = None) -> tuple[Document, list[str], list[str]]:
    """The canonical document, its problems and its warnings (the blank-field ones aside)."""
    problems: list[str] = []
    warnings: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError("The settings file must hold TOML tables.", problems=["(file): not a table"])
    for key in raw:
        if key not in SECTION:
            warnings.append(f"{key}: unknown section, ignored")
    doc: Document = {}
    for section in SECTIONS:
        value = raw.get(section.name)
        if section.single:
            doc[section.name] = _entry(section, value if value is not None else {}, section.name,
                                       problems, warnings) or {}
            continue
        if value is None:
            value = []
        if not isinstance(value, list):
            problems.append(f"{section.name}: must be a list of [[{section.name}]] tables")
            value = []
        entries = [_entry(section, item, f"{section.name}[{i}]", problems, warnings)
                   for i, item in enumerate(value, 1)]
        doc[section.name] = [e for e in entries if e is not None]
    out = doc["outgoing"]
    if out.get("port") is None and out.get("security"):
        out["port"] = default_port("smtp", out["security"])
    _check_references(doc, problems, editing)
    _check_user_emails(doc, problems)
    for i, box in enumerate(doc["mailboxes"], 1):
        _check_mailbox(doc, i, box, problems)
    for i, template in enumerate(doc["templates"], 1):
        _check_template(i, template, problems)
    return doc, problems, warnings


_PATH = re.compile(r"^(?P<section>\w+)(?:\[(?P<index>\d+)\])?$")


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _raw_entry(raw: Document, path: str) -> Any:
    """The entry of `raw` a problem's path names ("users[2]", "company"); None when none."""
    match = _PATH.match(path)
    if not match or not isinstance(raw.get(match["section"]), (dict, list)):
        return None
    value = raw[match["section"]]
    if match["index"] is None:
        return value if isinstance(value, dict) else None
    index = int(match["index"]) - 1
    return value[index] if isinstance(value, list) and index < len(value) else None


def _set_aside_old(raw: Document, doc: Document, problems: list[str], stored: Document,
                   editing: str | None) -> tuple[list[str], list[str]]:
    """Split `problems` into new ones and ones the stored settings already had.

    A problem counts as old when the stored document has the same problem on an entry
    equal to this one, and the entry is not the one being edited (`editing`, a path such
    as "departments[3]"). Such an entry is kept in `doc` exactly as it is stored, so that
    one bad entry, saved before a rule existed or by an older version, does not block
    every other save; the problem comes back as a warning to be fixed.
    """
    _, before, _ = _check(stored)
    known = set()
    for problem in map(Problem, before):
        entry = _raw_entry(stored, problem.path)
        if entry is not None:
            known.add((_PATH.match(problem.path)["section"], _frozen(entry), problem.field, problem.message))
    new, old = [], []
    for problem in map(Problem, problems):
        entry = _raw_entry(raw, problem.path)
        match = _PATH.match(problem.path) if entry is not None else None
        if (match is None or problem.path == editing
                or (match["section"], _frozen(entry), problem.field, problem.message) not in known):
            new.append(problem)
            continue
        section = match["section"]
        if match["index"] is None:
            doc[section] = copy.deepcopy(entry)
        elif len(doc[section]) == len(raw[section]):
            doc[section][int(match["index"]) - 1] = copy.deepcopy(entry)
        else:
            new.append(problem)
            continue
        old.append(f"{problem}; this was saved before and is left as it was until it is fixed")
    return new, old


def validate(raw: Any, *, stored: Document | None = None, editing: str | None = None
             ) -> tuple[Document, list[str]]:
    """The canonical document and the warnings; raises ConfigError listing every problem.

    With `stored` (the settings as saved), problems the stored settings already had, on
    entries this document leaves as they were, do not block the save: they are warnings
    (see `_set_aside_old`). `editing` names the entry a form edits ("departments[2]"): its
    problems always count, and a name it shares with another entry is its problem.
    """
    doc, problems, warnings = _check(raw, editing)
    if problems and stored is not None:
        problems, old = _set_aside_old(raw, doc, problems, stored, editing)
        warnings = old + warnings
    if problems:
        count = len(problems)
        raise ConfigError(f"The settings have {count} problem{'s' if count > 1 else ''}; nothing was changed.",
                          problems=problems)
    _warn_plain_text(doc, warnings)
    _warn_blank_merge_fields(doc, warnings)
    return doc, warnings


def references(doc: Document, section: str, key: str) -> list[tuple[Section, dict, str]]:
    """Where settings refer to the entry `key` of `section` by name: (section, entry, field)."""
    found = []
    for other in SECTIONS:
        for f in other.fields:
            if f.ref != section:
                continue
            for entry in [doc[other.name]] if other.single else doc[other.name]:
                if entry.get(f.name) == key:
                    found.append((other, entry, f.name))
    return found
