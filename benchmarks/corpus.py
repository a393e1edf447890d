"""The benchmark's mail: a realistic, seeded mix, the same bytes for the same seed.

About 70% short plain-text messages (~2 KB), 25% multipart/alternative with an HTML
part (~20 KB), 5% with a ~500 KB PDF attachment (~325 MB per 10,000 messages).
Headers look like delivered mail (Return-Path, a Received chain, DKIM-Signature,
X-Mailer); dates are spread over the two years before `END_DATE`; a pool of clients
writes several messages each, and about a fifth of the messages answer an earlier one
(In-Reply-To/References, "Re:"), so client matching and threading do real work.

Messages come from `tests.mailgen.make_message`, so the MIME structure is the one the
tests use. Generation runs on every core; it is not part of any measurement.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import os
import random
import re
from concurrent.futures import ProcessPoolExecutor

from tests.mailgen import make_message

END_DATE = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)
SPAN = dt.timedelta(days=730)
ATTACHMENT_KB = 360          # base64 on the wire: ~500 KB
BIG_MESSAGE_KB = 22 * 1024   # base64 on the wire: ~30 MB

_WORDS = ("session studio light portrait wedding album proofs retouch invoice booking family "
          "schedule morning afternoon weekend quote package prints frame canvas gallery "
          "location outdoor backdrop team headshots event deposit balance delivery digital "
          "files resolution colour black white edit selection favourite thanks please").split()
_MAILERS = ("Apple Mail (2.3774.600.62)", "Microsoft Outlook 16.0", "Mozilla Thunderbird 128.4.0",
            "Gmail", "K-9 Mail 6.800", "Roundcube Webmail/1.6.9")
_TRACE = (b"return-path:", b"received:", b"dkim-signature:")
_DOMAINS = ("example.com", "example.org", "mail.example.net", "clients.example", "example.co.uk")


def _paragraphs(rng: random.Random, size: int) -> str:
    out, total = [], 0
    while total < size:
        words = [rng.choice(_WORDS) for _ in range(rng.randint(25, 60))]
        para = _wrap(" ".join(words).capitalize() + ".")
        out.append(para)
        total += len(para) + 2
    return "\n\n".join(out)


def _headers(rng: random.Random, i: int, date: dt.datetime, domain: str) -> list[tuple[str, str]]:
    hops = []
    when = date
    for hop in range(3):
        when += dt.timedelta(seconds=rng.randint(1, 40))
        hops.append(("Received", f"from mx{hop}.{domain} (mx{hop}.{domain} [192.0.2.{rng.randint(1, 254)}]) "
                                 f"by pop.studio.example with ESMTPS id {rng.getrandbits(48):012x} "
                                 f"for <studio@localhost>; {email.utils.format_datetime(when)}"))
    sig = hashlib.sha256(b"dkim-%d" % i).hexdigest() * 3
    b_tag = " ".join(sig[k:k + 60] for k in range(44, 172, 60))  # folded like real signatures
    return [
        ("Return-Path", f"<bounce-{i}@{domain}>"),
        *reversed(hops),
        ("DKIM-Signature", f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s2024; "
                           f"h=from:to:subject:date:message-id; bh={sig[:44]}=; b={b_tag}"),
        ("X-Mailer", rng.choice(_MAILERS)),
    ]


def _delivered_order(raw: bytes) -> bytes:
    """Move the trace fields to the top of the header, where the MTAs put them."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    fields = re.split(rb"\r\n(?![ \t])", head)
    trace = [f for f in fields if f.lower().startswith(_TRACE)]
    return b"\r\n".join(trace + [f for f in fields if not f.lower().startswith(_TRACE)]) + sep + body


def _wrap(text: str, width: int = 72) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def _message(args: tuple[int, int, float]) -> bytes:
    """Message `i` of the corpus `seed` (see generate())."""
    seed, i, old_share = args
    rng = random.Random(f"{seed}-{i}")
    kind = rng.random()
    # a pool of clients, each writing several messages
    client = rng.randrange(max(1, i // 4 + 1))
    domain = _DOMAINS[client % len(_DOMAINS)]
    first = ("Ava", "Noah", "Chloé", "Liam", "Maya", "Oskar", "Priya", "Tomás", "Zoe", "Ethan")[client % 10]
    last = ("Martin", "Nguyen", "Okafor", "Schmidt", "Rossi", "García", "Haddad", "Walsh")[client % 8]
    sender = email.utils.formataddr((f"{first} {last}", f"client{client}@{domain}"))
    if old_share:
        # the exclude_before mailbox: `old_share` of the messages lie in the older half
        # of the span, before cutoff_date(); the rest in the newer half
        date = END_DATE - SPAN * (0.5 + 0.5 * rng.random() if rng.random() < old_share else 0.5 * rng.random())
    else:
        date = END_DATE - SPAN * rng.random()
    date = date.replace(microsecond=0)
    extra = _headers(rng, i, date, domain)
    subject = None
    if i > 10 and rng.random() < 0.2:
        parent = rng.randrange(i)
        parent_id = f"<bench.{seed}.{parent}@{domain}>"
        extra += [("In-Reply-To", parent_id), ("References", parent_id)]
        subject = f"Re: {rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS)} ({parent})"
    common = dict(sender=sender, to="Studio <studio@localhost>", subject=subject, date=date,
                  message_id=f"<bench.{seed}.{i}@{domain}>", extra_headers=extra)
    return _delivered_order(_body(rng, i, kind, first, last, common))


def _body(rng: random.Random, i: int, kind: float, first: str, last: str, common: dict) -> bytes:
    if kind < 0.70:
        return make_message(i, body=_paragraphs(rng, 1000) + f"\n\nBest regards,\n{first} {last}\n", **common)
    if kind < 0.95:
        return make_message(i, body=_paragraphs(rng, 8500) + f"\n\n{first} {last}\n", html=True, **common)
    return make_message(i, body=_paragraphs(rng, 600) + "\n\nThe document is attached.\n",
                        attachment_kb=ATTACHMENT_KB, **common)


def cutoff_date() -> dt.date:
    """The exclude_before day of the `old_share` corpus: every old message lies before it."""
    return (END_DATE - SPAN * 0.5).date()


def generate(count: int, seed: int = 1, *, old_share: float = 0.0, start: int = 0) -> list[bytes]:
    """`count` messages (numbers start..start+count-1), in parallel on every core."""
    jobs = [(seed, i, old_share) for i in range(start, start + count)]
    if count < 200:
        return [_message(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(_message, jobs, chunksize=64))


def big_message(seed: int = 1) -> bytes:
    """One ~30 MB message (a large attachment), for peak memory."""
    return make_message(10**6 + seed, sender="Big Sender <big@example.com>", to="studio@localhost",
                        subject="Full-resolution files", body="All files attached.\n",
                        attachment_kb=BIG_MESSAGE_KB)

