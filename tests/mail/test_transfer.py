"""The transfer decoders (mailroom/mail/transfer.py): what the stdlib reads from a whole
payload, and the same result however the input is cut (a part streamed from a file is
fed in pieces, a part in memory at once)."""

from __future__ import annotations

import base64
import binascii
import quopri

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailroom.mail.transfer import Buffer, TransferDecoder, decode_transfer

ENCODINGS = ["base64", "quoted-printable", "x-uuencode", "7bit"]
PIECES = [b"=", b"==", b"\r\n", b"\n", b"\r", b"QUJD", b"QQ", b"begin 644 x\n", b"end\n", b"M", b"`\n",
          b" ", b"=41", b"=\r\n", b"=\r", b"=4", b"!", b"\xff", b"abc", b"#86)C\n"]


def in_pieces(data: bytes, cuts: list[int], cte: str) -> tuple[bytes, str | None]:
    decoder = TransferDecoder(cte, Buffer)
    start = 0
    for cut in sorted(cuts):
        decoder.feed(data[start:cut])
        start = max(start, cut)
    decoder.feed(data[start:])
    return bytes(decoder.close()), decoder.defect  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join), st.lists(st.integers(0, 200), max_size=12),
       st.sampled_from(ENCODINGS))
def test_any_cutting_gives_the_same_bytes(data: bytes, cuts: list[int], cte: str) -> None:
    defects: list[str] = []
    assert in_pieces(data, cuts, cte) == (decode_transfer(data, cte, defects), (defects or [None])[0])


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.sampled_from([b"QUJD", b"QQ", b"Q", b"=", b"==", b"\r\n", b"!", b"\xff", b"+/"]),
                max_size=16).map(b"".join))
def test_base64_reads_as_binascii_does(data: bytes) -> None:
    try:
        expected = binascii.a2b_base64(data)
    except binascii.Error:
        return  # binascii gives up (no padding); the decoder reads on, with a defect
    assert decode_transfer(data, "base64", []) == expected


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=3000))
def test_encodings_round_trip(data: bytes) -> None:
    uu = b"begin 644 f\r\n" + b"".join(binascii.b2a_uu(data[i:i + 45]) for i in range(0, len(data), 45)) + b"`\r\nend\r\n"
    assert decode_transfer(base64.encodebytes(data), "base64", []) == data
    assert decode_transfer(quopri.encodestring(data), "quoted-printable", []) == data
    assert decode_transfer(uu, "x-uuencode", []) == data


@pytest.mark.parametrize(("data", "cte", "expected", "defect"), [
    (b"QUJD\r\nRA==\r\n\r\nmailing list footer", "base64", b"ABCD", "data after the base64 padding ignored"),
    (b"QUJDRA", "base64", b"ABCD", "irregular base64; decoded leniently"),
    (b"caf=C3=A9 =\r\nau lait=\r\n", "quoted-printable", "café au lait".encode(), None),
    (b"no begin line", "x-uuencode", b"no begin line", None),
    (b"begin 644 f\n#86)C\n\nM\n", "uuencode", b"abc", "truncated uuencode; decoded up to the damage"),
    (b"raw \xff bytes", "8bit", b"raw \xff bytes", None),
])
def test_irregular_input(data: bytes, cte: str, expected: bytes, defect: str | None) -> None:
    defects: list[str] = []
    assert decode_transfer(data, cte, defects) == expected
    assert defects == ([defect] if defect else [])
