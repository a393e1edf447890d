"""The words for each connection failure: one sentence, the kind, the field to fix, and a
server's own words escaped (never a forged log line or a console escape sequence)."""

from __future__ import annotations

import errno
import io
import logging
import socket
import ssl

import pytest

from mailroom.logs import RedactingFilter, printable
from mailroom.model import CertificateFacts, Endpoint
from mailroom.rules import diagnose

POP = Endpoint("pop3", "pop.example.com", 995, "ssl", username="studio@example.com")
GMAIL = Endpoint("pop3", "pop.gmail.com", 995, "ssl", username="studio@gmail.com")
GMAIL_SMTP = Endpoint("smtp", "smtp.gmail.com", 587, "starttls", username="studio@gmail.com")


def cert_error(message: str) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, message)
    exc.verify_message = message
    return exc


@pytest.mark.parametrize("error,kind,field,words", [
    (diagnose.diagnose_socket(POP, socket.gaierror(-2, "Name or service not known")), "dns", "host",
     'The server name "pop.example.com" was not found'),
    (diagnose.diagnose_socket(POP, ConnectionRefusedError()), "connect", "port", "refused the connection"),
    (diagnose.diagnose_socket(POP, TimeoutError()), "timeout", "port", "did not answer within 30 seconds"),
    (diagnose.timeout_error(Endpoint("pop3", "h.example", 995, "none"), speaks_tls=True), "tls", "security",
     "expects an SSL connection"),
    (diagnose.tls_error(POP, ssl.SSLError(1, "wrong version number")), "tls", "security", "does not speak SSL"),
    (diagnose.tls_error(POP, cert_error("self-signed certificate"), CertificateFacts("x", "Home CA", "2030-01-01")),
     "certificate", "ca_file", 'issued by "Home CA", is not trusted (self-signed certificate)'),
    (diagnose.tls_error(POP, cert_error("Hostname mismatch, certificate is not valid for 'pop.example.com'"),
                        CertificateFacts("mail.other.example", "CA", "2030-01-01")),
     "certificate", "host", 'issued for "mail.other.example"'),
    (diagnose.starttls_missing(Endpoint("pop3", "h.example", 110, "starttls")), "starttls", "security",
     "does not offer STLS"),
    (diagnose.starttls_missing(Endpoint("smtp", "h.example", 587, "starttls")), "starttls", "security",
     "does not offer STARTTLS"),
    (diagnose.auth_error(POP, "-ERR [AUTH] Authentication failed."), "auth", "password",
     "rejected the user name or password for studio@example.com"),
    (diagnose.auth_error(GMAIL, "-ERR [AUTH] Username and password not accepted."), "auth", "password",
     "Gmail needs an app password"),
    (diagnose.uidl_missing(POP), "uidl", "host", "does not support the POP3 UIDL command"),
    (diagnose.diagnose_socket(POP, OSError(errno.ENETUNREACH, "Network is unreachable")), "connect", "host",
     "pop.example.com cannot be reached from this computer"),
    (diagnose.diagnose_socket(POP, OSError(errno.EHOSTUNREACH, "No route to host")), "connect", "host",
     "Check the server name"),
    (diagnose.not_smtp(GMAIL_SMTP, -1, "Dovecot ready."), "protocol", "port",
     'answered, but not as an SMTP (outgoing mail) server ("Dovecot ready.")'),
    (diagnose.not_smtp(GMAIL_SMTP, 554, "no SMTP service here"), "connect", "host",
     'refused to serve Mailroom: "554 no SMTP service here"'),
])
def test_each_failure_names_kind_field_and_cause(error, kind, field, words):
    assert (error.kind, error.field) == (kind, field)
    assert words in error.message
    assert "\n" not in error.message


def test_gmail_pop_login_failure_mentions_enabling_pop_but_smtp_does_not():
    assert "POP is enabled" in diagnose.auth_error(GMAIL, "").message
    smtp = diagnose.auth_error(GMAIL_SMTP, "535 5.7.8 Username and Password not accepted").message
    assert "2-Step Verification" in smtp and "POP" not in smtp


def test_domain_logins_use_a_backslash():
    assert Endpoint("pop3", "mail.corp.example", 995, "ssl", username="ann", domain="CORP").login == "CORP\\ann"


@pytest.mark.parametrize("text,shown", [
    ("plain words", "plain words"),
    ("café ✓ naïve", "café ✓ naïve"),
    ("one\ntwo", "one\\ntwo"),
    ("one\r\ntwo", "one\\r\\ntwo"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("nul\x00 del\x7f", "nul\\x00 del\\x7f"),
    ("csi\x9b2J", "csi\\x9b2J"),
    ("tab\there", "tab\\there"),
    ("line\u2028separator", "line\\u2028separator"),
])
def test_printable_escapes_every_control_character(text, shown):
    assert printable(text) == shown


HOSTILE = "no\nJan  1 00:00:00 INFO mailroom: forged\x1b[2J\x1b[31m"


@pytest.mark.parametrize("error", [
    diagnose.auth_error(POP, HOSTILE),
    diagnose.auth_error(GMAIL_SMTP, HOSTILE),
    diagnose.tls_error(Endpoint("pop3", "h.example", 110, "starttls"), ssl.SSLError(1, HOSTILE)),
    diagnose.tls_error(POP, cert_error(HOSTILE)),
    diagnose.duplicate_uidl(POP, "uid\n\x1b[31m", 2),
], ids=["auth", "gmail smtp auth", "tls", "certificate", "uidl"])
def test_a_server_text_is_quoted_escaped_in_every_error(error):
    assert "\n" not in error.message and "\x1b" not in error.message and "\\x1b" in error.message


def test_the_log_filter_writes_each_record_as_one_escaped_line():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("mailroom.test_diagnose")
    logger.addHandler(handler)
    try:
        logger.warning("server said %s", HOSTILE)
        try:
            raise ValueError("inside\x1b[2J")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, *traceback = out.getvalue().splitlines()
    assert first == "server said no\\nJan  1 00:00:00 INFO mailroom: forged\\x1b[2J\\x1b[31m"
    assert "\x1b" not in out.getvalue() and traceback[-1] == "ValueError: inside\\x1b[2J"


@pytest.mark.parametrize("error", [diagnose.too_slow(POP, 60), diagnose.connection_lost(POP, ConnectionResetError())])
def test_a_failure_the_user_tested_is_worded_for_a_test(error):
    assert diagnose.AGAIN in error.message                        # the background check will try again
    worded = diagnose.worded_for_test(error.message)
    assert diagnose.AGAIN not in worded and worded.endswith(diagnose.TEST_AGAIN)
