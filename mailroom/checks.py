"""The two checks a user runs on day one: a mailbox connection, and a test email.

Each returns a small result or raises a MailroomError that says which field to fix.
A result carries warnings too: a password that went over the network in plain text
(`security = "none"` to another computer) works, but the user should hear about it.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
from email.message import EmailMessage

from mailroom.clock import utcnow
from mailroom.context import Context
from mailroom.errors import ConfigError, Fix
from mailroom.mail import connector_for
from mailroom.mail.smtp import SmtpClient
from mailroom.model import CheckResult, Endpoint, Mailbox
from mailroom.secrets import mailbox_account, outgoing_account
from mailroom.settings.fields import plain_text_warning


def _warnings(ep: Endpoint, sent_password: bool) -> tuple[str, ...]:
    warning = plain_text_warning(ep.host, ep.security) if sent_password else None
    return (f"{ep.protocol.upper()}: {warning}.",) if warning else ()


def check_mailbox(ctx: Context, description: str) -> CheckResult:
    """Connect, negotiate TLS, log in, STAT, and make sure UIDL works."""
    box = ctx.mailbox(description)
    password = ctx.secrets.require(mailbox_account(box.id), f'mailbox "{description}"')
    return probe_mailbox(ctx, box, password)


def probe_mailbox(ctx: Context, box: Mailbox, password: str) -> CheckResult:
    """check_mailbox for mailbox settings that need not be saved (the page's OK button)."""
    ep = ctx.mailbox_endpoint(box)
    with connector_for(ep).open(ep, lambda: password) as pop:
        count, _size = pop.stat()
        pop.uidl()
        pop.quit()
    noun = "message" if count == 1 else "messages"
    return CheckResult(True, f'Mailbox "{box.description}" works: {count} {noun} on {ep.host}.', count,
                       _warnings(ep, sent_password=True))


def send_test_email(ctx: Context, to: str | None, now: dt.datetime | None = None) -> CheckResult:
    """Send the *Send Test Email* message through the outgoing account."""
    ep = ctx.outgoing_endpoint()
    out = ctx.settings()["outgoing"]
    sender = out["email"] or out["username"]
    if not sender:
        raise ConfigError("The outgoing account has no email address.", field="email", fix=Fix("outgoing", "email"))
    to = to or sender
    password = ctx.secrets.require(outgoing_account(), "the outgoing account") if ep.username else None
    msg = EmailMessage(policy=email.policy.SMTP)  # CRLF line ends, as on the wire (RFC 5321)
    msg["From"] = email.utils.formataddr((out["display_name"] or "", sender))
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
