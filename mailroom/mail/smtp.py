"""Sending mail over SMTP: STARTTLS on 587, implicit TLS on 465, plain only when chosen.

STARTTLS required means required (SECURITY.md #16): a server that does not offer it
gets no password and no message. Every failure leaves as a MailroomError; SMTP
replies keep their code so the outbox can tell temporary (4xx) from permanent (5xx).
smtplib's debuglevel stays 0: at higher levels it prints AUTH exchanges.

Each step (connect and greeting, EHLO/STARTTLS, login, one message's transaction,
QUIT) has a wall-clock deadline (`deadline.budget`), kept by a Watchdog, so a server
that trickles its replies cannot hold the outbox. An envelope address with a control
character is refused before anything is sent: in a command line it would end the
command and start another (RFC 5321 §2.3.8).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from email.message import EmailMessage

from mailroom.errors import MailroomError, SendError
from mailroom.logs import printable
from mailroom.mail.deadline import Watchdog, budget
from mailroom.mail.tls import client_context, expects_ssl, peek_certificate, plain_greeting
from mailroom.model import Endpoint
from mailroom.rules import diagnose

# Any line end: the wire needs CRLF (RFC 5321 section 2.3.8); rows queued by an older
# version carry bare LF.
_LINE_END = re.compile(rb"\r\n|\r|\n")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _step(ep: Endpoint, smtp: smtplib.SMTP, size: int = 0) -> Watchdog:
    """The deadline of one step of the session: twice the timeout (a step is a few
    round trips), plus time for `size` bytes."""
    return Watchdog(lambda: getattr(smtp, "sock", None), budget(2 * ep.timeout, size))


class SmtpClient:
    """One authenticated SMTP session."""

    def __init__(self, endpoint: Endpoint, smtp: smtplib.SMTP):
        self.ep = endpoint
        self._smtp = smtp

    @classmethod
    def open(cls, ep: Endpoint, password: str | None) -> "SmtpClient":
        smtp = _connect(ep)
        try:
            _within_deadline(ep, smtp, _secure)
            if ep.login and password is not None:
                _within_deadline(ep, smtp, lambda ep, smtp: _login(ep, smtp, password))
        except BaseException:
            smtp.close()
            raise
        return cls(ep, smtp)

    def __enter__(self) -> "SmtpClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        """Send one message; SendError(permanent=True) for a 5xx refusal or an address that
        cannot go over SMTP (a control character; non-ASCII, which needs SMTPUTF8): then
        nothing is sent."""
        _check_address(sender, "from", "sender")
        for recipient in recipients:
            _check_address(recipient, "to", "recipient")
        raw = _LINE_END.sub(b"\r\n", raw)
        with _step(self.ep, self._smtp, len(raw)) as watchdog:
            try:
                refused = self._smtp.sendmail(sender, recipients, raw)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError,
                    smtplib.SMTPServerDisconnected, OSError) as exc:
                raise self._too_slow(raw) if watchdog.fired else _send_error(self.ep, exc) from None
            if watchdog.fired:
                raise self._too_slow(raw)     # a reply the watchdog cut can still parse ("250")
        if refused:
            code, reply = next(iter(refused.values()))
            raise _refusal(code, reply, "refused a recipient")

    def _too_slow(self, raw: bytes) -> SendError:
        # Mid-transaction the server may have the message: kind "connect", as for a lost
        # connection, so the outbox marks it uncertain and never sends it a second time.
        return SendError(f"{self.ep.host} answered too slowly while sending and was cut off after "
                         f"{budget(2 * self.ep.timeout, len(raw)):.0f} seconds.", kind="connect")

    def send_message(self, msg: EmailMessage) -> None:
        recipients = [a.addr_spec for h in ("To", "Cc", "Bcc") for a in (msg[h].addresses if msg[h] else ())]
        self.send(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")), msg["From"].addresses[0].addr_spec,
                  recipients)

    def close(self) -> None:
        with _step(self.ep, self._smtp):
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()


def _check_address(address: str, field: str, what: str) -> None:
    # RFC 5321 §4.1.2: no control character belongs in a mailbox; CR LF would end the
    # MAIL/RCPT command and let the rest be read as a command of its own.
    if _CONTROL.search(address):
        raise SendError(f"The {what} address {printable(address)!s} contains a control character "
                        "(such as a line break); Mailroom sent nothing.", permanent=True, field=field)
    if not address.isascii():
        # smtplib would raise UnicodeEncodeError halfway through the envelope.
        raise SendError(f"Not sent: {address} has non-ASCII characters, which needs SMTPUTF8 "
                        "(RFC 6531); Mailroom sends to ASCII addresses only.", permanent=True, field=field)


def _send_error(ep: Endpoint, exc: Exception) -> SendError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return _refusal(code, reply, "refused the recipient")
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return _refusal(exc.smtp_code, exc.smtp_error, "refused the message")
    return SendError(f"The connection to {ep.host} was lost while sending ({printable(str(exc))}).",
                     kind="connect")


def _refusal(code: int, reply: bytes | str, what: str) -> SendError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return SendError(f"The server {what}: {code} {printable(text)}", permanent=500 <= code < 600)


def _connect(ep: Endpoint) -> smtplib.SMTP:
    if ep.security == "ssl":
        smtp = smtplib.SMTP_SSL(timeout=ep.timeout, context=client_context(ep.ca_file))
    else:
        smtp = smtplib.SMTP(timeout=ep.timeout)
    # Connected below, not by the constructor, so the watchdog sees the socket; but
    # starttls() takes the TLS server name from _host, which only the constructor sets.
    smtp._host = ep.host
    try:
        _within_deadline(ep, smtp, _connect_to)
    except MailroomError:
        smtp.close()
        raise
    return smtp


def _within_deadline(ep: Endpoint, smtp: smtplib.SMTP, step) -> None:
    """step(ep, smtp) under its deadline; the connection the watchdog cut is reported as
    the server's slowness (a timeout or TLS finding made meanwhile stays what it is)."""
    with _step(ep, smtp) as watchdog:
        try:
            step(ep, smtp)
        except MailroomError as exc:
            if watchdog.fired and exc.kind == "connect":
                raise diagnose.too_slow(ep, budget(2 * ep.timeout)) from None
            raise
        if watchdog.fired:          # a reply cut short can still parse: the session is gone
            raise diagnose.too_slow(ep, budget(2 * ep.timeout))


