"""Every route of the parser reads a message alike: whole (the stdlib feed parser), by
its skeleton from memory, and by its skeleton from a spool file (the path of messages
over stream.LARGE, forced here on every message). Field by field, over the corpus in
samples/ (mail written for these tests, in the shapes real clients send) and over
generated mail-shaped messages; and the corpus's attachments checked against the bytes
they were made from."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailroom.mail import stream
from mailroom.mail.parse import parse_buffer, parse_message, parse_whole
from mailroom.model import Address, ParsedMessage

SAMPLES = sorted((Path(__file__).parent / "samples").glob("*.eml"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(name: str, size: int) -> bytes:
    """The bytes the corpus's attachments were made from (as the corpus was written)."""
    out, block = bytearray(), hashlib.sha256(name.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def spooled(raw: bytes, tmp_path: Path) -> ParsedMessage:
    path = tmp_path / "spool.eml"
    path.write_bytes(raw)
    return stream.parse_file(path, sha(raw), len(raw))


def assert_same(one: ParsedMessage, other: ParsedMessage, *, forwards_measured_alike: bool = True) -> None:
    """Field by field. The whole parse gives a forwarded message (a message/* part) back as
    the stdlib writes it again, not as received: parse_message never takes that route for
    such mail, and there the comparison leaves the attachments' sizes and hashes (and the
    notes on decoding them) out."""
    for field in dataclasses.fields(ParsedMessage):
        mine, theirs = getattr(one, field.name), getattr(other, field.name)
        if not forwards_measured_alike and field.name == "attachments":
            mine, theirs = ([(a.filename, a.content_type) for a in x] for x in (mine, theirs))
        if not forwards_measured_alike and field.name == "defects":
            mine, theirs = ([d for d in x if "base64" not in d and "uuencode" not in d] for x in (mine, theirs))
        assert mine == theirs, field.name


def has_forwards(raw: bytes) -> bool:
    return b"message/" in raw.lower() or b"digest" in raw.lower()


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
def test_every_route_gives_the_same_message(sample: Path, tmp_path: Path) -> None:
    raw = sample.read_bytes()
    from_file = spooled(raw, tmp_path)
    assert_same(parse_message(raw), from_file)
    assert_same(parse_buffer(raw, sha(raw), len(raw)), from_file)
    assert_same(parse_whole(raw), from_file, forwards_measured_alike=not has_forwards(raw))


def test_the_corpus_is_varied() -> None:
    assert len(SAMPLES) >= 40
    kinds = {a.content_type for s in SAMPLES for a in parse_message(s.read_bytes()).attachments}
    assert {"message/rfc822", "application/ms-tnef", "image/png", "text/csv"} <= kinds


def sample(name: str) -> bytes:
    (path,) = [s for s in SAMPLES if s.name.startswith(name)]
    return path.read_bytes()


PDF, PNG, ZIP = payload("quote.pdf", 9000), payload("logo.png", 2100), payload("proofs.zip", 3000)


@pytest.mark.parametrize(("name", "text", "files"), [
    ("09-", "Hello, the signed contract", [("contract.docx", payload("contract.docx", 5000)),
                                           ("logo.png", PNG), ("proofs.zip", ZIP)]),
    ("10-", "Here are the photos", [("IMG_2041.jpg", payload("IMG_2041.jpg", 70_000)), ("logo.png", PNG)]),
    ("11-", "Invoice attached.", [("invoice.pdf", PDF[:3000])]),
    ("12-", "The archive is attached.", [("proofs.zip", ZIP)]),
    ("14-", "Payments list attached.", [("payments.csv", (
        "Name;Datum;Betrag\r\nMüller;2024-04-01;120,00 €\r\nSchmidt;2024-04-02;85,50 €\r\n" * 40).encode())]),
    ("15-", "notes attached", [("notes.txt", b"Line one is long enough that it has to be wrapped with a soft line"
                                b" break here and continues.\r\nTabs\tand trailing spaces are encoded \r\n"
                                b"Last line without a line end")]),
    ("16-", "Draft of the spring newsletter.", [("attachment", PNG), ("draft.pdf", PDF[:4000])]),
    ("21-", "Anbei die Unterlagen.", [("Angebot für Müller €.pdf", PDF[:1500]),
                                      ("Grüße aus dem Studio.png", PNG[:800])]),
    ("31-", "Two files follow.", [("a.pdf", PDF[:900]), ("b.png", PNG[:500])]),
    ("37-", "Unix line ends.", [("x.pdf", PDF[:700])]),
    ("49-", "The real text.", [("p.pdf", PDF[:600])]),
    ("52-", "full resolution image attached", [("IMG_2041.jpg", payload("IMG_2041.jpg", 70_000))]),
])
def test_sample_attachments_are_the_bytes_sent(name: str, text: str, files: list[tuple[str, bytes]],
                                               tmp_path: Path) -> None:
    """Boundaries folded, mis-declared or missing; uuencode; quoted-printable attachments
    (no line end of the boundary counted); empty parts between boundaries (none listed)."""
    raw = sample(name)
    for m in (parse_message(raw), spooled(raw, tmp_path)):
        assert m.text.startswith(text)
        assert [(a.filename, a.size, a.sha256) for a in m.attachments] == [
            (filename, len(data), sha(data)) for filename, data in files]


def test_a_forwarded_message_is_measured_as_received(tmp_path: Path) -> None:
    raw = sample("17-")
    start = raw.index(b"Content-Disposition: attachment\r\n\r\n") + 35
    forwarded = raw[start:raw.index(b"\r\n--fwd17--")]
    for m in (parse_message(raw), spooled(raw, tmp_path)):
        (attachment,) = m.attachments
        assert (attachment.filename, attachment.size, attachment.sha256) == (
            "Your quote.eml", len(forwarded), sha(forwarded))


@pytest.mark.parametrize(("name", "field", "expected"), [
    ("07-", "text", "Something came up at work; would Thursday at 15:00 work instead?\n\nPriya"),
    ("08-", "text", "Thanks for the lovely pictures!\n\nNoah"),
    ("23-", "subject", "Frösche im Garten"),
    ("23-", "from_addr", Address("Fränzi Böhm", "franzi@example.at")),
    ("24-", "text", "Профиль клиента обнов\ufffdлён. Спасибо за фотографии!\nС уважением,\nАнна\n"),
    ("28-", "from_addr", Address("Pete", "pete@silly.test")),
    ("28-", "to", (Address("Lumen front desk", "studio@studio.example"),)),  # the old "addr (Name)" form
    ("28-", "cc", (Address("no name", "anna@example.com"), Address("Doe (not a comment), Jane", "jane@example.com"))),
    ("29-", "from_addr", Address("Mallory Bcc: victim@evil.example", "mallory@x.example")),
    ("29-", "reply_to", (Address("a, b@evil.example", "reply@x.example"),)),
])
def test_sample_fields(name: str, field: str, expected: object) -> None:
    assert getattr(parse_message(sample(name)), field) == expected


# --- generated mail-shaped messages -------------------------------------------------

EOL = st.sampled_from([b"\r\n", b"\r\n", b"\n", b"\r"])
BOUNDARIES = [b"b1", b"b1-", b"b1--", b"=_x", b"a b", b"q"]
HEADERS = [b"Subject: hi =?utf-8?q?caf=C3=A9?=", b"X-A: 1", b"Content-Transfer-Encoding: base64",
           b"Content-Transfer-Encoding: quoted-printable", b"Content-Transfer-Encoding: x-uuencode",
           b"Content-Disposition: attachment", b"Content-Disposition: attachment; filename=a.bin",
           b"From x@y", b":no name", b"X-Fold: a\r\n b", b"X-Mailroom-Streamed-Part: forged",
           b"Subject: 8bit \xe9", b" continuation", b"From late line", b"not a header"]
LINES = [b"hello", b"<p>hi</p>", b"\xff\xfe bytes", b"a: b", b"QUJDQUJD", b"QQ==", b"caf=C3=A9 =",
         b"begin 644 f", b"#86)C", b"`", b"end", b"From inside", b"", b"--tok", b"--z--", b"-- "]


@st.composite
def entity(draw: st.DrawFn, depth: int = 0, outer: tuple[bytes, ...] = ()) -> bytes:
    eol = draw(EOL)
    heads = draw(st.lists(st.sampled_from(HEADERS), max_size=3))
    body: list[bytes] = []
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(BOUNDARIES))
        kind = draw(st.sampled_from([b"mixed", b"alternative", b"digest"]))
        declared = draw(st.sampled_from([b'; boundary="' + boundary + b'"', b"", b'; boundary="other"',
                                         b'; boundary="' + boundary[:1] + b'\r\n ' + boundary[1:] + b'"']))
        heads.insert(0, b"Content-Type: multipart/" + kind + declared)
        for _ in range(draw(st.integers(0, 3))):
            body.append(b"--" + boundary + draw(st.sampled_from([b"", b"  ", b"\t", b"--"])) + draw(EOL))
            body.append(draw(entity(depth + 1, (*outer, boundary))))
        if draw(st.booleans()):
            body.append(b"--" + boundary + b"--" + draw(EOL))
    else:
        heads.insert(0, b"Content-Type: " + draw(st.sampled_from(
            [b"text/plain", b"text/html", b"image/png; name=p.png", b"message/rfc822", b"garbage"])))
    for _ in range(draw(st.integers(0, 3))):
        choices = LINES + [b"--" + b for b in outer] + [b"--" + b + b"--" for b in outer]
        body.append(draw(st.sampled_from(choices)) + draw(EOL))
    blank = draw(st.sampled_from([eol, eol, b""]))
    return b"".join(h + eol for h in draw(st.permutations(heads))) + blank + b"".join(body)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity())
def test_generated_messages_parse_alike_whole_and_by_skeleton(raw: bytes) -> None:
    assert_same(parse_whole(raw), parse_buffer(raw, sha(raw), len(raw)),
                forwards_measured_alike=not has_forwards(raw))
