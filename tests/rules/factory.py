"""Build `ParsedMessage`s for rule tests without going through the parser.

The defaults describe an ordinary first email from a client to the studio's mailbox,
sent an hour before `NOW`; a test overrides only the fields its rule looks at.
"""

from __future__ import annotations

import datetime as dt

from mailroom.model import Address, ParsedMessage

NOW = dt.datetime(2026, 3, 4, 15, 30, tzinfo=dt.timezone.utc)  # a Wednesday
MAILBOX = "hello@studio.example"
ALIAS = "bookings@studio.example"
CLIENT = "jane.doe@client.example"


def make_message(**overrides: object) -> ParsedMessage:
    """A ParsedMessage with sensible defaults; keyword arguments replace fields.

    `extra_headers` (a sequence of (name, value)) is appended to the default headers,
    with names lower-cased as the parser does.
    """
    extra = tuple((name.lower(), value) for name, value in overrides.pop("extra_headers", ()))
    fields: dict[str, object] = dict(
        message_id="CAF1234@mail.client.example",
        message_id_generated=False,
        in_reply_to=(),
        references=(),
        from_addr=Address("Jane Doe", CLIENT),
        reply_to=(),
        to=(Address("Studio", MAILBOX),),
        cc=(),
        resent_to=(),
        resent_cc=(),
        return_path=CLIENT,
        subject="Wedding photos in June",
        date=NOW - dt.timedelta(hours=1),
        date_source="date",
        content_type="text/plain",
        text="Hello, are you free on 14 June?\n",
        html=None,
        attachments=(),
        headers=(
            ("from", f"Jane Doe <{CLIENT}>"),
            ("to", f"Studio <{MAILBOX}>"),
            ("subject", "Wedding photos in June"),
        ),
        raw_sha256="0" * 64,
        size=512,
    )
    fields.update(overrides)
    fields["headers"] = tuple(fields["headers"]) + extra  # type: ignore[arg-type]
    return ParsedMessage(**fields)  # type: ignore[arg-type]
