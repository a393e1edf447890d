"""Turn a failed connection attempt into one plain sentence and the field to fix.

Pure: takes the exception (or what a server said), the endpoint and the facts the
shell gathered, returns a MailroomError with `kind` (dns, connect, timeout, tls,
certificate, starttls, auth, uidl, protocol) and `field` (host, port, security, username,
password, ca_file). The clients in mailroom/mail/ (pop3.py, smtp.py) gather the facts
(where it failed, a peeked certificate, whether the port speaks TLS, what it says in
plain text); this module only
decides the words, so every case is table-tested. Whatever a server said is quoted
through `printable`: its control characters never reach a message.
"""

from __future__ import annotations

import errno
import socket
import ssl

from mailroom.errors import ConnectError, CredentialError, MailroomError, ProtocolError
from mailroom.logs import printable
from mailroom.model import CertificateFacts, Endpoint
from mailroom.settings.fields import default_port

_NAMES = {"pop3": "POP3", "smtp": "SMTP"}
# The end of a background check's message where waiting helps; a test the user runs
# says what to do instead (`worded_for_test`).
AGAIN = "Mailroom will try again."
TEST_AGAIN = "Test again in a moment; if it fails again, check the server name and the port."


def _where(ep: Endpoint) -> str:
    return f"{ep.host} port {ep.port}"


def _usual_port(ep: Endpoint) -> str:
    ssl_port, starttls_port = default_port(ep.protocol, "ssl"), default_port(ep.protocol, "starttls")
    if ep.protocol == "smtp":
        return f"{starttls_port} for STARTTLS, {ssl_port} for SSL"
    return f"{ssl_port} for SSL, {starttls_port} for STARTTLS"


def dns_error(ep: Endpoint) -> MailroomError:
    return ConnectError(f'The server name "{ep.host}" was not found. Check the spelling of the server '
                        "name, and that this computer is online.", kind="dns", field="host")


def refused_error(ep: Endpoint, exc: OSError) -> MailroomError:
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        # No route to the server at all: the name (or this computer's network) is at fault, not the port.
        return ConnectError(f"{ep.host} cannot be reached from this computer (there is no route to it). Check "
                            "the server name, and that this computer is online.", kind="connect", field="host")
    why = "refused the connection" if isinstance(exc, ConnectionRefusedError) else "could not be reached"
    return ConnectError(f"Nothing answers at {_where(ep)}: the server {why}. Check the port "
                        f"({_usual_port(ep)}).", kind="connect", field="port")


def timeout_error(ep: Endpoint, *, speaks_tls: bool = False) -> MailroomError:
    if speaks_tls and ep.security != "ssl":
        return ConnectError(f"{_where(ep)} expects an SSL connection, but the security setting is "
                            f'"{ep.security}". Choose SSL for this port.', kind="tls", field="security")
    return ConnectError(f"{_where(ep)} did not answer within {ep.timeout:g} seconds. Check the server "
                        f"name and the port ({_usual_port(ep)}), and that no firewall blocks it.",
                        kind="timeout", field="port")


def too_slow(ep: Endpoint, seconds: float) -> MailroomError:
    return ConnectError(f"{_where(ep)} answers too slowly: one command took more than {seconds:.0f} seconds "
                        f"and was stopped. {AGAIN}", kind="timeout", field=None)


def tls_error(ep: Endpoint, exc: Exception, cert: CertificateFacts | None = None) -> MailroomError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = printable(exc.verify_message or "not trusted").rstrip(".")
        if "hostname mismatch" in reason.lower() or "ip address mismatch" in reason.lower():
            issued = f' (it was issued for "{cert.subject}")' if cert else ""
            return ConnectError(f'The certificate of {ep.host} does not match that name{issued}. '
                                "Check the server name.", kind="certificate", field="host")
        issuer = f', issued by "{cert.issuer}",' if cert else ""
        return ConnectError(f"The certificate of {ep.host}{issuer} is not trusted ({reason}). If this "
                            "is your own server, give Mailroom the CA certificate file that issued it.",
                            kind="certificate", field="ca_file")
    if ep.security == "ssl":
        return ConnectError(f"{_where(ep)} does not speak SSL: the security setting is \"ssl\" but "
                            f"the server answered in plain text. Choose STARTTLS, or use the SSL port "
                            f"({_usual_port(ep)}).", kind="tls", field="security")
    return ConnectError(f"The secure connection to {_where(ep)} failed ({printable(str(exc))}). Check the security "
                        "setting and the port.", kind="tls", field="security")


_GREETING = {"pop3": "+OK", "smtp": "220"}      # RFC 1939 §4, RFC 5321 §4.2
_A_SERVER = {"pop3": "a POP3 (incoming mail) server", "smtp": "an SMTP (outgoing mail) server"}


