"""The opened install: its store, its keyring access and its settings.

One `Context` per process, created by `Context.open()`; the CLI, the worker and (later)
the tray and web page all use it. It knows how to turn stored settings into
`Endpoint`s (a `~` in a stored ca_file expanded, as settings saved before validation
stored absolute paths may hold one), and nothing about sockets.
"""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mailroom.errors import ConfigError
from mailroom.model import Endpoint
from mailroom.secrets import Secrets
from mailroom.settings import repo
from mailroom.settings.document import Document
from mailroom.settings.fields import expand_path
from mailroom.store import schema
from mailroom.store.db import open_store


def meta_value(engine: Engine, key: str, make) -> str:
    """The install-wide value `key`, created with `make()` the first time."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == key)).first()
        if row:
            return row[0]
        value = make()
        conn.execute(schema.meta.insert().values(key=key, value=value))
        return value


@dataclass
class Context:
    engine: Engine
    install_id: str
    secrets: Secrets
    timeout: float = 30.0

    @classmethod
    def open(cls, url: str | None = None, *, timeout: float = 30.0) -> "Context":
        engine = open_store(url)
        install_id = meta_value(engine, "install_id", lambda: pysecrets.token_hex(8))
        return cls(engine=engine, install_id=install_id, secrets=Secrets(install_id), timeout=timeout)

    def signing_secret(self) -> bytes:
        """The key that signs our outgoing Message-IDs (not a password: never leaves the store)."""
        return bytes.fromhex(meta_value(self.engine, "message_id_key", lambda: pysecrets.token_hex(32)))

    def settings(self) -> Document:
        return repo.load(self.engine)

    def mailbox(self, description: str) -> tuple[int, dict]:
        """(id, settings) of the mailbox called `description`; ConfigError naming the choices."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(schema.mailboxes.c.id).where(
                schema.mailboxes.c.description == description)).first()
        if row is None:
            names = [b["description"] for b in self.settings()["mailboxes"]]
            known = (", ".join(f'"{n}"' for n in names) + "." if names else
                     "none yet; add them to a settings file and import it, see: mailroom config import --help")
            raise ConfigError(f'No mailbox is called "{description}". Mailboxes: {known}', field="description")
        box = next(b for b in self.settings()["mailboxes"] if b["description"] == description)
        return row[0], box

    def mailbox_endpoint(self, box: dict) -> Endpoint:
        return Endpoint(protocol="pop3", host=box["host"], port=box["port"], security=box["security"],
                        username=box["username"] or box["email"], domain=box["domain"] or "",
                        ca_file=expand_path(box["ca_file"]), timeout=self.timeout)

    def outgoing_endpoint(self) -> Endpoint:
        out = self.settings()["outgoing"]
        if not out.get("host"):
            raise ConfigError("No outgoing (SMTP) server is set: add an [outgoing] section to the "
                              "settings file and import it again, see: mailroom config import --help", field="host")
        return Endpoint(protocol="smtp", host=out["host"], port=out["port"], security=out["security"],
                        username=out["username"] or "", ca_file=expand_path(out["ca_file"]),
                        timeout=self.timeout)

