"""Large messages: streamed RETR and the skeleton parse agree with the in-memory path."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailroom.mail import stream
from mailroom.mail.parse import parse_buffer, parse_message, parse_whole
from mailroom.mail.pop3 import Pop3Client
from mailroom.mail.skeleton import _WINDOW, skeleton_of
from mailroom.model import Endpoint
from tests.mailgen import make_message
from tests.servers.scripted import ScriptedPop3

SAMPLE = (__import__("pathlib").Path(__file__).parent / "samples" / "multipart.eml").read_bytes()


def via_skeleton(raw: bytes):
    return parse_buffer(raw, hashlib.sha256(raw).hexdigest(), len(raw)), skeleton_of(raw)


@pytest.mark.parametrize("raw", [
    make_message(1), make_message(2, html=True), make_message(3, html=True, attachment_kb=300),
    make_message(4, attachment_kb=64, body="line\n.starts with a dot\n..two dots\n"),
], ids=["text", "alternative", "attachment", "dots"])
def test_the_skeleton_parses_like_the_whole_message(raw):
    whole = parse_whole(raw)
    streamed, skeleton = via_skeleton(raw)
    assert len(skeleton.raw) < len(raw) or not whole.attachments
    assert streamed == whole


def test_a_forwarded_message_keeps_its_name_and_is_measured_as_received():
    whole = parse_whole(SAMPLE)
    streamed, _ = via_skeleton(SAMPLE)
    assert [a.filename for a in streamed.attachments] == [a.filename for a in whole.attachments]
    forwarded = SAMPLE[SAMPLE.rindex(b"message/rfc822\r\n\r\n") + 18:SAMPLE.rindex(b"\r\n--=_mixed_1--")]
    for mine, theirs in zip(streamed.attachments, whole.attachments):
        if mine.content_type == "message/rfc822":   # the whole parse writes it again (stdlib)
            assert (mine.size, mine.sha256) == (len(forwarded), hashlib.sha256(forwarded).hexdigest())
        else:
            assert mine == theirs
    assert (streamed.text, streamed.html, streamed.subject) == (whole.text, whole.html, whole.subject)


def test_forged_marks_in_mail_are_ignored():
    raw = make_message(5, attachment_kb=4).replace(
        b"Content-Disposition: attachment", b"X-Mailroom-Streamed-Part: x-0\r\nContent-Disposition: attachment")
    whole = parse_whole(raw)
    streamed, skeleton = via_skeleton(raw)
    assert streamed.attachments == whole.attachments
    assert not any(key.startswith("x-") for key in skeleton.parts)   # keys carry a fresh token


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=len(SAMPLE)))
def test_the_skeleton_never_raises(noise, cut):
    for raw in (noise, SAMPLE[:cut] + noise, SAMPLE[cut:]):
        msg, _ = via_skeleton(raw)
        assert isinstance(msg.subject, str)


@pytest.mark.parametrize("chunky", [False, True])
def test_retr_to_streams_and_unstuffs(chunky, monkeypatch):
    body = b"".join(b"line %d\r\n" % i + (b".dot line\r\n" if i % 7 == 0 else b"") for i in range(20000))
    messages = [make_message(1, body=".first line has a dot\n" + body.decode()), b"Subject: empty\r\n\r\n"]
    if chunky:
        monkeypatch.setattr("mailroom.mail.pop3._CHUNK", 7)   # every boundary case of the reader
    with ScriptedPop3(messages) as server:
        ep = Endpoint("pop3", "127.0.0.1", server.port, "none", username=server.user, timeout=10)
        with Pop3Client.open(ep, lambda: server.password) as pop:
            for number, original in enumerate(server.mailbox, 1):
                sink = io.BytesIO()
                size, sha = pop.retr_to(number, sink)
                expected = original[1]
                assert sink.getvalue() == expected
                assert (size, sha) == (len(expected), hashlib.sha256(expected).hexdigest())
            assert pop.stat()[0] == 2                              # the session is still in step
            pop.quit()


@pytest.mark.parametrize("shift", range(7))
def test_a_boundary_across_the_edge_of_a_search_window_is_found(shift, tmp_path):
    """The skeleton searches a body _WINDOW bytes at a time (and gives a spool file's
    pages back behind it): a boundary line that straddles the edge is still found."""
    head = (b"Subject: window\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: application/octet-stream; name=a.bin\r\n\r\n")
    size = _WINDOW - 4 + shift  # "\r\n--b" begins here, from the body's first byte
    data = (b"y" * 998 + b"\r\n") * (size // 1000) + b"z" * (size % 1000)
    raw = head + data + b"\r\n--b\r\nContent-Type: image/png; name=p.png\r\n\r\npng\r\n--b--\r\n"
    path = tmp_path / "spool.eml"
    path.write_bytes(raw)
    expected = [("a.bin", len(data), hashlib.sha256(data).hexdigest()),
                ("p.png", 3, hashlib.sha256(b"png").hexdigest())]
    for m in (parse_message(raw), stream.parse_file(path, hashlib.sha256(raw).hexdigest(), len(raw))):
        assert [(a.filename, a.size, a.sha256) for a in m.attachments] == expected
