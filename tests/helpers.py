"""Small builders shared by the tests: settings documents pointing at the test servers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import tomli_w


def mailbox(description: str, *, host: str = "127.0.0.1", port: int, user: str, email: str | None = None,
            security: str = "ssl", ca_file: Path | str | None = None, **extra: Any) -> dict:
    entry = {"description": description, "host": host, "port": port, "security": security,
             "email": email or f"{user}@localhost" if "@" not in user else user, "username": user, **extra}
    if ca_file:
        entry["ca_file"] = str(ca_file)
    return entry


def settings(*, mailboxes: list[dict] = (), outgoing: dict | None = None, **sections: Any) -> dict:
    doc: dict[str, Any] = {"company": {"name": "Lumen Photography", "phone": "+44 20 7946 0000",
                                       "timezone": "Europe/London", "business_hours": "Mon-Fri 09:00-17:00"}}
    if outgoing:
        doc["outgoing"] = outgoing
    doc.update(sections)
    if mailboxes:
        doc["mailboxes"] = list(mailboxes)
    return doc


def outgoing(servers, *, port: int | None = None, security: str = "starttls", user: str = "studio@localhost",
             ca_file: Path | str | None = None) -> dict:
    entry = {"host": "127.0.0.1", "port": port or servers.submission_port, "security": security,
             "display_name": "Lumen Photography", "email": user, "username": user}
    if ca_file:
        entry["ca_file"] = str(ca_file)
    return entry


def write_toml(path: Path, doc: dict) -> Path:
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def wait_until(predicate, timeout: float = 20.0, what: str = "the condition"):
    """Poll `predicate` until it returns something true (returned), failing after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
