"""Reading a UIDL listing: the whole-listing fast path says exactly what the line parser says.

A poll that finds nothing new spends much of its time reading the listing, so a listing
in RFC 1939's strict form is read in one go; anything else (extra words, blank lines,
a repeated id) goes through the lenient line parser. Both must agree on every listing.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailroom.mail.pop3 import _parse_uidl_lines, parse_uidl

uid = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8).map(str.encode)
strict_line = st.tuples(st.integers(1, 60), uid).map(lambda p: b"%d %s\r\n" % p)
odd_line = st.sampled_from([b"\r\n", b"7\r\n", b" 3 a\r\n", b"4  b\r\n", b"5 c d\r\n", b"x y\r\n", b"6\tz\r\n",
                            b"8 \xe9t\xe9\r\n", b"\xb2 q\r\n", b"9 a\r\n"])


@given(st.lists(strict_line, max_size=30))
def test_a_strict_listing_reads_as_the_line_parser_reads_it(lines):
    body = b"".join(lines)
    assert parse_uidl(body) == _parse_uidl_lines(body)


@given(st.lists(st.one_of(strict_line, odd_line), max_size=30))
def test_any_listing_reads_as_the_line_parser_reads_it(lines):
    body = b"".join(lines)
    assert parse_uidl(body) == _parse_uidl_lines(body)


def test_a_listing_reads_as_numbers_and_ids():
    assert parse_uidl(b"1 aa\r\n2 bb\r\n10 cc\r\n") == ({1: "aa", 2: "bb", 10: "cc"}, None)
    assert parse_uidl(b"") == ({}, None)


def test_an_id_listed_twice_is_named_with_its_count():
    assert parse_uidl(b"1 aa\r\n2 bb\r\n3 aa\r\n")[1] == ("aa", 2)
