"""Composing the auto-reply: headers after RFC 3834 and RFC 5322, and the body parts."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest

from mailroom.rules.autoreply import SendReply
from mailroom.rules.compose import MAX_REFERENCES, compose_autoreply, thread_headers
from mailroom.rules.templates import Rendered

from .factory import CLIENT, MAILBOX, NOW

DECISION = SendReply(to=CLIENT, from_address=MAILBOX, reason="It starts a new conversation.")
TEXT = Rendered("Thanks for your email", "Dear Jane,\nWe will be in touch.\n", None)
HTML = Rendered("Thanks for your email", "Dear Jane,\nWe will be in touch.\n",
                "<p>Dear Jane,</p><p>We will be in touch.</p>")
OUR_ID = "mr.4f1c2d3e.0123456789abcdef@studio.example"
LONG_ID = "CAF" + "x" * 120 + "@mail.gmail.example"


def compose(original, rendered=TEXT, **overrides):
    kwargs = dict(display_name="Bright Lights Studio", message_id=OUR_ID,
                  x_loop="mailroom-7f3a@studio.example", now=NOW)
    kwargs.update(overrides)
    return compose_autoreply(original, DECISION, rendered, **kwargs)


def reparsed(message):
    """The message as a receiving mail program sees it (stored with local line ends)."""
    return email.message_from_bytes(message.as_bytes().replace(b"\r\n", b"\n"), policy=policy.default)


LONG_LETTER = Rendered("Your enquiry", "".join(
    f"Paragraph {i}: " + "we will get back to you about the dates, the venue and the prints " * 6 + "\n"
    for i in range(8)), None)
LONG_HTML = Rendered("Welcome", "Welcome\n", "<html><body>" + "".join(
    f'<p style="margin:0 0 12px 0;font-family:Georgia,serif">Section {i}: ' + "details of our packages " * 12
    + "</p>" for i in range(20)) + "</body></html>")


def test_headers(make_msg):
    sent = reparsed(compose(make_msg()))
    assert sent["From"] == f"Bright Lights Studio <{MAILBOX}>"
    assert sent["To"] == CLIENT
    assert sent["Subject"] == "Thanks for your email"
    assert sent["Date"].datetime == NOW
    assert sent["Message-ID"] == f"<{OUR_ID}>"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["X-Auto-Response-Suppress"] == "All"
    assert sent["X-Loop"] == "mailroom-7f3a@studio.example"
    assert sent["In-Reply-To"] == "<CAF1234@mail.client.example>"
    assert sent["References"] == "<CAF1234@mail.client.example>"
    assert "Precedence" not in sent and "Reply-To" not in sent and "Cc" not in sent


def test_to_is_the_decision_only_even_with_reply_to_and_cc(make_msg):
    from mailroom.model import Address

    original = make_msg(reply_to=(Address("", "other@client.example"),),
                        cc=(Address("", "boss@client.example"),))
    sent = reparsed(compose(original))
    assert sent.get_all("To") == [CLIENT] and "Cc" not in sent


@pytest.mark.parametrize(
    ("overrides", "in_reply_to", "references"),
    [
        ({}, "CAF1234@mail.client.example", ("CAF1234@mail.client.example",)),
        # Parent's References, then its Message-ID.
        ({"references": ("root@x", "mid@x"), "in_reply_to": ("mid@x",)},
         "CAF1234@mail.client.example", ("root@x", "mid@x", "CAF1234@mail.client.example")),
        # No References: a single In-Reply-To stands in for them ...
        ({"in_reply_to": ("parent@x",)}, "CAF1234@mail.client.example",
         ("parent@x", "CAF1234@mail.client.example")),
        # ... but not several (RFC 5322 section 3.6.4).
        ({"in_reply_to": ("a@x", "b@x")}, "CAF1234@mail.client.example", ("CAF1234@mail.client.example",)),
        # A Message-ID the parser made up was never seen by the sender: no In-Reply-To.
        ({"message_id_generated": True, "message_id": "generated.1@mailroom.invalid"}, None, ()),
        ({"message_id_generated": True, "references": ("root@x",)}, None, ("root@x",)),
        # Ids that cannot be written back safely are dropped.
        ({"references": ("ok@x", "bad id@x", "evil@x>\r\nBcc: v@x", ""), "in_reply_to": ()},
         "CAF1234@mail.client.example", ("ok@x", "CAF1234@mail.client.example")),
        ({"message_id": "has space@x"}, None, ()),
    ],
)
def test_thread_headers(make_msg, overrides, in_reply_to, references):
    assert thread_headers(make_msg(**overrides)) == (in_reply_to, references)


def test_long_threads_keep_the_root_and_the_newest(make_msg):
    refs = tuple(f"r{i}@x" for i in range(50))
    _parent, references = thread_headers(make_msg(references=refs))
    assert len(references) == MAX_REFERENCES
    assert references[0] == "r0@x"
    assert references[-2:] == ("r49@x", "CAF1234@mail.client.example")


def test_long_ids_survive_the_wire_unencoded(make_msg):
    original = make_msg(message_id=LONG_ID, references=(LONG_ID.replace("CAF", "ROOT"),) * 3)
    raw = compose(original).as_bytes()
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in raw.splitlines())
    sent = reparsed(compose(original))
    assert sent["In-Reply-To"] == f"<{LONG_ID}>"
    assert sent["References"].split()[-1] == f"<{LONG_ID}>"


@pytest.mark.parametrize("rendered", [TEXT, HTML, LONG_LETTER, LONG_HTML], ids=["text", "html", "3kB", "6kB"])
def test_the_bytes_end_lines_in_crlf_and_stay_short(make_msg, rendered):
    # RFC 5321 section 2.3.8 (CRLF only; bare LF is refused by strict servers) and
    # RFC 5322 section 2.1.1 (at most 998 characters a line).
    assert len(LONG_LETTER.text) > 3000 and len(LONG_HTML.html) > 6000
    raw = compose(make_msg(), rendered).as_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    sent = reparsed(compose(make_msg(), rendered))
    assert sent.get_body(("plain",)).get_content() == rendered.text
    if rendered.html is not None:
        assert sent.get_body(("html",)).get_content().strip() == rendered.html


def test_plain_text_form_letter(make_msg):
    sent = reparsed(compose(make_msg()))
    assert sent.get_content_type() == "text/plain"
    assert sent.get_content() == TEXT.text


def test_html_email_is_multipart_alternative(make_msg):
    sent = reparsed(compose(make_msg(), HTML))
    assert sent.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in sent.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert sent.get_body(("plain",)).get_content() == HTML.text
    assert sent.get_body(("html",)).get_content().strip() == HTML.html


def test_same_reply_same_bytes(make_msg):
    assert compose(make_msg(), HTML).as_bytes() == compose(make_msg(), HTML).as_bytes()


def test_unicode_subject_and_display_name(make_msg):
    rendered = Rendered("Merci, Zoë — à bientôt", "Bonjour\n", None)
    sent = reparsed(compose(make_msg(), rendered, display_name="Studio Lumière"))
    assert sent["Subject"] == "Merci, Zoë — à bientôt"
    assert sent["From"].addresses[0].display_name == "Studio Lumière"


def test_no_header_injection_through_subject_or_display_name(make_msg):
    rendered = Rendered("Hi\r\nBcc: victim@x.example", "b\n", None)
    sent = reparsed(compose(make_msg(), rendered, display_name="Studio\r\nBcc: v2@x.example"))
    assert "Bcc" not in sent
    assert sent["Subject"] == "Hi Bcc: victim@x.example"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"now": dt.datetime(2026, 3, 4, 12, 0)}, "aware"),
        ({"message_id": f"<{OUR_ID}>"}, "angle brackets"),
        ({"message_id": "a b@x"}, "Message-ID"),
        ({"message_id": ""}, "Message-ID"),
    ],
)
def test_refuses_bad_arguments(make_msg, overrides, message):
    with pytest.raises(ValueError, match=message):
        compose(make_msg(), **overrides)
