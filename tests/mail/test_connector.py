"""The Connector contract: POP3 keeps it, and opening asks for the password at the right time."""

from __future__ import annotations

import inspect

import pytest

from mailroom.errors import ConfigError, ConnectError, CredentialError
from mailroom.mail import connector_for
from mailroom.mail.connector import Connector
from mailroom.mail.pop3 import Pop3Client
from mailroom.model import Endpoint
from tests.servers.scripted import ScriptedPop3, closed_port

MESSAGES = [b"From: client@example.com\r\nSubject: note\r\n\r\nA short note.\r\n"]


def test_pop3_keeps_every_part_of_the_contract():
    methods = [name for name, _ in inspect.getmembers(Connector, inspect.isfunction) if not name.startswith("_")]
    assert {"stat", "uidl", "list_sizes", "top", "top_many", "retr_many", "retr_to", "dele", "quit",
            "close"} <= set(methods)
    for name in methods:
        assert list(inspect.signature(getattr(Pop3Client, name)).parameters) == \
            list(inspect.signature(getattr(Connector, name)).parameters), name
    assert list(inspect.signature(Pop3Client.open).parameters)[:2] == ["endpoint", "password"]
    assert connector_for(Endpoint("pop3", "pop.example.com", 995, "ssl")) is Pop3Client


def test_another_protocol_is_a_setting_to_fix():
    with pytest.raises(ConfigError) as caught:
        connector_for(Endpoint("imap", "imap.example.com", 993, "ssl"))
    assert caught.value.field == "protocol"


def test_the_password_is_asked_for_once_connected_before_login():
    with ScriptedPop3(MESSAGES) as server:
        ep = Endpoint("pop3", server.host, server.port, "none", username=server.user, timeout=10)
        seen_when_asked = []

        def password() -> str:
            seen_when_asked.append([c for session in server.sessions for c in session])
            return server.password

        with Pop3Client.open(ep, password) as pop:
            assert pop.uidl() == {1: pop.uidl()[1]}
            pop.quit()
    assert seen_when_asked == [["CAPA"]]          # connected, nothing of the login sent yet


def test_a_keyring_failure_is_reported_before_a_connection_failure():
    ep = Endpoint("pop3", "127.0.0.1", closed_port(), "none", username="u", timeout=5)

    def no_keyring() -> str:
        raise CredentialError("No password store (keyring) is available.", kind="keyring", field="password")

    with pytest.raises(CredentialError):
        Pop3Client.open(ep, no_keyring)
    with pytest.raises(ConnectError):
        Pop3Client.open(ep, lambda: "pw")