def _connect_to(ep: Endpoint, smtp: smtplib.SMTP) -> None:
    try:
        code, reply = smtp.connect(ep.host, ep.port)
        if code != 220:
            smtp.close()
            raise smtplib.SMTPConnectError(code, reply)
    except ssl.SSLCertVerificationError as exc:
        raise diagnose.tls_error(ep, exc, _peek(ep)) from None
    except (smtplib.SMTPServerDisconnected, TimeoutError, socket.timeout) as exc:
        # No greeting (cut, or none in time): a port that expects SSL at once behaves so.
        if expects_ssl(ep):
            raise diagnose.timeout_error(ep, speaks_tls=True) from None
        # smtplib turns a read that timed out into SMTPServerDisconnected; the server was
        # silent, not cut off (nor slow: it said nothing at all).
        timed_out = isinstance(exc.__context__, (TimeoutError, socket.timeout))
        if isinstance(exc, smtplib.SMTPServerDisconnected) and not timed_out:
            raise diagnose.connection_lost(ep, exc) from None
        raise diagnose.timeout_error(ep) from None
    except smtplib.SMTPResponseException as exc:
        # Before OSError, which smtplib's exceptions derive from: the server did answer.
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise diagnose.not_smtp(ep, exc.smtp_code, reply) from None
    except ssl.SSLError as exc:
        if ep.security == "ssl":            # plain text came back: from which kind of server?
            raise diagnose.answered_in_plain_text(ep, exc, plain_greeting(ep.host, ep.port, ep.timeout)) from None
        raise diagnose.tls_error(ep, exc) from None
    except OSError as exc:
        raise diagnose.diagnose_socket(ep, exc) from None
    except smtplib.SMTPException as exc:
        raise diagnose.connection_lost(ep, exc) from None


def _secure(ep: Endpoint, smtp: smtplib.SMTP) -> None:
    try:
        smtp.ehlo()
        if ep.security != "starttls":
            return
        if not smtp.has_extn("starttls"):
            raise diagnose.starttls_missing(ep)
        smtp.starttls(context=client_context(ep.ca_file))
        smtp.ehlo()
    except MailroomError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise diagnose.tls_error(ep, exc, _peek(ep)) from None
    except (TimeoutError, socket.timeout):
        raise diagnose.timeout_error(ep) from None
    except (OSError, ssl.SSLError, smtplib.SMTPException) as exc:
        raise diagnose.tls_error(ep, exc) if isinstance(exc, ssl.SSLError) else diagnose.connection_lost(ep, exc) from None


def _login(ep: Endpoint, smtp: smtplib.SMTP, password: str) -> None:
    try:
        smtp.login(ep.login, password)
    except smtplib.SMTPAuthenticationError as exc:
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise diagnose.auth_error(ep, f"{exc.smtp_code} {reply}") from None
    except smtplib.SMTPNotSupportedError:
        raise diagnose.auth_error(ep, "the server does not offer login (AUTH) on this connection") from None
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise diagnose.connection_lost(ep, exc) from None


def _peek(ep: Endpoint):
    try:
        raw = socket.create_connection((ep.host, ep.port), timeout=ep.timeout)
        if ep.security == "starttls":
            smtp = smtplib.SMTP()
            smtp.sock = raw
            smtp.getreply()
            smtp.ehlo()
            smtp.docmd("STARTTLS")
        return peek_certificate(raw, ep.host)
    except (OSError, smtplib.SMTPException):
        return None
