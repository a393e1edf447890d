"""Our signed Message-IDs and reply detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailroom.rules.thread import (
    KnownMessage,
    ReplyInfo,
    detect_reply,
    is_our_message_id,
    make_message_id,
)

SECRET = b"installation secret"
NONCE = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
OURS = make_message_id(SECRET, NONCE, "studio.example")
OTHER_OURS = make_message_id(SECRET, "abc123", "studio.example")

SENT = KnownMessage(OURS, conversation_id=10, task_id=100, direction="out")
IMPORTED = KnownMessage("CAF1@mail.client.example", conversation_id=20, task_id=None, direction="in")
OLDER = KnownMessage("root@mail.client.example", conversation_id=30, task_id=300, direction="in")


def _with_mac(message_id: str, mac: str) -> str:
    local, _, domain = message_id.partition("@")
    return f"{local.rsplit('.', 1)[0]}.{mac}@{domain}"


def test_message_id_shape():
    local, _, domain = OURS.partition("@")
    prefix, nonce, mac = local.split(".")
    assert (prefix, nonce, domain) == ("mr", NONCE, "studio.example")
    assert len(mac) == 16 and int(mac, 16) >= 0
    assert "<" not in OURS and make_message_id(SECRET, NONCE, "studio.example") == OURS


@pytest.mark.parametrize(
    ("message_id", "ours"),
    [
        (OURS, True),
        (_with_mac(OURS, OURS.split("@")[0].rsplit(".", 1)[1]), True),
        (f"<{OURS}>", True),
        (f"  {OURS} ", True),
        (OURS.upper().replace(NONCE.upper(), NONCE), True),  # prefix and mac case-folded
        (OURS.replace("studio.example", "new-domain.example"), True),  # domain not signed
        (make_message_id(b"another secret", NONCE, "studio.example"), False),
        (OURS.replace(NONCE, NONCE[:-1] + "0"), False),
        (_with_mac(OURS, "0" * 16), False),
        (OURS.replace("mr.", "xx."), False),
        (OURS.split("@")[0], False),
        ("CAF1@mail.client.example", False),
        ("mr.abc.zzzzzzzzzzzzzzzz@studio.example", False),
        ("", False),
    ],
)
def test_is_our_message_id(message_id, ours):
    assert is_our_message_id(SECRET, message_id) is ours


def test_empty_secret_never_recognises_anything():
    assert not is_our_message_id(b"", OURS)


@pytest.mark.parametrize(
    ("secret", "nonce", "domain", "message"),
    [
        (b"", NONCE, "studio.example", "secret"),
        (SECRET, "", "studio.example", "nonce"),
        (SECRET, "a.b", "studio.example", "nonce"),
        (SECRET, "a@b", "studio.example", "nonce"),
        (SECRET, "a b", "studio.example", "nonce"),
        (SECRET, NONCE, "", "domain"),
        (SECRET, NONCE, "studio.example>", "domain"),
        (SECRET, NONCE, "a b.example", "domain"),
    ],
)
def test_make_message_id_refuses_bad_input(secret, nonce, domain, message):
    with pytest.raises(ValueError, match=message):
        make_message_id(secret, nonce, domain)


KNOWN = {m.message_id: m for m in (SENT, IMPORTED, OLDER)}


@pytest.mark.parametrize(
    ("in_reply_to", "references", "known", "expected"),
    [
        ((), (), KNOWN, ReplyInfo(False, None, None, None, None)),
        (("unknown@x.example",), ("also-unknown@x.example",), KNOWN,
         ReplyInfo(False, None, None, None, None)),
        ((OURS,), (), KNOWN, ReplyInfo(True, 10, 100, OURS, "in-reply-to")),
        # A known imported message counts too (the client wrote again in the thread).
        ((IMPORTED.message_id,), (), KNOWN, ReplyInfo(True, 20, None, IMPORTED.message_id, "in-reply-to")),
        # In-Reply-To beats References.
        ((IMPORTED.message_id,), (OLDER.message_id, OURS), KNOWN,
         ReplyInfo(True, 20, None, IMPORTED.message_id, "in-reply-to")),
        # Unknown In-Reply-To: the newest (last) known reference wins.
        (("unknown@x.example",), (OLDER.message_id, IMPORTED.message_id), KNOWN,
         ReplyInfo(True, 20, None, IMPORTED.message_id, "references")),
        ((), (OLDER.message_id, "unknown@x.example"), KNOWN,
         ReplyInfo(True, 30, 300, OLDER.message_id, "references")),
        # Angle brackets in the parsed ids are tolerated.
        ((f"<{OURS}>",), (), KNOWN, ReplyInfo(True, 10, 100, OURS, "in-reply-to")),
        # Our token is a reply even when the store does not know it ...
        ((OTHER_OURS,), (), {}, ReplyInfo(True, None, None, OTHER_OURS, "our-token")),
        ((), ("root@x.example", OTHER_OURS), {}, ReplyInfo(True, None, None, OTHER_OURS, "our-token")),
        # ... but a known id, which names the conversation, beats a bare token.
        ((OTHER_OURS,), (OLDER.message_id,), KNOWN, ReplyInfo(True, 30, 300, OLDER.message_id, "references")),
        # A token signed with another secret is just an unknown id.
        ((make_message_id(b"someone else", "n1", "studio.example"),), (), {},
         ReplyInfo(False, None, None, None, None)),
    ],
)
def test_detect_reply(make_msg, in_reply_to, references, known, expected):
    msg = make_msg(in_reply_to=in_reply_to, references=references)
    assert detect_reply(msg, known, SECRET) == expected


def test_a_message_naming_itself_is_not_a_reply(make_msg):
    msg = make_msg(message_id=IMPORTED.message_id, in_reply_to=(IMPORTED.message_id,))
    assert not detect_reply(msg, KNOWN, SECRET).is_reply


@settings(database=None, max_examples=200)
@given(
    secret=st.binary(min_size=1, max_size=64),
    nonce=st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True),
    other=st.binary(min_size=1, max_size=64),
)
def test_every_id_we_make_is_ours_and_only_ours(secret, nonce, other):
    message_id = make_message_id(secret, nonce, "studio.example")
    assert is_our_message_id(secret, message_id)
    assert is_our_message_id(other, message_id) is (other == secret)


@settings(database=None, max_examples=300)
@given(st.text(max_size=80))
def test_random_text_is_never_our_message_id_and_never_raises(text):
    # A forged id would need the right 64-bit MAC: random text never has it.
    assert is_our_message_id(SECRET, text) is False
