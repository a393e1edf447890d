"""Network-facing mail code: POP3, SMTP, TLS and the message parser.

`connector_for` names the class that reads each incoming protocol (the `Connector`
contract is in connector.py): the one place a new protocol is added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailroom.errors import ConfigError

if TYPE_CHECKING:
    from mailroom.mail.connector import Connector
    from mailroom.model import Endpoint


def connector_for(endpoint: Endpoint) -> type[Connector]:
    """The Connector class that speaks `endpoint.protocol`."""
    if endpoint.protocol == "pop3":
        from mailroom.mail.pop3 import Pop3Client

        return Pop3Client
    raise ConfigError(f"Mailroom cannot read mail over {endpoint.protocol!r}; use POP3.", field="protocol")
