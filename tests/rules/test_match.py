"""Client matching: existing, shared, new and unmatched senders."""

from __future__ import annotations

import pytest

from mailroom.model import Address
from mailroom.rules.match import (
    ClientRecord,
    Matched,
    NewClient,
    Unmatched,
    client_name,
    is_system_address,
    match_client,
    sender_key,
)

JANE = Address("Jane Doe", "jane.doe@client.example")
ANN = ClientRecord(7, "Ann", ("jane.doe@client.example",))
BOB = ClientRecord(3, "Bob", ("Jane.Doe@client.example", "bob@client.example"))
CAROL = ClientRecord(12, "Carol", ("jane.doe@client.example",))


@pytest.mark.parametrize(
    ("sender", "candidates", "setting", "expected"),
    [
        (JANE, [ANN], "create", Matched(7, False, (7,))),
        (JANE, [ANN], "leave_unmatched", Matched(7, False, (7,))),
        # Shared address: lowest id wins, flagged, all candidates listed in order.
        (JANE, [ANN, CAROL, BOB], "create", Matched(3, True, (3, 7, 12))),
        # The same client twice (two matching address rows) is not ambiguous.
        (JANE, [ANN, ANN], "create", Matched(7, False, (7,))),
        (JANE, [], "create", NewClient("Jane Doe", "jane.doe@client.example")),
        (Address("", "Jane.Doe@Client.Example"), [], "create",
         NewClient("Jane Doe", "jane.doe@client.example")),
        (JANE, [], "leave_unmatched", Unmatched(
            "No client has the address jane.doe@client.example, and new senders are left unmatched.")),
        (None, [], "create", Unmatched("The message has no sender address.")),
        (Address("Nobody", ""), [], "create", Unmatched("The message has no sender address.")),
        (Address("Mail Delivery System", "MAILER-DAEMON@mx.example"), [], "create",
         Unmatched("mailer-daemon@mx.example is an automated sender, so no client was created.")),
        # A client the user gave a no-reply address to still matches.
        (Address("", "noreply@shop.example"), [ClientRecord(5, "Shop", ("noreply@shop.example",))],
         "create", Matched(5, False, (5,))),
    ],
)
def test_match_client(sender, candidates, setting, expected):
    assert match_client(sender, candidates, setting) == expected


OWN = frozenset({"hello@studio.example", "bookings@studio.example", "smtp-out@studio.example", "ann@staff.example"})


def internal(email: str) -> Unmatched:
    return Unmatched(f"{email} is one of our own addresses, so the message is internal: it is not filed "
                     "against a client.", internal=True)


@pytest.mark.parametrize(
    ("sender", "candidates", "expected"),
    [
        # The studio's own address never becomes a client: its mail is internal ...
        (Address("Studio", "hello@studio.example"), [], internal("hello@studio.example")),
        (Address("", "Bookings@Studio.example"), [], internal("bookings@studio.example")),
        # ... also with a +detail (RFC 5233), and a staff member's address (a user's email) ...
        (Address("", "hello+test@studio.example"), [], internal("hello+test@studio.example")),
        (Address("Ann Archer", "Ann@Staff.example"), [], internal("ann@staff.example")),
        # ... nor is filed against a client that wrongly holds it.
        (Address("", "smtp-out@studio.example"), [ClientRecord(4, "Oops", ("smtp-out@studio.example",))],
         internal("smtp-out@studio.example")),
        # Near misses: another address at our domain, and a client's own address.
        (Address("Ann", "ann@studio.example"), [], NewClient("Ann", "ann@studio.example")),
        (JANE, [ANN], Matched(7, False, (7,))),
    ],
)
def test_our_own_addresses_never_become_clients(sender, candidates, expected):
    assert match_client(sender, candidates, "create", OWN) == expected


JANE_PLUS = Address("Jane", "Jane.Doe+Photos@client.example")
PLAIN_JANE = ClientRecord(7, "Jane", ("jane.doe@client.example",))
TAGGED_JANE = ClientRecord(9, "Jane (photos)", ("jane.doe+photos@client.example",))


@pytest.mark.parametrize(
    ("sender", "candidates", "expected"),
    [
        # The shell passes the owners of jane.doe@ for jane.doe+photos@: the same person.
        (JANE_PLUS, [PLAIN_JANE], Matched(7, False, (7,))),
        # A client holding the tagged address itself wins over the untagged one.
        (JANE_PLUS, [PLAIN_JANE, TAGGED_JANE], Matched(9, False, (9,))),
        (JANE_PLUS, [], NewClient("Jane", "jane.doe+photos@client.example")),
    ],
)
def test_a_subaddress_is_its_owner(sender, candidates, expected):
    assert match_client(sender, candidates, "create") == expected


def test_automated_mail_never_makes_a_client_but_a_client_s_is_still_theirs():
    why = "The message is marked Auto-Submitted: auto-replied."
    assert match_client(JANE, [], "create", automated=why) == Unmatched(
        f"{why} Automated mail from jane.doe@client.example does not create a client.")
    assert match_client(JANE, [ANN], "create", automated=why) == Matched(7, False, (7,))


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("target+1@victim.example", "target@victim.example"),
        ("Target+Promo+2@Victim.Example", "target@victim.example"),
        (" <Ann@X.example> ", "ann@x.example"),
        ("ann@x.example", "ann@x.example"),
        ("ann.b@x.example", "ann.b@x.example"),        # dots are kept: not every provider ignores them
        ("ann-news@x.example", "ann-news@x.example"),  # only "+" separates a subaddress (RFC 5233)
        ("+only@x.example", "+only@x.example"),        # no local part left: keep it whole
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_sender_key(address, key):
    assert sender_key(address) == key


def test_unknown_setting_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown_sender"):
        match_client(JANE, [], "ask")


@pytest.mark.parametrize(
    ("display", "email", "name"),
    [
        ("Jane Doe", "jd@x.example", "Jane Doe"),
        ('  "Jane   Doe" ', "jd@x.example", "Jane Doe"),
        ("", "jane.doe@x.example", "Jane Doe"),
        ("", "jane_doe-smith@x.example", "Jane Doe Smith"),
        ("", "jane.doe+studio@x.example", "Jane Doe"),
        ("", "JANE.DOE@x.example", "Jane Doe"),
        ("", "mcKay@x.example", "McKay"),
        ("jane.doe@x.example", "jane.doe@x.example", "Jane Doe"),
        ("Doe, Jane", "jd@x.example", "Doe, Jane"),
        ("", "...@x.example", "...@x.example"),
    ],
)
def test_client_name(display, email, name):
    assert client_name(display, email) == name


@pytest.mark.parametrize(
    ("email", "system"),
    [
        ("MAILER-DAEMON@mx.example", True),
        ("postmaster@x.example", True),
        ("LISTSERV@lists.example", True),
        ("majordomo@x.example", True),
        ("photo-club-request@lists.example", True),
        ("owner-photo-club@lists.example", True),
        ("photo-club-bounces@lists.example", True),
        ("no-reply@shop.example", True),
        ("noreply@shop.example", True),
        ("NoReply-Alerts@bank.example", True),
        ("do-not-reply@x.example", True),
        ("donotreply@x.example", True),
        ("do_not_reply@x.example", True),
        ("no.reply+123@x.example", True),
        # near misses: people
        ("jane.doe@client.example", False),
        ("nora@client.example", False),
        ("requests@client.example", False),
        ("owner@client.example", False),
        ("postmaster.photos@client.example", False),
        ("Post.Master@client.example", True),
    ],
)
def test_is_system_address(email, system):
    assert is_system_address(email) is system
