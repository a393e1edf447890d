"""Self-tests of the harness: the real servers start, speak TLS with the test CA, and can
misbehave on request. They use only the standard library as clients (not `mailroom`)."""

from __future__ import annotations

import email
import email.policy
import imaplib
import poplib
import re
import smtplib
import socket
import ssl
import subprocess
import sys
from email.message import EmailMessage

import pytest

from tests.mailgen import make_message
from tests.servers.certs import UNTRUSTED_CN, CertPaths
from tests.servers.dovecot import Dovecot, MailUser, living_group_members, make_root_dir
from tests.servers.scripted import ScriptedPop3, closed_port, silent_port
from tests.servers.smtp import SmtpServers


def pop3s_login(port: int, user: str, password: str, ctx: ssl.SSLContext) -> poplib.POP3_SSL:
    pop = poplib.POP3_SSL("localhost", port, context=ctx, timeout=10)
    try:
        pop.user(user)
        pop.pass_(password)
    except BaseException:
        pop.close()
        raise
    return pop


# ------------------------------------------------------------------ Dovecot


def test_pop3s_login_uidl_retr_dele(dovecot: Dovecot, mailbox_user: MailUser, certs: CertPaths) -> None:
    raws = [make_message(i) for i in range(3)]
    mailbox_user.deliver_many(raws)
    pop = pop3s_login(dovecot.pop3s_port, mailbox_user.name, mailbox_user.password, certs.client_context())
    try:
        assert pop.stat()[0] == 3
        uidls = [line.split()[1] for line in pop.uidl()[1]]
        assert len(set(uidls)) == 3 and all(re.fullmatch(rb"[0-9a-f]{16}", u) for u in uidls)
        assert b"\r\n".join(pop.retr(2)[1]) + b"\r\n" == raws[1]
        pop.dele(1)
    finally:
        pop.quit()
    assert mailbox_user.message_count() == 2
    (session,) = mailbox_user.wait_pop3_logouts(1)
    assert (session["retr"], session["dele"], session["msgs"]) == (1, 1, 3)


def test_pop3_stls_and_capabilities(dovecot: Dovecot, mailbox_user: MailUser, certs: CertPaths) -> None:
    mailbox_user.deliver(make_message(0))
    pop = poplib.POP3("localhost", dovecot.pop3_port, timeout=10)
    try:
        capa = pop.capa()
        assert {"STLS", "UIDL", "TOP", "PIPELINING", "USER"} <= capa.keys()
        pop.stls(context=certs.client_context())
        pop.user(mailbox_user.name)
        pop.pass_(mailbox_user.password)
        assert pop.stat()[0] == 1
    finally:
        pop.quit()


def test_tls_is_verified_against_the_test_ca_only(dovecot: Dovecot) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        poplib.POP3_SSL("localhost", dovecot.pop3s_port, context=ssl.create_default_context(), timeout=10)


def test_bad_password_is_refused_quickly(dovecot: Dovecot, mailbox_user: MailUser, certs: CertPaths) -> None:
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication failed"):
        pop3s_login(dovecot.pop3s_port, mailbox_user.name, "wrong", certs.client_context())
    # anvil's auth penalty is off: the right password works straight after a wrong one
    pop3s_login(dovecot.pop3s_port, mailbox_user.name, mailbox_user.password, certs.client_context()).quit()


@pytest.mark.parametrize("login", ["gmailtest@example.com", "CORP\\frontdesk"])
def test_gmail_and_exchange_style_logins(dovecot: Dovecot, certs: CertPaths, login: str) -> None:
    pop3s_login(dovecot.pop3s_port, login, dovecot.users[login], certs.client_context()).quit()


def test_imaps_login_and_search(dovecot: Dovecot, mailbox_user: MailUser, certs: CertPaths) -> None:
    mailbox_user.deliver_many(make_message(i) for i in range(2))
    with imaplib.IMAP4_SSL("localhost", dovecot.imaps_port, ssl_context=certs.client_context(), timeout=10) as imap:
        imap.login(mailbox_user.name, mailbox_user.password)
        imap.select("INBOX")
        assert imap.search(None, "ALL")[1][0].split() == [b"1", b"2"]


