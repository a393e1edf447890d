"""Authentication-Results (RFC 8601): parsing, the trusted authserv-id, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailroom.rules.authresults import (
    AuthResults,
    MethodResult,
    parse_authentication_results,
    trusted_authserv_id,
)

GMAIL = ("mx.google.com;\r\n       dkim=pass header.i=@client.example header.s=s1 header.b=\"AbC+/=\";\r\n"
         "       spf=softfail (google.com: domain of transitioning ann@client.example does not designate "
         "203.0.113.9 as permitted sender) smtp.mailfrom=ann@client.example;\r\n"
         "       dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=client.example")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (GMAIL, AuthResults("mx.google.com", (
            MethodResult("dkim", "pass", (("header.i", "@client.example"), ("header.s", "s1"),
                                          ("header.b", "AbC+/="))),
            MethodResult("spf", "softfail", (("smtp.mailfrom", "ann@client.example"),)),
            MethodResult("dmarc", "fail", (("header.from", "client.example"),)),
        ))),
        # RFC 8601 section 2.2: no-result; a version after the authserv-id; a quoted id.
        ("mx.example.org 1; none", AuthResults("mx.example.org", ())),
        ('"MX.Example.ORG"; spf=pass smtp.mailfrom=a@b.example',
         AuthResults("mx.example.org", (MethodResult("spf", "pass", (("smtp.mailfrom", "a@b.example"),)),))),
        # Comments anywhere, nested, holding ";" "=" quotes and UTF-8 (RFC 6532).
        ('mx.example.org (a ";" (nested = x)) ; spf (\u00fcber; x) = fail (not \\) closed) smtp.mailfrom=b.example',
         AuthResults("mx.example.org", (MethodResult("spf", "fail", (("smtp.mailfrom", "b.example"),)),))),
        # A method version, a reason, spaces around "." and "=".
        ('mx.example.org; dkim/1 = pass reason="good; sig" header . d = b.example',
         AuthResults("mx.example.org", (MethodResult("dkim", "pass", (("header.d", "b.example"),)),))),
        # A resinfo that breaks the grammar is left out, the others kept.
        ("mx.example.org; spf=pass !!junk!!; dmarc=fail header.from=b.example",
         AuthResults("mx.example.org", (MethodResult("dmarc", "fail", (("header.from", "b.example"),)),))),
        # Microsoft 365 writes no authserv-id at all: nothing to trust.
        ("spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=b.example; dmarc=fail action=none "
         "header.from=b.example", None),
        ("", None),
        # An unclosed comment or quote: the id is still known, no result is trusted.
        ("mx.example.org; spf=fail (oops smtp.mailfrom=b.example", AuthResults("mx.example.org", ())),
        ('mx.example.org; dmarc=fail reason="oops', AuthResults("mx.example.org", ())),
    ],
)
def test_parse(value, expected):
    assert parse_authentication_results(value) == expected


@pytest.mark.parametrize(
    ("host", "setting", "expected"),
    [
        ("pop.gmail.com", "", "mx.google.com"),
        ("POP.GMAIL.COM.", "", "mx.google.com"),
        ("pop.googlemail.com", "", "mx.google.com"),
        ("imap.gmail.com", "", "mx.google.com"),
        ("pop.gmail.com", " MX.Example.org ", "mx.example.org"),   # the setting wins
        ("mail.example.org", "mx.example.org", "mx.example.org"),
        # Unknown providers, and look-alikes, are not trusted without the setting.
        ("mail.example.org", "", ""),
        ("pop.gmail.com.evil.example", "", ""),
        ("notgmail.com", "", ""),
        ("127.0.0.1", "", ""),
    ],
)
def test_trusted_authserv_id(host, setting, expected):
    assert trusted_authserv_id(host, setting) == expected


@pytest.mark.parametrize(
    "value",
    [
        "mx.example.org; spf=pass " + "(" * 100_000 + ")" * 100_000,   # deep nesting: no recursion
        "mx.example.org; spf=pass " + "(" * 100_000,
        "mx.example.org; " + "; ".join(["dkim=pass header.d=b.example"] * 5_000),
        "mx.example.org; " + '"' * 50_001,
        "mx.example.org; spf=pass smtp.mailfrom=" + "a" * 70_000,        # longer than any real header
    ],
)
def test_hostile_headers_are_parsed_or_refused_without_raising(value):
    found = parse_authentication_results(value)
    assert found is None or found.authserv_id == "mx.example.org"


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from('mx.orgspfail;=()"\\ \r\n@/1\u00fc'), max_size=200))
def test_any_text_parses_or_is_refused(value):
    found = parse_authentication_results(value)
    assert found is None or isinstance(found, AuthResults)
