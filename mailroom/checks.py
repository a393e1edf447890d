"""The checks a user runs on day one: a mailbox connection, the outgoing account's login,
and a test email.

Each returns a small result or raises a MailroomError that says which field to fix.
A result carries warnings too: a password that went over the network in plain text
(`security = "none"` to another computer) works, but the user should hear about it.
Each takes the settings to check (saved or not) and, for a check the user waits on,
a `timeout` shorter than the background checks'. Nothing here saves anything.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

from mailroom.clock import utcnow
from mailroom.context import Context
from mailroom.errors import ConfigError, Fix
from mailroom.mail import connector_for
from mailroom.mail.smtp import SmtpClient
from mailroom.model import CheckResult, Endpoint, Mailbox
from mailroom.secrets import mailbox_account, outgoing_account
from mailroom.settings.fields import check_email, plain_text_warning


def _warnings(ep: Endpoint, sent_password: bool) -> tuple[str, ...]:
    warning = plain_text_warning(ep.host, ep.security) if sent_password else None
    return (f"{ep.protocol.upper()}: {warning}.",) if warning else ()


def check_mailbox(ctx: Context, description: str) -> CheckResult:
    """Connect, negotiate TLS, log in, STAT, and make sure UIDL works."""
    box = ctx.mailbox(description)
    password = ctx.secrets.require(mailbox_account(box.id), f'mailbox "{description}"')
    return probe_mailbox(ctx, box, password)


def probe_mailbox(ctx: Context, box: Mailbox, password: str, *, timeout: float | None = None) -> CheckResult:
    """check_mailbox for mailbox settings that need not be saved (the page's OK button)."""
    ep = _within(ctx.mailbox_endpoint(box), timeout)
    with connector_for(ep).open(ep, lambda: password) as pop:
        count, _size = pop.stat()
        pop.uidl()
        pop.quit()
    noun = "message" if count == 1 else "messages"
    return CheckResult(True, f'Mailbox "{box.description}" works: {count} {noun} on {ep.host}.', count,
                       _warnings(ep, sent_password=True))


def _within(ep: Endpoint, timeout: float | None) -> Endpoint:
    return replace(ep, timeout=timeout) if timeout is not None else ep


def _outgoing(ctx: Context, out: dict[str, Any] | None, timeout: float | None) -> tuple[Endpoint, dict[str, Any]]:
    """The endpoint and settings of the outgoing account: `out` (not yet saved) or the saved one."""
    out = ctx.settings()["outgoing"] if out is None else out
    return _within(ctx.outgoing_endpoint(out), timeout), out


def _login_password(ctx: Context, ep: Endpoint, password: str | None) -> str | None:
    """The password to log in with: `password`, else the saved one; None when the account does not log in."""
    if not ep.username:
        return None
    return password or ctx.secrets.require(outgoing_account(), "the outgoing account")


def probe_outgoing(ctx: Context, out: dict[str, Any] | None = None, password: str | None = None, *,
                   timeout: float | None = None) -> CheckResult:
    """Connect to the outgoing server, secure the connection and log in; no mail is sent."""
    ep, _out = _outgoing(ctx, out, timeout)
    password = _login_password(ctx, ep, password)
    with SmtpClient.open(ep, password):
        pass
    how = f" and accepted the login of {ep.username}" if password is not None else ""
    return CheckResult(True, f"{ep.host} answered on port {ep.port}{how}.",
                       warnings=_warnings(ep, sent_password=password is not None))


def send_test_email(ctx: Context, to: str | None, now: dt.datetime | None = None, *,
                    out: dict[str, Any] | None = None, password: str | None = None,
                    timeout: float | None = None) -> CheckResult:
    """Send the *Send Test Email* message through the outgoing account (`out`, or the saved one)."""
    if to and check_email(to):
        # smtplib would quote anything into RCPT TO:<"not an address"> and the server may take it.
        raise ConfigError(f'"{to}" is not an email address; the test email goes to an address such as '
                          "ann@example.com.", field="to")
    ep, out = _outgoing(ctx, out, timeout)
    sender = out.get("email") or out.get("username")
    if not sender:
        raise ConfigError("The outgoing account has no email address.", field="email", fix=Fix("outgoing", "email"))
    password = _login_password(ctx, ep, password)
    to = to or sender
    msg = EmailMessage(policy=email.policy.SMTP)  # CRLF line ends, as on the wire (RFC 5321)
    msg["From"] = email.utils.formataddr((out.get("display_name") or "", sender))
    msg["To"] = to
    msg["Subject"] = "Mailroom test email"
    msg["Date"] = email.utils.format_datetime(now or utcnow())
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(f"This is a test email from Mailroom, sent through {ep.host} port {ep.port}.\n"
                    "If you can read it, the outgoing account works.\n")
    with SmtpClient.open(ep, password) as smtp:
        smtp.send_message(msg)
    return CheckResult(True, f"A test email was sent to {to} through {ep.host}.",
                       warnings=_warnings(ep, sent_password=password is not None))
