"""Tables and properties for the tolerant message parser (mailroom/mail/parse.py)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import pathlib
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailroom.mail.parse import header_date, html_to_text, parse_message, safe_filename
from mailroom.model import Address, Attachment, ParsedMessage

SAMPLE = (pathlib.Path(__file__).parent / "samples" / "multipart.eml").read_bytes()
UTC = dt.timezone.utc


def mail(*headers: bytes | str, body: bytes | str = b"hello\r\n") -> bytes:
    """A message from header lines and a body, CRLF line ends."""
    lines = [h.encode() if isinstance(h, str) else h for h in headers]
    body = body.encode() if isinstance(body, str) else body
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def multipart(*parts: bytes, ctype: bytes = b"multipart/mixed", boundary: bytes = b"XX") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return mail(b"Content-Type: " + ctype + b'; boundary="' + boundary + b'"',
                body=body + b"--" + boundary + b"--\r\n")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- the realistic sample -----------------------------------------------------------

def test_realistic_multipart_sample() -> None:
    m = parse_message(SAMPLE)
    assert m.message_id == "CAF1234.5678@mail.example.com" and not m.message_id_generated
    assert m.in_reply_to == ("booking-77@studio.example.net",)
    assert m.references == ("booking-76@studio.example.net", "booking-77@studio.example.net")
    assert m.from_addr == Address("Anna Müller", "anna.client@example.com")
    assert m.to == (Address("Studio, Front Desk", "studio@example.net"),)
    assert m.cc == (Address("René", "rene@example.org"),)
    assert m.return_path == "anna.client@example.com"
    assert m.subject == "Re: Fotos für die Hochzeit – Auswahl"
    assert (m.date, m.date_source) == (at(2024, 1, 2, 11), "date")
    assert m.content_type == "multipart/mixed"
    assert m.text.startswith("Hallo,\n\nanbei meine Auswahl für die Hochzeitsfotos – Nummern 3, 7 und 12.")
    assert m.html is not None and "<p>Hallo,</p>" in m.html
    assert [(a.filename, a.content_type) for a in m.attachments] == [
        ("attachment", "image/png"),
        ("Auswahl für Hochzeit.pdf", "application/pdf"),
        ("winmail.dat", "application/ms-tnef"),
        ("Ihre Buchung.eml", "message/rfc822"),
    ]
    assert (m.raw_sha256, m.size) == (hashlib.sha256(SAMPLE).hexdigest(), len(SAMPLE))
    assert m.defects == ()


# --- Message-ID and threading headers -------------------------------------------------

@pytest.mark.parametrize(("header", "expected"), [
    ("Message-ID: <abc@example.com>", "abc@example.com"),
    ("Message-Id:  < abc@example.com >  ", "abc@example.com"),
    ("Message-ID: abc@example.com", "abc@example.com"),
    ("Message-ID: <abc@example.com> (added by relay)", "abc@example.com"),
    ("Message-ID:\r\n <folded@example.com>", "folded@example.com"),
])
def test_message_id_is_stripped(header: str, expected: str) -> None:
    m = parse_message(mail("From: a@b.c", header))
    assert (m.message_id, m.message_id_generated) == (expected, False)


@pytest.mark.parametrize("header", [None, "Message-ID:", "Message-ID:   ", "Message-ID: <>"])
def test_missing_message_id_is_generated_and_stable(header: str | None) -> None:
    headers = ["From: a@b.c", "Subject: hi"] + ([header] if header else [])
    raw = mail(*headers)
    m = parse_message(raw)
    assert m.message_id_generated
    assert re.fullmatch(r"generated-[0-9a-f]{32}@mailroom\.invalid", m.message_id)
    assert parse_message(raw).message_id == m.message_id
    # a header a server adds does not change it; another body does
    assert parse_message(b"Received: by x; Tue, 2 Jan 2024 10:00:00 +0000\r\n" + raw).message_id == m.message_id
    assert parse_message(mail(*headers, body=b"other")).message_id != m.message_id


@pytest.mark.parametrize(("headers", "in_reply_to", "references"), [
    (["In-Reply-To: <a@x>", "References: <r@x> <a@x>"], ("a@x",), ("r@x", "a@x")),
    (["References: <r@x>\r\n\t<s@x>\r\n <r@x>"], (), ("r@x", "s@x")),
    (["In-Reply-To: Your message of Mon, 1 Jan 2024 <a@x>"], ("a@x",), ()),
    (["In-Reply-To: a@x"], ("a@x",), ()),
    (["In-Reply-To: <>", "References: garbage here"], (), ()),
    (["References: <a @x>"], (), ("a@x",)),
])
def test_threading_ids(headers: list[str], in_reply_to: tuple, references: tuple) -> None:
    m = parse_message(mail(*headers))
    assert (m.in_reply_to, m.references) == (in_reply_to, references)


# --- addresses --------------------------------------------------------------------

@pytest.mark.parametrize(("header", "field", "expected"), [
    (b'From: "Doe, Jane" <Jane.Doe@Example.COM>', "from_addr", Address("Doe, Jane", "jane.doe@example.com")),
    (b"From: =?utf-8?Q?J=C3=B6rg_M=2E?= <j@x.de>", "from_addr", Address("Jörg M.", "j@x.de")),
    ("From: Jörg <j@x.de>".encode(), "from_addr", Address("Jörg", "j@x.de")),
    (b"From: a@x.de, b@x.de", "from_addr", Address("", "a@x.de")),
    (b"From: bob@example.com (Bob)", "from_addr", Address("Bob", "bob@example.com")),
    # RFC 5322 section 3.2.2: comments (nested, with quoted pairs) are not part of name or address
    (b"From: Pete(A wonderful \\) chap) <pete(his account)@silly.test(his host)>", "from_addr",
     Address("Pete", "pete@silly.test")),
    (b'From: "Doe (not a comment)" <j(x)@x.org>', "from_addr", Address("Doe (not a comment)", "j@x.org")),
    # the address comes from the angle-addr, never from a decoded display name
    (b"From: =?utf-8?q?Mallory=0D=0ABcc:_victim@evil.example?= <mallory@x.example>", "from_addr",
     Address("Mallory Bcc: victim@evil.example", "mallory@x.example")),
    (b"From: =?utf-8?q?boss@example.com?= <eve@x.example>", "from_addr", Address("boss@example.com", "eve@x.example")),
    (b"To: =?utf-8?q?a=2C_b@evil.example?= <real@x.example>", "to", (Address("a, b@evil.example", "real@x.example"),)),
    (b"From: =?utf-8?b?QQdCG0PigK5E?= <c@x.example>", "from_addr", Address("A B C D", "c@x.example")),
    (b"From: not an address", "from_addr", None),
    (b"From: <>", "from_addr", None),
    (b"To: a@b.c, garbage, <>, A@B.C", "to", (Address("", "a@b.c"),)),
    (b"To: undisclosed-recipients:;", "to", ()),
    (b"To: Team: x@y.z, w@y.z;", "to", (Address("", "x@y.z"), Address("", "w@y.z"))),
    (b"To: alice@example.com <bob@example.com>", "to", (Address("", "alice@example.com"), Address("", "bob@example.com"))),
    (b"Cc: =?iso-8859-1?q?Ren=E9?= <r@x.org>", "cc", (Address("René", "r@x.org"),)),
    (b"Reply-To: Desk <desk@x.org>", "reply_to", (Address("Desk", "desk@x.org"),)),
    (b"Resent-To: r@x.org", "resent_to", (Address("", "r@x.org"),)),
    (b"Resent-Cc: Q <Q@X.org>", "resent_cc", (Address("Q", "q@x.org"),)),
])
def test_addresses(header: bytes, field: str, expected: object) -> None:
    assert getattr(parse_message(mail(header)), field) == expected


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("Return-Path: <>", ""),
    ("Return-Path: < >", ""),
    ("Return-Path: <Bob@X.COM>", "bob@x.com"),
    ("Return-Path: bob@x.com", "bob@x.com"),
])
def test_return_path(header: str | None, expected: str | None) -> None:
    assert parse_message(mail(*([header] if header else ["X: y"]))).return_path == expected


# --- subjects: RFC 2047, raw 8-bit, ISO-2022-JP -------------------------------------

@pytest.mark.parametrize(("subject", "expected"), [
    (b"=?utf-8?B?R3LDvMOfZQ==?=", "Grüße"),
    (b"=?utf-8?B?R3LDvMOfZQ?=", "Grüße"),  # padding missing
    (b"=?UTF-8?Q?Gr=C3=BC=C3=9Fe_dich?=", "Grüße dich"),
    (b"=?iso-8859-1?q?caf=E9?= au lait", "café au lait"),
    (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # RFC 2047 6.2: space between words dropped
    (b"=?utf-8?Q?=C3?=\r\n =?utf-8?Q?=A4?=", "ä"),  # one character split over two words
    (b"=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"),
    (b"Re:=?utf-8?q?x?=", "Re:x"),
    (b"=?utf-8*en?q?hi?=", "hi"),  # RFC 2231 section 5 language tag
    (b"=?utf-8?B?A?=", "=?utf-8?B?A?="),  # not base64: left as written
    (b"=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
    (b"=?x-foo?q?abc?=", "abc"),
    (b"=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=", "こんにちは"),
    ("こんにちは".encode("iso2022_jp"), "こんにちは"),
    (b"\x1b$B-!\x1b(B", "①"),  # CP932 extension inside ISO-2022-JP, as Outlook sends it
    ("Grüße".encode(), "Grüße"),
    (b"=?iso-8859-1?Q?Fr\xf6sche?=", "Frösche"),  # raw 8-bit inside an encoded word: its charset's
    (b"=?utf-8?Q?Fr\xc3\xb6sche?= \xe9t\xe9", "Frösche été"),
    ("Grüße €".encode("cp1252"), "Grüße €"),
    (b"a\r\n  b\r\n\tc", "a b c"),
    (b"", ""),
])
def test_subject_decoding(subject: bytes, expected: str) -> None:
    assert parse_message(mail(b"Subject: " + subject)).subject == expected


def test_missing_subject_is_empty() -> None:
    assert parse_message(mail("From: a@b.c")).subject == ""


def test_headers_keep_order_lower_names_and_decoded_values() -> None:
    m = parse_message(mail("X-Z: 1", "Subject: =?utf-8?q?caf=C3=A9?=\r\n folded", "x-z: 2",
                           "Auto-Submitted: auto-replied"))
    assert m.headers == (("x-z", "1"), ("subject", "café folded"), ("x-z", "2"),
                         ("auto-submitted", "auto-replied"))
    assert m.header("X-Z") == ["1", "2"] and m.has_header("auto-submitted")


# --- dates ------------------------------------------------------------------------

RECEIVED = ["Received: from a by b; Tue, 2 Jan 2024 10:00:00 +0000",
            "Received: from c by d (x; y); Tue, 2 Jan 2024 12:30:00 +0100",
            "Received: from e by f; Mon, 1 Jan 2024 10:00:00 +0000"]


@pytest.mark.parametrize(("headers", "date", "source"), [
    (["Date: Tue, 02 Jan 2024 12:00:00 +0200"], at(2024, 1, 2, 10), "date"),
    (["Date: Tue, 02 Jan 2024 12:00:00"], at(2024, 1, 2, 12), "date"),  # no zone: UTC
    (["Date: Tue, 02 Jan 2024 12:00:00 -0000"], at(2024, 1, 2, 12), "date"),
    (["Date: 2 Jan 24 12:00 EST"], at(2024, 1, 2, 17), "date"),
    (["Date: Tue, 02 Jan 2024 23:59:60 +0000"], at(2024, 1, 2, 23, 59, 59), "date"),
    (["Date: 2024-01-02T12:00:00+01:00"], at(2024, 1, 2, 11), "date"),
    (["Date: garbage", *RECEIVED], at(2024, 1, 2, 11, 30), "received"),
    (["Date: Mon, 32 Jan 2024 25:00:00 +0000", *RECEIVED[:1]], at(2024, 1, 2, 10), "received"),
    (["Date: Tue, 02 Jan 2024 12:00:00 +9999"], None, None),
    (RECEIVED, at(2024, 1, 2, 11, 30), "received"),
    (["Received: from a by b"], None, None),
    ([], None, None),
])
def test_message_date(headers: list[str], date: dt.datetime | None, source: str | None) -> None:
    m = parse_message(mail("X: y", *headers))
    assert (m.date, m.date_source) == (date, source)
    assert m.date is None or m.date.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(("block", "expected"), [
    (b"From: a@b.c\r\nDate: Tue, 02 Jan 2024 12:00:00 +0200\r\n\r\n", at(2024, 1, 2, 10)),
    (b"+OK message follows\r\nDate: Tue, 02 Jan 2024 12:00:00 +0000\r\n\r\n", at(2024, 1, 2, 12)),
    ("\r\n".join(RECEIVED).encode() + b"\r\n", at(2024, 1, 2, 11, 30)),
    (b"Subject: no date\r\n\r\n", None),
    (b"\xff\xfe\x00garbage", None),
    (b"", None),
])
def test_header_date(block: bytes, expected: dt.datetime | None) -> None:
    assert header_date(block) == expected


# --- bodies and charsets ------------------------------------------------------------

@pytest.mark.parametrize(("ctype", "body", "text", "defect"), [
    ("text/plain; charset=utf-8", "Grüße".encode(), "Grüße", None),
    ("text/plain; charset=utf-8", b"Gr\xfc\xdfe", "Grüße", "undecodable text in utf-8"),
    ("text/plain; charset=x-foo", "Grüße".encode(), "Grüße", "bad charset x-foo"),
    ("text/plain; charset=undefined", b"abc", "abc", "bad charset undefined"),
    ("text/plain; charset=base64", b"abc", "abc", "bad charset base64"),
    ("text/plain; charset=us-ascii", "Grüße".encode(), "Grüße", "undecodable text in us-ascii"),
    ("text/plain", "Grüße".encode(), "Grüße", None),
    ("text/plain", b"caf\xe9 \x80", "café €", None),
    ('text/plain; charset="ISO-8859-1"', b"caf\xe9 \x80", "café €", None),
    ("text/plain; charset=shift_jis", "①".encode("cp932"), "①", None),
    ("text/plain; charset=iso-2022-jp", "こんにちは".encode("iso2022_jp"), "こんにちは", None),
    ("text/plain; charset=ISO-2022-JP", b"\x1b$B-!\x1b(B", "①", None),
    ("text/plain", "こんにちは".encode("iso2022_jp"), "こんにちは", None),
    ("text/plain; charset=utf-7", b"+2AA-", "\ufffd", None),
    ("text/plain; charset=utf-8", b"a\x00b", "a\ufffdb", None),
    ("text/plain; format=flowed", b"line one\r\nline two", "line one\nline two", None),
    # one bad byte in UTF-8 text: replaced, the rest stays UTF-8
    ("text/plain; charset=UTF-8", "При".encode() + b"\xff" + "вет, мир".encode(), "При\ufffdвет, мир",
     "undecodable text in UTF-8"),
    ("text/plain", "При".encode() + b"\xff" + "вет, мир".encode(), "При\ufffdвет, мир", None),
])
def test_body_charsets(ctype: str | None, body: bytes, text: str, defect: str | None) -> None:
    m = parse_message(mail(f"Content-Type: {ctype}" if ctype else "X: y", body=body))
    assert m.text == text
    if defect:
        assert defect in m.defects


@pytest.mark.parametrize(("header", "expected"), [
    ("Content-Type: TEXT/HTML; charset=utf-8", "text/html"),
    ("Content-Type: foo", "text/plain"),
    ("X: no content type", "text/plain"),
    ('Content-Type: multipart/alternative; boundary="b"', "multipart/alternative"),
])
def test_top_level_content_type(header: str, expected: str) -> None:
    assert parse_message(mail(header)).content_type == expected


def test_quoted_printable_and_base64_bodies() -> None:
    qp = parse_message(mail("Content-Type: text/plain; charset=utf-8",
                            "Content-Transfer-Encoding: quoted-printable", body=b"caf=C3=A9 =\r\nau lait"))
    b64 = parse_message(mail("Content-Transfer-Encoding: base64", body=base64.b64encode("café".encode())))
    assert (qp.text, b64.text) == ("café au lait", "café")


def test_html_only_message_gets_derived_text() -> None:
    m = parse_message(mail("Content-Type: text/html; charset=utf-8",
                           body=b"<style>p{}</style><p>Hello&nbsp;there</p><p>Bye &amp; thanks</p>"))
    assert m.html is not None and m.html.startswith("<style>")
    assert m.text == "Hello there\n\nBye & thanks"


def test_alternative_takes_first_plain_and_first_html() -> None:
    m = parse_message(multipart(
        b"Content-Type: text/plain\r\n\r\nplain one",
        b"Content-Type: text/html\r\n\r\n<p>html one</p>",
        b"Content-Type: text/plain\r\n\r\nplain two",
        ctype=b"multipart/alternative"))
    assert (m.text, m.html) == ("plain one", "<p>html one</p>")
    assert [a.filename for a in m.attachments] == ["attachment"]


def test_text_attachment_is_not_the_body() -> None:
    m = parse_message(multipart(
        b'Content-Type: text/plain; name="notes.txt"\r\n\r\nnotes',
        b"Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nmore",
        b"Content-Type: text/plain\r\n\r\nthe body"))
    assert m.text == "the body"
    assert [(a.filename, a.size) for a in m.attachments] == [("notes.txt", 5), ("attachment", 4)]


def test_nested_multiparts() -> None:
    related = multipart(b"Content-Type: text/html\r\n\r\n<p>hi <img src=cid:i></p>",
                        b"Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlh",
                        ctype=b"multipart/related", boundary=b"R").partition(b"\r\n")[2]
    alternative = multipart(b"Content-Type: text/plain\r\n\r\nhi",
                            b"Content-Type: multipart/related; boundary=\"R\"\r\n" + related,
                            ctype=b"multipart/alternative", boundary=b"A").partition(b"\r\n")[2]
    m = parse_message(multipart(b'Content-Type: multipart/alternative; boundary="A"\r\n' + alternative,
                                b'Content-Type: application/pdf; name="a.pdf"\r\n\r\n%PDF'))
    assert (m.text, m.html) == ("hi", "<p>hi <img src=cid:i></p>")
    assert [(a.content_type, a.size) for a in m.attachments] == [("image/gif", 6), ("application/pdf", 4)]


def test_message_rfc822_is_listed_as_an_attachment() -> None:
    inner = mail("Subject: =?utf-8?q?Fw=C3=A4rd?=", "Content-Type: multipart/mixed; boundary=I",
                 body=b"--I\r\nContent-Type: text/plain\r\n\r\ninner body\r\n--I\r\n"
                      b"Content-Type: application/zip; name=z.zip\r\n\r\nPK\r\n--I--\r\n")
    m = parse_message(multipart(b"Content-Type: text/plain\r\n\r\nouter body",
                                b"Content-Type: message/rfc822\r\n\r\n" + inner))
    assert m.text == "outer body"
    (attachment,) = m.attachments
    assert (attachment.filename, attachment.content_type) == ("Fwärd.eml", "message/rfc822")
    assert attachment.size > 50 and len(attachment.sha256) == 64


@pytest.mark.parametrize(("header", "ctype"), [
    (b'Content-Type: application/ms-tnef; name="winmail.dat"', "application/ms-tnef"),
    (b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=WINMAIL.DAT",
     "application/ms-tnef"),
    (b"Content-Type: application/vnd.ms-tnef", "application/ms-tnef"),
])
def test_tnef_is_an_attachment(header: bytes, ctype: str) -> None:
    m = parse_message(multipart(b"Content-Type: text/plain\r\n\r\nbody",
                                header + b"\r\nContent-Transfer-Encoding: base64\r\n\r\neJ8+Ig=="))
    assert m.text == "body"
    assert [(a.content_type, a.size) for a in m.attachments] == [(ctype, 4)]


# --- attachment names (RFC 2231, RFC 2047, 8-bit, paths) -------------------------------

@pytest.mark.parametrize(("header", "filename"), [
    (b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.pdf", "€ rates.pdf"),
    (b"Content-Disposition: attachment;\r\n filename*0*=utf-8''%E2%82%AC;\r\n filename*1=\" rates\";"
     b" filename*2=.pdf", "€ rates.pdf"),
    (b"Content-Disposition: attachment; filename*=iso-8859-1'en'caf%E9.txt", "café.txt"),
    (b"Content-Disposition: attachment; filename=\"old.pdf\"; filename*=utf-8''new.pdf", "new.pdf"),
    (b'Content-Disposition: attachment; filename="=?utf-8?B?4oKsIHJhdGVzLnBkZg==?="', "€ rates.pdf"),
    ('Content-Disposition: attachment; filename="Grüße.txt"'.encode(), "Grüße.txt"),
    (b'X-Content-Type: ignored; name="no.pdf"', "attachment"),
    (b'Content-Disposition: attachment; filename="C:\\Users\\me\\x.pdf"', "x.pdf"),
    (b'Content-Disposition: attachment; filename="../../etc/passwd"', "passwd"),
    (b'Content-Disposition: attachment; filename="a \\"quoted\\" name"', "a _quoted_ name"),
    (b"Content-Disposition: attachment; filename*=undefined''abc.txt", "abc.txt"),
    (b"Content-Disposition: attachment", "attachment"),
    (b'Content-Disposition: attachment; filename="=?iso-8859-1?Q?M\xfcller.pdf?="', "Müller.pdf"),
])
def test_attachment_filenames(header: bytes, filename: str) -> None:
    m = parse_message(multipart(b"Content-Type: text/plain\r\n\r\nbody",
                                b"Content-Type: application/octet-stream\r\n" + header + b"\r\n\r\ndata"))
    assert m.attachments == (Attachment(filename, m.attachments[0].content_type, 4,
                                        hashlib.sha256(b"data").hexdigest()),)


# --- broken structure -------------------------------------------------------------

PARTS = (b"--XYZ\r\nContent-Type: text/plain\r\n\r\nthe text\r\n"
         b"--XYZ\r\nContent-Type: image/png; name=p.png\r\n\r\npng\r\n--XYZ--\r\n")


@pytest.mark.parametrize(("ctype", "defect"), [
    (b"Content-Type: multipart/mixed", "no boundary in multipart"),
    (b'Content-Type: multipart/mixed; boundary="other"', "start boundary not found"),
    (b'Content-Type: multipart/mixed; boundary=""', "missing boundary"),
])
def test_missing_or_wrong_boundary_is_guessed(ctype: bytes, defect: str) -> None:
    m = parse_message(mail(ctype, body=PARTS))
    assert m.text == "the text"
    assert [a.filename for a in m.attachments] == ["p.png"]
    assert defect in m.defects


def test_the_example_subject_with_8bit_in_an_encoded_word() -> None:
    assert parse_message(b"Subject: =?iso-8859-1?Q?Fr\xf6sche?=\r\n\r\n").subject == "Frösche"


@pytest.mark.parametrize("declared", [
    b'boundary="=_abc\r\n def"',          # folded inside the quotes: unfolding keeps the space
    b'boundary=\r\n "=_abc def"',          # folded before the value
    b'\r\n\tboundary="=_abc def"',         # folded before the parameter
])
def test_a_folded_boundary_is_unfolded(declared: bytes) -> None:
    """RFC 5322 section 2.2.3: unfolding removes the CRLF, not the white space after it."""
    body = (b"--=_abc def\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            b"--=_abc def\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n%PDF\r\n"
            b"--=_abc def\r\nContent-Type: image/png; name=b.png\r\n\r\npng\r\n"
            b"--=_abc def\r\nContent-Type: application/zip; name=c.zip\r\n\r\nzip\r\n--=_abc def--\r\n")
    m = parse_message(mail(b"Content-Type: multipart/mixed; " + declared, body=body))
    assert m.text == "hello" and m.defects == ()
    assert [a.filename for a in m.attachments] == ["a.pdf", "b.png", "c.zip"]


@pytest.mark.parametrize("plain", [b" \r\n \r\n", b"", b"\r\n\r\n", b"\t"])
def test_a_blank_plain_part_gives_way_to_the_html(plain: bytes) -> None:
    """Outlook for Mac sends a whitespace-only text/plain alternative."""
    m = parse_message(multipart(b"Content-Type: text/plain; charset=UTF-8\r\n\r\n" + plain,
                                b"Content-Type: text/html\r\n\r\n<p>Thursday at 15:00?</p>",
                                ctype=b"multipart/alternative"))
    assert (m.text, m.html, m.attachments) == ("Thursday at 15:00?", "<p>Thursday at 15:00?</p>", ())


def test_an_empty_trailing_part_is_neither_body_nor_attachment() -> None:
    m = parse_message(multipart(b"Content-Type: text/html\r\n\r\n<p>Thanks!</p>", b"", b"\r\n"))
    assert (m.text, m.attachments) == ("Thanks!", ())


def test_a_blank_plain_part_gives_way_to_a_later_one() -> None:
    m = parse_message(multipart(b"Content-Type: text/plain\r\n\r\n \r\n", b"Content-Type: text/plain\r\n\r\nreal"))
    assert (m.text, m.attachments) == ("real", ())


@pytest.mark.parametrize("nested", [
    b'Content-Type: multipart/alternative; boundary="never-used"\r\n\r\n',
    b'Content-Type: multipart/alternative; boundary="A"\r\n\r\n--A--\r\n',
    b"Content-Type: multipart/related\r\n\r\n",
])
def test_an_empty_nested_multipart_does_not_take_the_body(nested: bytes) -> None:
    m = parse_message(multipart(nested, b"Content-Type: text/plain\r\n\r\nThe real text."))
    assert (m.text, m.attachments) == ("The real text.", ())


def test_an_unsplittable_nested_multipart_is_kept_after_the_real_text() -> None:
    m = parse_message(multipart(b"Content-Type: multipart/alternative\r\n\r\nsome raw MIME source",
                                b"Content-Type: text/plain\r\n\r\nThe real text."))
    assert m.text == "The real text."
    assert [(a.content_type, a.size) for a in m.attachments] == [("text/plain", 22)]  # its line end too


def test_multipart_without_any_parts_shows_its_body() -> None:
    m = parse_message(mail(b"Content-Type: multipart/mixed", body=b"just text"))
    assert m.text == "just text" and "unparsable multipart" in m.defects


def test_missing_close_boundary_keeps_the_parts() -> None:
    m = parse_message(mail(b'Content-Type: multipart/mixed; boundary="XYZ"', body=PARTS[:-9]))
    assert m.text == "the text" and [a.filename for a in m.attachments] == ["p.png"]
    assert "close boundary not found" in m.defects


def test_very_long_lines() -> None:
    line = b"a" * 1_000_000
    m = parse_message(mail(b"Subject: " + line[:200_000], body=line))
    assert len(m.text) == 1_000_000 and len(m.subject) == 200_000


def test_very_deep_nesting_degrades_without_raising() -> None:
    raw = b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(3000))
    m = parse_message(raw)
    assert m.subject == "deep" and m.defects


def test_unknown_transfer_encoding_is_kept_raw() -> None:
    m = parse_message(mail("Content-Transfer-Encoding: x-foo", body=b"=C3=A9"))
    assert m.text == "=C3=A9"


@pytest.mark.parametrize("name", [b'name="x.pdf"', b"name=x.pdf", b"NAME = \"x.pdf\" ; a=b"])
def test_name_in_content_type(name: bytes) -> None:
    m = parse_message(multipart(b"Content-Type: text/plain\r\n\r\nbody",
                                b"Content-Type: application/pdf; " + name + b"\r\n\r\n%PDF"))
    assert [(a.filename, a.content_type) for a in m.attachments] == [("x.pdf", "application/pdf")]


# --- safe_filename and html_to_text -------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Windows\\evil.exe", "evil.exe"),
    ("..hidden", "hidden"),
    ("a\x00b\x1fc\x7f.txt", "abc.txt"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # no right-to-left override spoofing
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("com1.log", "_com1.log"),
    ("lpt9", "_lpt9"),
    ("COM\u00b9", "_COM\u00b9"),
    ("lpt\u00b3.txt", "_lpt\u00b3.txt"),
    ("CONIN$", "_CONIN$"),
    ("conout$.log", "_conout$.log"),
    ("conin.txt", "conin.txt"),
    ("console.txt", "console.txt"),
    ("a:b?.txt", "a_b_.txt"),
    ("trailing. ", "trailing"),
    ("", "attachment"),
    ("...", "attachment"),
    ("dir/", "attachment"),
    ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
])
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


@pytest.mark.parametrize(("html", "text"), [
    ("<p>Hello&nbsp;<b>World</b></p><p>Next &amp; co</p>", "Hello World\n\nNext & co"),
    ("<html><head><title>T</title><style>p{x:y}</style></head><body>a<br/>b<br>c</body></html>", "a\nb\nc"),
    ("x<script>if (a < b) {}</script>y", "xy"),
    ("<SCRIPT>never closed", ""),
    ("<ul><li>one<li>two</ul>", "- one\n- two"),
    ("<div><div><div>deep</div></div></div>\n\n\n<p>next</p>", "deep\n\nnext"),
    ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
    ("a < b and c > d", "a < b and c > d"),
    ("kept <!-- hidden --> text <!-- unterminated", "kept text"),
    ("&lt;p&gt; &#x41; &bogus; &eacute;", "<p> A &bogus; é"),
    ("tail <", "tail <"),
    ("", ""),
])
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize("hostile", ["<!--" * 100_000, "<a " * 100_000, "<" * 300_000,
                                     "<![CDATA[" * 50_000, "&" * 300_000, "<script>" + "</scrip" * 50_000])
def test_html_to_text_is_linear_on_hostile_input(hostile: str) -> None:
    started = time.perf_counter()
    html_to_text(hostile)
    assert time.perf_counter() - started < 2


# --- properties: never raises, always well-typed ------------------------------------

def check(m: ParsedMessage, raw: bytes) -> None:
    """Every field has its type; every string is storable text (UTF-8, no NUL)."""
    assert isinstance(m, ParsedMessage)
    strings = [m.message_id, m.subject, m.text, m.content_type, *m.defects,
               *m.in_reply_to, *m.references, *(v for pair in m.headers for v in pair)]
    for address in (m.from_addr, *m.reply_to, *m.to, *m.cc, *m.resent_to, *m.resent_cc):
        if address is not None:
            assert isinstance(address, Address) and "@" in address.email
            assert address.email == address.email.lower()
            strings += [address.name, address.email]
    for attachment in m.attachments:
        assert isinstance(attachment, Attachment) and attachment.size >= 0
        assert re.fullmatch(r"[0-9a-f]{64}", attachment.sha256)
        assert attachment.filename and not set(attachment.filename) & set("/\\\x00")
        strings += [attachment.filename, attachment.content_type]
    strings += [s for s in (m.html, m.return_path) if s is not None]
    for s in strings:
        assert isinstance(s, str) and "\x00" not in s
        s.encode("utf-8")
    assert m.message_id and isinstance(m.message_id_generated, bool)
    assert "/" in m.content_type
    assert (m.date is None) == (m.date_source is None)
    assert m.date is None or m.date.utcoffset() == dt.timedelta(0)
    assert m.date_source in (None, "date", "received")
    assert (m.raw_sha256, m.size) == (hashlib.sha256(raw).hexdigest(), len(raw))


PROPERTY = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

TOKENS = [b"\r\n", b"\n", b"\r\n\r\n", b" ", b"\t", b":", b";", b"=", b'"', b"<", b">", b"@", b",",
          b"=?", b"?=", b"?B?", b"?Q?", b"utf-8", b"iso-2022-jp", b"\x1b$B", b"\x1b(B", b"%E2",
          b"--", b"--b", b"b--", b"boundary=b", b"Content-Type: ", b"multipart/mixed",
          b"message/rfc822", b"text/html", b"text/plain", b"charset=", b"name*0*=", b"filename*=",
          b"Content-Transfer-Encoding: ", b"base64", b"quoted-printable", b"Date: ",
          b"Received: ", b"Message-ID: ", b"References: ", b"From: ", b"To: ", b"Subject: ",
          b"Return-Path: ", b"<p>", b"<!--", b"&amp;", b"\xff", b"\xc3", b"\x00"]


@PROPERTY
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check(parse_message(raw), raw)
    assert header_date(raw) is None or header_date(raw).tzinfo is not None


@PROPERTY
@given(st.lists(st.sampled_from(TOKENS) | st.binary(max_size=6), max_size=80).map(b"".join))
def test_mail_shaped_tokens_never_raise(raw: bytes) -> None:
    m = parse_message(raw)
    check(m, raw)
    assert parse_message(raw) == m  # same bytes, same result (and the same id)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(SAMPLE)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate"]))
        if op == "truncate":
            del raw[i:]
        elif op == "flip" and i < len(raw):
            raw[i] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[i:i] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del raw[i:i + draw(st.integers(1, 200))]
        elif op == "duplicate":
            raw[i:i] = raw[i:i + draw(st.integers(1, 300))]
    return bytes(raw)


@PROPERTY
@given(mutated())
def test_mutated_real_message_never_raises(raw: bytes) -> None:
    check(parse_message(raw), raw)


@PROPERTY
@given(st.text(max_size=300))
def test_safe_filename_property(name: str) -> None:
    out = safe_filename(name)
    assert out and not set(out) & set("/\\\x00<>:\"|?*") and not out.startswith(".")
    assert len(out) <= 151 and out == safe_filename(out)


@PROPERTY
@given(st.text(max_size=500))
def test_html_to_text_property(html: str) -> None:
    text = html_to_text(html)
    assert isinstance(text, str) and "\x00" not in text and text == text.strip()
