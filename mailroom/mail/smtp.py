"""Sending mail over SMTP: STARTTLS on 587, implicit TLS on 465, plain only when chosen.

STARTTLS required means required (SECURITY.md #16): a server that does not offer it
gets no password and no message. Every failure leaves as a MailroomError; SMTP
replies keep their code so the outbox can tell temporary (4xx) from permanent (5xx).
smtplib's debuglevel stays 0: at higher levels it prints AUTH exchanges.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from email.message import EmailMessage

from mailroom.errors import MailroomError, SendError
from mailroom.mail import diagnose
from mailroom.mail.tls import client_context, peek_certificate, port_speaks_tls
from mailroom.model import Endpoint

# Any line end: the wire needs CRLF (RFC 5321 section 2.3.8); rows queued by an older
# version carry bare LF.
_LINE_END = re.compile(rb"\r\n|\r|\n")


class SmtpClient:
    """One authenticated SMTP session."""

    def __init__(self, endpoint: Endpoint, smtp: smtplib.SMTP):
        self.ep = endpoint
        self._smtp = smtp

    @classmethod
    def open(cls, ep: Endpoint, password: str | None) -> "SmtpClient":
        smtp = _connect(ep)
        try:
            _secure(ep, smtp)
            if ep.login and password is not None:
                _login(ep, smtp, password)
        except BaseException:
            smtp.close()
            raise
        return cls(ep, smtp)

    def __enter__(self) -> "SmtpClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        """Send one message; SendError(permanent=True) for a 5xx refusal or an address
        that cannot go over SMTP without SMTPUTF8 (then nothing is sent)."""
        for address in (sender, *recipients):
            if not address.isascii():
                # smtplib would raise UnicodeEncodeError halfway through the envelope.
                raise SendError(f"Not sent: {address} has non-ASCII characters, which needs SMTPUTF8 "
                                "(RFC 6531); Mailroom sends to ASCII addresses only.", permanent=True)
        raw = _LINE_END.sub(b"\r\n", raw)
        try:
            refused = self._smtp.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _refusal(code, reply, "refused the recipient") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _refusal(exc.smtp_code, exc.smtp_error, "refused the message") from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise SendError(f"The connection to {self.ep.host} was lost while sending ({exc}).",
                            kind="connect") from None
        if refused:
            code, reply = next(iter(refused.values()))
            raise _refusal(code, reply, "refused a recipient")

    def send_message(self, msg: EmailMessage) -> None:
        recipients = [a.addr_spec for h in ("To", "Cc", "Bcc") for a in (msg[h].addresses if msg[h] else ())]
        self.send(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")), msg["From"].addresses[0].addr_spec,
                  recipients)

    def close(self) -> None:
        try:
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._smtp.close()


def _refusal(code: int, reply: bytes | str, what: str) -> SendError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return SendError(f"The server {what}: {code} {text}", permanent=500 <= code < 600)


def _connect(ep: Endpoint) -> smtplib.SMTP:
    try:
        if ep.security == "ssl":
            return smtplib.SMTP_SSL(ep.host, ep.port, timeout=ep.timeout, context=client_context(ep.ca_file))
        return smtplib.SMTP(ep.host, ep.port, timeout=ep.timeout)
    except ssl.SSLCertVerificationError as exc:
        raise diagnose.tls_error(ep, exc, _peek(ep)) from None
    except smtplib.SMTPServerDisconnected as exc:
        if ep.security != "ssl" and port_speaks_tls(ep.host, ep.port, ep.timeout):
            raise diagnose.timeout_error(ep, speaks_tls=True) from None
        raise diagnose.connection_lost(ep, exc) from None
    except (TimeoutError, socket.timeout):
        if ep.security != "ssl" and port_speaks_tls(ep.host, ep.port, ep.timeout):
            raise diagnose.timeout_error(ep, speaks_tls=True) from None
        raise diagnose.timeout_error(ep) from None
    except (OSError, ssl.SSLError) as exc:
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
