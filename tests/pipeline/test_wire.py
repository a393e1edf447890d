"""What a hostile server or a bad setting could do on the wire: trickle, inject, forge.

Each command has a wall-clock deadline (a server sending one byte every few seconds
never trips a per-read timeout); control characters in a login or an envelope address
never reach the server; a server's text with LF or ESC in it reaches an error message
and a log line escaped, as one line.
"""

from __future__ import annotations

import io
import logging

import pytest

from mailroom.errors import ConfigError, ConnectError, SendError
from mailroom.fetch import MailboxRun
from mailroom.logs import RedactingFilter
from mailroom.mail.pop3 import Pop3Client
from mailroom.mail.smtp import SmtpClient
from mailroom.model import Endpoint
from tests.servers.scripted import ScriptedPop3, ScriptedSmtp

SHORT = [b"From: client%d@example.com\r\nSubject: note %d\r\n\r\nA short note.\r\n" % (i, i) for i in range(20)]


def scripted_box(configure, server: ScriptedPop3, **fields) -> dict:
    return configure(host="127.0.0.1", port=server.port, security="none", user=server.user,
                     email="studio@localhost", ca_file=None, password=server.password, **fields)


def received(server: ScriptedPop3) -> list[str]:
    return [command for session in server.sessions for command in session]


# --- 2. deadlines ------------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["UIDL", "RETR"])
def test_a_pop3_server_trickling_a_reply_is_cut_at_its_deadline(ctx, configure, verb):
    # One byte every 20 ms: no read ever waits the 1 s timeout, the reply takes ~8 s.
    with ScriptedPop3(SHORT, trickle={verb: 0.02}) as server:
        box = scripted_box(configure, server)
        ctx.timeout = 1
        report = MailboxRun(ctx, box).run()
    assert report.error_kind == "timeout" and "answers too slowly" in report.error, report.error
    assert report.imported == 0


def smtp_endpoint(server: ScriptedSmtp, timeout: float = 1) -> Endpoint:
    return Endpoint("smtp", server.host, server.port, "none", timeout=timeout)


def test_an_smtp_server_trickling_its_greeting_or_ehlo_is_cut_at_the_deadline():
    with ScriptedSmtp(trickle={"EHLO": 0.02}) as server:          # ~12 s for the whole EHLO reply
        with pytest.raises(ConnectError) as caught:
            SmtpClient.open(smtp_endpoint(server), None)
    assert caught.value.kind == "timeout" and "answers too slowly" in caught.value.message


def test_an_smtp_server_trickling_after_the_message_is_cut_and_never_retried():
    with ScriptedSmtp(trickle={"DATA": 0.1}) as server:           # ~5 s for the last reply
        with SmtpClient.open(smtp_endpoint(server), None) as client:
            with pytest.raises(SendError) as caught:
                client.send(b"Subject: hi\r\n\r\nhello\r\n", "studio@example.com", ["client@example.com"])
    # The server may have the message: "connect" makes the outbox mark it uncertain, not resend it.
    assert (caught.value.kind, caught.value.permanent) == ("connect", False)
    assert "too slowly" in caught.value.message


# --- 5. no control characters on the wire ----------------------------------------------------

@pytest.mark.parametrize("field,username,domain,password", [
    ("username", "scripted\r\nDELE 1", "", "scriptedpw"),
    ("username", "scripted\x00", "", "scriptedpw"),
    ("domain", "scripted", "CORP\r\nDELE 1", "scriptedpw"),
    ("password", "scripted", "", "scriptedpw\r\nDELE 1"),
    ("password", "scripted", "", "scriptedpw\nDELE 1"),
])
def test_a_line_break_in_a_login_never_reaches_the_pop3_server(field, username, domain, password):
    with ScriptedPop3(SHORT) as server:
        ep = Endpoint("pop3", server.host, server.port, "none", username=username, domain=domain, timeout=10)
        with pytest.raises(ConfigError) as caught:
            Pop3Client.open(ep, lambda: password)
    assert caught.value.field == field
    assert password not in caught.value.message and "\n" not in caught.value.message
    assert received(server) == ["CAPA"]                  # no USER, no PASS, no DELE
    assert len(server.mailbox) == 20


@pytest.mark.parametrize("field,sender,recipient", [
    ("to", "studio@example.com", "client@example.com\r\nRCPT TO:<evil@example.com>"),
    ("to", "studio@example.com", "client@example.com\x00"),
    ("from", "studio@example.com>\r\nRCPT TO:<evil@example.com", "client@example.com"),
])
def test_a_line_break_in_an_envelope_address_never_reaches_the_smtp_server(field, sender, recipient):
    with ScriptedSmtp() as server:
        with SmtpClient.open(smtp_endpoint(server, timeout=10), None) as client:
            with pytest.raises(SendError) as caught:
                client.send(b"Subject: hi\r\n\r\nhello\r\n", sender, [recipient])
    assert (caught.value.field, caught.value.permanent) == (field, True)    # failed for good, not retried
    assert "\n" not in caught.value.message
    assert [c.split()[0].upper() for c in server.commands] == ["EHLO", "QUIT"]
    assert server.messages == []


# --- 6. a server's words are escaped ---------------------------------------------------------

def test_a_hostile_error_text_becomes_one_escaped_line_in_the_error_and_the_log(ctx, configure):
    forged = b"-ERR [AUTH] no\nJan  1 00:00:00 INFO mailroom: all mail deleted \x1b[31mred\x1b[0m\r\n"
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("mailroom")
    logger.addHandler(handler)
    try:
        with ScriptedPop3(SHORT, overrides={"PASS": forged}) as server:
            report = MailboxRun(ctx, scripted_box(configure, server)).run()
    finally:
        logger.removeHandler(handler)
    assert report.error_kind == "auth"
    assert "\n" not in report.error and "\x1b" not in report.error
    assert "no\\nJan  1 00:00:00 INFO mailroom: all mail deleted \\x1b[31mred\\x1b[0m" in report.error
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("WARNING mailroom.fetch: mailbox Studio: ")
    assert "\x1b" not in out.getvalue() and "\\x1b[31m" in lines[0]
