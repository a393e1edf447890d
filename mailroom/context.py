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

from mailroom.errors import ConfigError, Fix
from mailroom.model import Endpoint, Mailbox
from mailroom.secrets import Secrets
from mailroom.settings import repo
from mailroom.settings.document import Document
from mailroom.settings.fields import expand_path
from mailroom.store import mailboxes, schema
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
    """One opened install: its database engine, its id, its keyring access and the
    network timeout every connection of this process uses."""

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

    def mailbox(self, description: str) -> Mailbox:
        """The mailbox called `description`; ConfigError naming the mailboxes there are."""
        with self.engine.connect() as conn:
            return mailboxes.by_description(conn, description)

    def mailbox_endpoint(self, box: Mailbox) -> Endpoint:
        return Endpoint(protocol=box.protocol, host=box.host, port=box.port, security=box.security,
                        username=box.username or box.email, domain=box.domain or "",
                        ca_file=expand_path(box.ca_file), timeout=self.timeout)

    def outgoing_endpoint(self, out: dict | None = None) -> Endpoint:
        """The saved outgoing account's endpoint, or that of the (validated) settings `out`."""
        out = self.settings()["outgoing"] if out is None else out
        if not out.get("host"):
            raise ConfigError("No outgoing (SMTP) server is set up, so Mailroom cannot send email.",
                              field="host", fix=Fix("outgoing", "host"))
        return Endpoint(protocol="smtp", host=out["host"], port=out["port"], security=out["security"],
                        username=out["username"] or "", ca_file=expand_path(out["ca_file"]),
                        timeout=self.timeout)