def answered_in_plain_text(ep: Endpoint, exc: Exception, greeting: str | None) -> MailroomError:
    """SSL was chosen and the server answered in plain text, its first line `greeting`:
    another kind of server on that port (an SMTP server where POP3 was meant), or this
    protocol without SSL (`tls_error` advises STARTTLS or the SSL port)."""
    if greeting and not greeting.startswith(_GREETING.get(ep.protocol, "")):
        return ProtocolError(f'{_where(ep)} is not {_A_SERVER.get(ep.protocol, "a mail server")}: it answered '
                             f'"{printable(greeting)[:80]}". Check the server name and the port '
                             f"({_usual_port(ep)}).", kind="protocol", field="port")
    return tls_error(ep, exc)


def starttls_missing(ep: Endpoint) -> MailroomError:
    verb = "STLS" if ep.protocol == "pop3" else "STARTTLS"
    return ConnectError(f"{_where(ep)} does not offer {verb}, so the password would travel as plain "
                        "text. Mailroom did not send it. Choose SSL (and its port), or ask your "
                        "provider for the secure settings.", kind="starttls", field="security")


def auth_error(ep: Endpoint, server_reply: str) -> MailroomError:
    reply = f' The server said: "{printable(server_reply.strip())}".' if server_reply.strip() else ""
    if ep.is_gmail:
        extra = ("Gmail needs an app password, not your normal password: turn on 2-Step "
                 "Verification, then create one at myaccount.google.com/apppasswords.")
        if ep.protocol == "pop3":
            extra += " Also make sure POP is enabled in Gmail's settings (Forwarding and POP/IMAP)."
        return CredentialError(f"Gmail rejected the login for {ep.login}. {extra}{reply}",
                               kind="auth", field="password")
    return CredentialError(f"{ep.host} rejected the user name or password for {ep.login}. Check both: "
                           f"the user name, and the password saved for this account.{reply}",
                           kind="auth", field="password")


def uidl_missing(ep: Endpoint) -> MailroomError:
    return ProtocolError(f"{ep.host} does not support the POP3 UIDL command, which Mailroom needs to "
                         "remember which messages it has already imported. Use a server that "
                         "supports it.", kind="uidl", field="host")


def duplicate_uidl(ep: Endpoint, uid: str, count: int) -> MailroomError:
    # RFC 1939 section 7: the unique-id of a message is unique within the maildrop.
    return ProtocolError(f'{ep.host} lists {count} different messages under one unique id '
                         f'("{printable(uid[:80])}") in its UIDL listing, which RFC 1939 forbids. Mailroom '
                         "tells messages apart by that id, so it imported and deleted nothing from this "
                         "mailbox; all mail stays on the server. Ask the provider to repair the mailbox.",
                         kind="uidl", field="host")


def not_smtp(ep: Endpoint, code: int, reply: str) -> MailroomError:
    """The server's first words were not an SMTP greeting (RFC 5321 §4.2: "220"): another
    kind of server (a POP3 server says "+OK"), or an SMTP server that will not serve us."""
    said = printable(reply.strip())[:200]
    if code < 0:      # smtplib's code when the line does not start with three digits
        return ProtocolError(f'{_where(ep)} answered, but not as an SMTP (outgoing mail) server ("{said}"). '
                             f"Check the port ({_usual_port(ep)}) and the server name.", kind="protocol",
                             field="port")
    return ConnectError(f'{_where(ep)} refused to serve Mailroom: "{code} {said}".', kind="connect", field="host")


def worded_for_test(message: str) -> str:
    """A failure's message as the result of a test the user is waiting on: the user runs
    the next try, so no promise that Mailroom will try again."""
    return message.replace(AGAIN, TEST_AGAIN)


def server_answered(ep: Endpoint, reply: str) -> str:
    """`host answered: <reply>` for an error message, the reply made printable."""
    return f"{ep.host} answered: {printable(reply)}"


def connection_lost(ep: Endpoint, exc: Exception) -> MailroomError:
    return ConnectError(f"The connection to {_where(ep)} was lost ({type(exc).__name__}). {AGAIN}",
                        kind="connect", field=None)


def diagnose_socket(ep: Endpoint, exc: BaseException) -> MailroomError:
    """Classify an error raised while resolving or connecting."""
    if isinstance(exc, socket.gaierror):
        return dns_error(ep)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return timeout_error(ep)
    if isinstance(exc, ssl.SSLError):
        return tls_error(ep, exc)
    if isinstance(exc, OSError):
        return refused_error(ep, exc)
    return connection_lost(ep, exc)