def test_no_stls_variant_does_not_offer_stls(dovecot_no_stls: Dovecot, certs: CertPaths) -> None:
    assert dovecot_no_stls.pop3s_port is None and dovecot_no_stls.imaps_port is None
    pop = poplib.POP3("localhost", dovecot_no_stls.pop3_port, timeout=10)
    try:
        assert "STLS" not in pop.capa()
        with pytest.raises(poplib.error_proto):
            pop.stls(context=certs.client_context())
    finally:
        pop.quit()


def test_untrusted_variant_names_its_issuer(dovecot_untrusted: Dovecot, certs: CertPaths) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed"):
        poplib.POP3_SSL("localhost", dovecot_untrusted.pop3s_port, context=certs.client_context(), timeout=10)
    trusting = ssl.create_default_context(cafile=str(certs.untrusted_crt))
    pop = poplib.POP3_SSL("localhost", dovecot_untrusted.pop3s_port, context=trusting, timeout=10)
    try:
        issuer = dict(rdn[0] for rdn in pop.sock.getpeercert()["issuer"])
    finally:
        pop.quit()
    assert issuer["commonName"] == UNTRUSTED_CN


def test_restart_keeps_ports_changes_uidls_and_leaves_no_process(certs: CertPaths) -> None:
    dc = Dovecot(make_root_dir(), certs, {"solo": "solopw"})
    try:
        dc.start()
        dc.deliver("solo", make_message(0))
        ports, pgid = (dc.pop3_port, dc.pop3s_port, dc.imaps_port), dc._proc.pid
        pop = pop3s_login(dc.pop3s_port, "solo", "solopw", certs.client_context())
        before = pop.uidl()[1]
        pop.quit()
        dc.stop()
        assert living_group_members(pgid) == []
        dc.uidl_format = "%g"  # same mail, new UIDLs
        dc.start()
        assert (dc.pop3_port, dc.pop3s_port, dc.imaps_port) == ports
        pop = pop3s_login(dc.pop3s_port, "solo", "solopw", certs.client_context())
        after = pop.uidl()[1]
        pop.quit()
        assert len(after) == 1 and after != before
    finally:
        dc.close()
    assert not dc.root.exists()


# ------------------------------------------------------------------ SMTP


