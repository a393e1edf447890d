"""The one exception hierarchy of Mailroom.

Library exceptions (socket, ssl, poplib, smtplib, keyring, SQLAlchemy) are converted
into these at the boundary, carrying what the user must fix: `kind` says what went
wrong in one word, `field` names the setting to change. Messages are plain sentences
for a non-technical reader and never contain a password, nor a command or a settings
file: `fix` says where to fix it, and each face words that (mailroom.errors.Fix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Fix:
    """Where the user fixes a problem, in no face's words: a settings `section` ("outgoing",
    "mailboxes", ...), its `field` ("password", "host"; None: the section as a whole) and,
    in a list section, the `entry` (a mailbox's description). The command line words it as
    a command to run, the page as a link to the form; the message itself names neither."""

    section: str
    field: str | None = None
    entry: str | None = None


class MailroomError(Exception):
    """Base of every error Mailroom reports to a user."""

    kind: str = "error"

    def __init__(self, message: str, *, kind: str | None = None, field: str | None = None,
                 fix: Fix | None = None):
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.field = field
        self.fix = fix

    def as_dict(self) -> dict:
        return {"ok": False, "error_kind": self.kind, "field": self.field, "message": self.message}


class Problem(str):
    """One bad setting, as `section[n].key: what is wrong` (entries count from 1).

    A str, so it prints as it always did; `path` ("mailboxes[2]"), `field` ("port",
    or "" for the entry as a whole) and `message` let a form put the message next
    to its field.
    """

    path: str
    field: str
    message: str

    _FORM = re.compile(r"^(?P<path>[A-Za-z_()]+(?:\[\d+\])?)(?:\.(?P<field>\w+))?: (?P<message>.*)$", re.S)

    def __new__(cls, text: str) -> "Problem":
        self = super().__new__(cls, text)
        match = cls._FORM.match(text)
        self.path = match["path"] if match else ""
        self.field = (match["field"] or "") if match else ""
        self.message = match["message"] if match else text
        return self

    @classmethod
    def of(cls, path: str, field: str, message: str) -> "Problem":
        return cls(f"{path}.{field}: {message}" if field else f"{path}: {message}")


class ConfigError(MailroomError):
    """A setting is missing or invalid; `problems` lists every bad field."""

    kind = "config"
    entry_path: str | None = None     # set by the controller: the path of the entry a form saved

    def __init__(self, message: str, *, problems: list[str] | None = None, field: str | None = None,
                 fix: Fix | None = None):
        super().__init__(message, field=field, fix=fix)
        self.problems: list[Problem] = [p if isinstance(p, Problem) else Problem(p) for p in problems or []]


class CredentialError(MailroomError):
    """No keyring, no stored password, or a password the server rejected."""

    kind = "auth"


class ConnectError(MailroomError):
    """The server could not be reached: DNS, refused, timeout, TLS, certificate."""

    kind = "connect"


class ProtocolError(MailroomError):
    """The server answered, but not as POP3/SMTP should (or lacks a needed feature)."""

    kind = "protocol"


class StorageError(MailroomError):
    """Mailroom's own database or data folder cannot be written (disk full, locked)."""

    kind = "storage"


class SendError(MailroomError):
    """The SMTP server refused a message. `permanent` is True for 5xx replies."""

    kind = "send"

    def __init__(self, message: str, *, permanent: bool = False, kind: str | None = None,
                 field: str | None = None, fix: Fix | None = None):
        super().__init__(message, kind=kind, field=field, fix=fix)
        self.permanent = permanent
