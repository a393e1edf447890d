"""Compose the auto-reply: turn a `SendReply` decision and a rendered template into an
`email.message.EmailMessage` ready for the outbox; its `as_bytes()` are what is sent.

The headers follow RFC 3834 (section 3, "Format of automatic responses") and RFC 5322
section 3.6.4 (threading): `Auto-Submitted: auto-replied`, `In-Reply-To` and
`References` pointing at the client's message, our own signed Message-ID, our X-Loop,
and Microsoft's `X-Auto-Response-Suppress: All` so that Exchange out-of-office
replies do not answer our answer.

Pure: the time, the Message-ID and every address are passed in. This module never
sends, never stores and never reads the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailroom.model import ParsedMessage
from mailroom.rules.autoreply import SendReply
from mailroom.rules.templates import Rendered, one_line

# The SMTP variant of the default policy: every line ends in CRLF, as RFC 5321
# section 2.3.8 requires on the wire (bare LF is refused by strict servers as an SMTP
# smuggling defence, and turns a whole message into one over-long line for others).
# Headers are folded at 78 characters and body lines longer than that are sent
# quoted-printable or base64, so no line comes near RFC 5322's limit of 998.
# Headers we fold ourselves are written as given (refold_source="none"): the stock
# folding turns a Message-ID longer than a line into RFC 2047 encoded words, which no
# mail program can thread on.
POLICY = policy.SMTP.clone(refold_source="none")

# A msg-id we will repeat: one token, no brackets, no spaces or controls, and short
# enough that a header line stays far below RFC 5322's 998-character limit.
_MSG_ID = re.compile(r"[!-~]{1,250}")
# RFC 5322 section 3.6.4 lets References grow without bound; a long thread keeps its
# root and its newest ancestors, as mail programs do.
MAX_REFERENCES = 20


def compose_autoreply(
    original: ParsedMessage,
    decision: SendReply,
    rendered: Rendered,
    *,
    display_name: str,
    message_id: str,
    x_loop: str,
    now: dt.datetime,
) -> EmailMessage:
    """The auto-reply to `original`, as decided and rendered.

    From is `display_name` <decision.from_address>; To is decision.to alone (the
    Return-Path; never Reply-To or Cc, RFC 3834 section 4). `message_id` is ours,
    without angle brackets. When the parser had to invent the original's Message-ID
    (`message_id_generated`), the reply has no In-Reply-To, since the sender never saw
    that id, but still carries the original's own References so it threads.
    """
    if now.utcoffset() is None:
        raise ValueError("compose_autoreply needs an aware datetime for `now`")
    if not _is_msg_id(message_id):
        raise ValueError(f"{message_id!r} is not a Message-ID without angle brackets")

    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=one_line(display_name), addr_spec=decision.from_address)
    msg["To"] = Address(addr_spec=decision.to)
    msg["Subject"] = one_line(rendered.subject)
    msg["Date"] = format_datetime(now)
    msg.set_raw("Message-ID", f"<{message_id}>")
    parent, references = thread_headers(original)
    if parent is not None:
        msg.set_raw("In-Reply-To", f"<{parent}>")
    if references:
        msg.set_raw("References", "\n ".join(f"<{mid}>" for mid in references))
    # RFC 3834 section 5: marks this as an automatic response, so well-behaved
    # responders (and our own rules) never answer it.
    msg["Auto-Submitted"] = "auto-replied"
    # Exchange and Outlook honour this instead; All covers OOF and auto-replies.
    msg["X-Auto-Response-Suppress"] = "All"
    # Our own loop marker, checked by the x-loop rule when mail comes back.
    msg.set_raw("X-Loop", one_line(x_loop))
    # No Precedence header: it is no standard and RFC 3834 advises against it, and
    # "Precedence: bulk" makes Gmail and others file a personal answer as bulk mail.
    msg.set_content(rendered.text)
    if rendered.html is not None:
        msg.add_alternative(rendered.html, subtype="html")
        # The generator would pick a random boundary when serialising; derive it from
        # our Message-ID instead, so the same reply always has the same bytes.
        digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32]
        msg.set_boundary(f"=_mailroom_{digest}")
    return msg


def thread_headers(original: ParsedMessage) -> tuple[str | None, tuple[str, ...]]:
    """(In-Reply-To, References) ids for a reply to `original`, without brackets.

    RFC 5322 section 3.6.4: References is the parent's References, or else its
    In-Reply-To when that holds exactly one id, followed by the parent's Message-ID.
    Ids that could not be written back safely are dropped.
    """
    ancestors = [mid for mid in original.references if _is_msg_id(mid)]
    if not ancestors:
        replied = [mid for mid in original.in_reply_to if _is_msg_id(mid)]
        if len(original.in_reply_to) == 1 and replied:
            ancestors = replied
    parent = None
    if not original.message_id_generated and _is_msg_id(original.message_id):
        parent = original.message_id
        ancestors.append(parent)
    if len(ancestors) > MAX_REFERENCES:
        ancestors = ancestors[:1] + ancestors[-(MAX_REFERENCES - 1):]
    return parent, tuple(ancestors)


def _is_msg_id(mid: str) -> bool:
    return bool(_MSG_ID.fullmatch(mid)) and "<" not in mid and ">" not in mid
