"""Realistic RFC 5322 test messages, deterministic from an index.

`make_message(i)` always returns the same bytes for the same arguments (CRLF line ends,
fixed MIME boundaries, a fixed date sequence), so tests and benchmarks can compare raw
messages and rely on sizes. Some senders and subjects carry non-ASCII text, encoded the
way real mail clients do (RFC 2047 headers, UTF-8 bodies). By default a message is a
new conversation: no In-Reply-To/References and no "Re:" subject; pass them to get a reply.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
import unicodedata
from collections.abc import Iterable
from email.message import EmailMessage

BASE_DATE = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

_FIRST = ["Ava", "Noah", "Chloé", "Liam", "Maya", "Oskar", "Priya", "Tomás", "Zoe", "Ethan", "Ingrid", "Kenji"]
_LAST = ["Martin", "Nguyen", "Okafor", "Schmidt", "Rossi", "García", "Kowalski", "Haddad", "Walsh", "Lindqvist"]
_DOMAINS = ["example.com", "example.org", "mail.example.net", "clients.example", "example.co.uk"]
_SUBJECTS = [
    "Wedding shoot on {day}",
    "Question about my invoice",
    "Booking for a family portrait session",
    "Proofs from last week",
    "Can we move our appointment?",
    "Headshots for the team – quote please",
    "Photos from the Müller event",
    "Thanks!",
]
_PARAGRAPHS = [
    "Hi there,\n\nI found you through a friend's recommendation and would love to know more "
    "about your packages and availability this spring.",
    "Could you send me the invoice again? The link in the last email seems to have expired.",
    "We would like to book a session for four people, ideally on a Saturday morning. Is there parking near the studio?",
    "The proofs look great — could we get numbers 12, 17 and 23 retouched?",
    "Something came up at work; would Thursday at 15:00 work instead?",
]


def _pick(seq: list[str], i: int, salt: int) -> str:
    return seq[(i * 7 + salt * 13 + i // len(seq)) % len(seq)]


def _payload(i: int, kb: int) -> bytes:
    """`kb` KiB of deterministic, incompressible-looking bytes."""
    out, block = bytearray(), hashlib.sha256(b"mailgen-%d" % i).digest()
    while len(out) < kb * 1024:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[: kb * 1024])


def make_message(
    i: int,
    *,
    sender: str | None = None,
    to: str = "studio@localhost",
    subject: str | None = None,
    date: dt.datetime | str | None = None,
    message_id: str | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
    body: str | None = None,
    html: bool = False,
    attachment_kb: int = 0,
) -> bytes:
    """Message number `i` as CRLF bytes.

    sender: an address or a full "Name <addr>"; by default a made-up client.
    date: a datetime (aware) or a ready RFC 5322 string; by default BASE_DATE + i * 37 min.
    extra_headers: (name, value) pairs, e.g. ("In-Reply-To", "<x@y>"), ("Auto-Submitted", "auto-replied").
    html: add a text/html alternative. attachment_kb: attach a PDF-ish file of that size.
    """
    first, last = _pick(_FIRST, i, 1), _pick(_LAST, i, 2)
    if sender is None:
        local = unicodedata.normalize("NFKD", f"{first}.{last}".lower()).encode("ascii", "ignore").decode()
        sender = email.utils.formataddr((f"{first} {last}", f"{local}{i}@{_pick(_DOMAINS, i, 3)}"))
    if date is None:
        date = BASE_DATE + dt.timedelta(minutes=37 * i)
    if isinstance(date, dt.datetime):
        date = email.utils.format_datetime(date)
    if subject is None:
        subject = _pick(_SUBJECTS, i, 4).format(day=f"{1 + i % 28} June") + f" ({i})"
    if message_id is None:
        message_id = f"<mailgen.{i}.{hashlib.sha1(b'%d' % i).hexdigest()[:12]}@{_pick(_DOMAINS, i, 3)}>"
    if body is None:
        body = f"{_pick(_PARAGRAPHS, i, 5)}\n\nBest regards,\n{first} {last}\n"

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = message_id
    for name, value in extra_headers:
        msg[name] = value
    msg.set_content(body)
    if html:
        paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        msg.add_alternative(f"<!DOCTYPE html><html><body>{paragraphs}</body></html>\n", subtype="html")
    if attachment_kb:
        msg.add_attachment(
            _payload(i, attachment_kb), maintype="application", subtype="pdf", filename=f"document-{i}.pdf"
        )
    # email picks random MIME boundaries; fixed ones keep the output reproducible
    for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_mailgen_{i}_{n}")
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # EmailMessage repeats it in body parts; mail clients do not
    return msg.as_bytes(policy=email.policy.SMTP)