def _message(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "studio@localhost"
    msg["To"] = "client@example.com"
    msg["Subject"] = subject
    msg.set_content("Thanks, we got your message.")
    return msg


def test_smtp_starttls_auth_send_is_captured(smtp: SmtpServers, certs: CertPaths) -> None:
    with smtplib.SMTP("localhost", smtp.submission_port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")  # no AUTH before TLS
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail("studio@localhost", ["x@example.com"], b"Subject: x\r\n\r\nx\r\n")
        client.starttls(context=certs.client_context())
        client.login("studio@localhost", smtp.users["studio@localhost"])
        client.send_message(_message("via submission"))
    (got,) = smtp.capture.wait_for(1)
    assert got["listener"] == "submission" and got["tls"] and got["login"] == "studio@localhost"
    assert got["rcpt_tos"] == ["client@example.com"] and got["msg"]["Subject"] == "via submission"


def test_smtp_implicit_tls_send_is_captured(smtp: SmtpServers, certs: CertPaths) -> None:
    with smtplib.SMTP_SSL("localhost", smtp.smtps_port, context=certs.client_context(), timeout=10) as client:
        client.login("studio@localhost", smtp.users["studio@localhost"])
        client.send_message(_message("via smtps"))
    (got,) = smtp.capture.wait_for(1)
    assert got["listener"] == "smtps" and got["tls"] and got["login"] == "studio@localhost"
    assert isinstance(got["msg"], EmailMessage) and got["raw"].startswith(b"From: studio@localhost")


def test_smtp_auth_failure_and_untrusted_listener(smtp: SmtpServers, certs: CertPaths) -> None:
    with (
        smtplib.SMTP_SSL("localhost", smtp.smtps_port, context=certs.client_context(), timeout=10) as client,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        client.login("studio@localhost", "wrong")
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed"):
        smtplib.SMTP_SSL("localhost", smtp.smtps_untrusted_port, context=certs.client_context(), timeout=10)


def test_smtp_plain_listener_offers_no_starttls(smtp: SmtpServers) -> None:
    with smtplib.SMTP("localhost", smtp.plain_port, timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("starttls")


def test_smtp_temporarily_down_comes_back_on_the_same_port(smtp: SmtpServers, certs: CertPaths) -> None:
    with smtp.temporarily_down(), pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("localhost", smtp.submission_port, timeout=10)
    with smtplib.SMTP_SSL("localhost", smtp.smtps_port, context=certs.client_context(), timeout=10) as client:
        assert client.noop()[0] == 250


# ------------------------------------------------------------------ keyring

KEYRING_CHILD = """
import keyring
kr = keyring.get_keyring()
print(type(kr).__module__ + "." + type(kr).__name__)
keyring.set_password("mailroom-harness", "studio", "s3cret-canary")
print(keyring.get_password("mailroom-harness", "studio"))
"""


def test_real_keyring_is_secret_service(real_keyring: dict[str, str]) -> None:
    assert "DISPLAY" not in real_keyring and "PYTHON_KEYRING_BACKEND" not in real_keyring
    first = subprocess.run([sys.executable, "-c", KEYRING_CHILD], env=real_keyring,
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["keyring.backends.SecretService.Keyring", "s3cret-canary"]
    again = subprocess.run(
        [sys.executable, "-c", "import keyring; print(keyring.get_password('mailroom-harness', 'studio'))"],
        env=real_keyring, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert again.stdout.strip() == "s3cret-canary", again.stderr


# ------------------------------------------------------------------ scripted POP3


def scripted_login(server: ScriptedPop3, **kw) -> poplib.POP3:
    pop = poplib.POP3(server.host, server.port, timeout=5, **kw)
    try:
        pop.user(server.user)
        pop.pass_(server.password)
    except BaseException:
        pop.close()
        raise
    return pop


def test_scripted_cut_retr_is_an_error(certs: CertPaths) -> None:
    with ScriptedPop3([make_message(0, attachment_kb=4)], cut_retr_at=1000) as server:
        pop = scripted_login(server)
        try:
            with pytest.raises(poplib.error_proto):
                pop.retr(1)
        finally:
            pop.close()
        server.cut_retr_at = None  # the next session gets the whole message
        pop = scripted_login(server)
        assert b"\r\n".join(pop.retr(1)[1]) + b"\r\n" == make_message(0, attachment_kb=4)
        pop.quit()
    assert server.errors == []


def test_scripted_without_uidl() -> None:
    with ScriptedPop3([make_message(0)], uidl=False) as server:
        pop = scripted_login(server)
        try:
            assert "UIDL" not in pop.capa()
            with pytest.raises(poplib.error_proto, match="-ERR"):
                pop.uidl()
            assert pop.stat() == (1, len(make_message(0)))
        finally:
            pop.quit()


def test_scripted_malformed_reply_and_tls(certs: CertPaths) -> None:
    with ScriptedPop3([make_message(0)], overrides={"STAT": b"+OK banana\r\n"},
                      ssl_context=certs.server_context()) as server:  # fmt: skip
        pop = poplib.POP3_SSL(server.host, server.port, context=certs.client_context(), timeout=5)
        try:
            pop.user(server.user)
            pop.pass_(server.password)
            with pytest.raises(ValueError):
                pop.stat()
            assert server.sessions[-1][-1] == "STAT"
        finally:
            pop.quit()


def test_stalls_and_refusals_time_out_or_fail_fast() -> None:
    with ScriptedPop3(stall=True) as server, socket.create_connection((server.host, server.port), 5) as s:
        s.settimeout(0.2)
        with pytest.raises(TimeoutError):
            s.recv(10)
    with silent_port() as port, socket.create_connection(("127.0.0.1", port), 5) as s:
        s.settimeout(0.2)
        with pytest.raises(TimeoutError):
            s.recv(10)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port()), 5)


# ------------------------------------------------------------------ mailgen


def test_make_message_is_deterministic_rfc5322() -> None:
    raw = make_message(7, html=True, attachment_kb=2, extra_headers=[("In-Reply-To", "<a@b>")])
    assert raw == make_message(7, html=True, attachment_kb=2, extra_headers=[("In-Reply-To", "<a@b>")])
    assert b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["In-Reply-To"] == "<a@b>" and msg["To"] == "studio@localhost"
    assert msg.get_body(("html",)) is not None
    assert [a.get_filename() for a in msg.iter_attachments()] == ["document-7.pdf"]
    assert len({make_message(i) for i in range(50)}) == 50
