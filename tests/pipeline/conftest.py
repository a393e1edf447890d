"""In-process fixtures for the import pipeline: an opened Context on a fresh data folder,
talking to the real Secret Service keyring, with a mailbox pointing at a real Dovecot user."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import keyring
import pytest
from keyring.backends import SecretService

from mailroom.context import Context
from mailroom.model import Mailbox
from mailroom.secrets import mailbox_account, outgoing_account
from mailroom.settings import repo
from mailroom.settings.document import validate
from tests.helpers import mailbox, outgoing, settings


@pytest.fixture
def in_process_keyring(real_keyring: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(name, real_keyring[name])
    previous = keyring.get_keyring()
    keyring.set_keyring(SecretService.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def ctx(mailroom_home, in_process_keyring) -> Context:
    return Context.open(timeout=10)


Configure = Callable[..., Mailbox]


@pytest.fixture
def configure(ctx: Context, mailbox_user, smtp, certs) -> Configure:
    """configure(**mailbox_fields, templates=[...], company={...}, users=[...]) → the saved Mailbox.

    One mailbox "Studio" on the test's own Dovecot user over POP3S, plus the outgoing
    account on the test SMTP server; both passwords saved in the real keyring.
    """

    def apply(*, templates: list[dict] = (), company: dict | None = None, password: str | None = None,
              users: list[dict] = (), **fields) -> dict:
        where = dict(port=mailbox_user.dovecot.pop3s_port, user=mailbox_user.name, email=mailbox_user.address,
                     ca_file=certs.ca_crt)
        where.update({k: fields.pop(k) for k in list(fields) if k in where or k == "security"})
        box = mailbox("Studio", **where, **fields)
        doc = settings(mailboxes=[box], outgoing=outgoing(smtp, ca_file=certs.ca_crt),
                       task_types=[{"name": "Inquiry"}], task_statuses=[{"name": "New"}],
                       departments=[{"name": "Front desk"}], templates=list(templates))
        if users:
            doc["users"] = list(users)
        if company:
            doc["company"].update(company)
        canonical, _warnings = validate(doc)
        repo.save(ctx.engine, canonical)
        box = ctx.mailbox("Studio")
        ctx.secrets.set(mailbox_account(box.id), password or mailbox_user.password)
        ctx.secrets.set(outgoing_account(), "studiopw")
        return box

    return apply
