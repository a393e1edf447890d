"""When the tray notifies, as a table of snapshots: summaries, problems, recovery, quiet start."""

from __future__ import annotations

import datetime as dt

from mailroom.model import MailboxState, NewMessage, OutboxCounts, RunCounts, Status
from tray.notify import Memory, decide, start

T0 = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.timezone.utc)
LATER = T0 + dt.timedelta(minutes=5)
QUIET = dt.timedelta(seconds=15)

LENA = NewMessage(11, 7, "Lena Fischer", "Wedding in June")
TOM = NewMessage(12, 8, "Tom Baker", "Prints")
ANN = NewMessage(13, 9, "ann@example.com", "")


def box(run_seq=0, imported=0, new=(), error_kind=None, id=3, name="Sales", enabled=True) -> MailboxState:
    return MailboxState(id=id, description=name, enabled=enabled, state="error" if error_kind else "waiting",
                        run_seq=run_seq, counts=RunCounts(imported=imported) if run_seq else None,
                        new_messages=tuple(new), error_kind=error_kind,
                        error="The server rejected the password." if error_kind == "auth" else None)


def snap(*boxes, unread=0, outbox=OutboxCounts(), outbox_error=None) -> Status:
    return Status(paused=False, paused_until=None, mailboxes=boxes, outbox=outbox, quarantined=0, unread=unread,
                  outbox_error=outbox_error)


def run(memory: Memory, *snapshots: Status, now=LATER, **kw) -> tuple[Memory, list]:
    said = []
    for s in snapshots:
        memory, notices = decide(memory, s, now, quiet=QUIET, **kw)
        said += notices
    return memory, said


def test_one_summary_per_run_naming_the_senders():
    memory = start(snap(box(run_seq=1)), T0)
    memory, said = run(memory, snap(box(run_seq=2, imported=3, new=(LENA, TOM, ANN)), unread=3))
    assert [(n.key, n.title) for n in said] == [("new-mail", "3 new emails")]
    assert said[0].body == "Lena Fischer: Wedding in June\nTom Baker: Prints\nann@example.com: (no subject)"
    assert said[0].path is None                                  # a click opens the dashboard
    _, again = run(memory, snap(box(run_seq=2, imported=3, new=(LENA, TOM, ANN)), unread=3))
    assert again == []                                           # each run is announced once


def test_a_later_run_replaces_the_summary_and_counts_what_is_still_unread():
    memory = start(snap(box(run_seq=1)), T0)
    memory, first = run(memory, snap(box(run_seq=2, imported=1, new=(LENA,)), unread=1))
    assert first[0].title == "1 new email" and first[0].path is None
    memory, second = run(memory, snap(box(run_seq=3, imported=2, new=(TOM, ANN)), unread=3))
    assert [(n.key, n.title) for n in second] == [("new-mail", "3 new emails")]
    assert second[0].body == "Tom Baker: Prints\nann@example.com: (no subject)\n…and 1 more"


def test_a_big_burst_is_still_one_notice():
    many = [NewMessage(i, i, f"Sender {i}", f"Subject {i}") for i in range(5)]
    memory = start(snap(box()), T0)
    _, said = run(memory, snap(box(run_seq=1, imported=40, new=many), unread=40))
    assert len(said) == 1 and said[0].title == "40 new emails" and said[0].body.endswith("…and 37 more")


def test_nothing_for_mail_imported_before_the_tray_started_nor_in_the_quiet_period():
    before = snap(box(run_seq=4, imported=9, new=(LENA,)), unread=9)
    memory = start(before, T0)
    memory, said = run(memory, before)
    assert said == []
    early = snap(box(run_seq=5, imported=2, new=(TOM, ANN)), unread=11)
    memory, said = run(memory, early, now=T0 + dt.timedelta(seconds=5))
    assert said == []
    _, said = run(memory, early, now=LATER)
    assert said == []                                            # that run stays unannounced


def test_the_company_setting_silences_new_mail_but_not_problems():
    memory = start(snap(box(run_seq=1)), T0)
    _, said = run(memory, snap(box(run_seq=2, imported=1, new=(LENA,)), box(1, error_kind="auth", id=4,
                                                                             name="Weddings")),
                  notify_new_mail=False)
    assert [n.title for n in said] == ["Weddings: login rejected"]


def test_one_problem_notice_per_kind_then_one_working_again():
    memory = start(snap(box(run_seq=0)), T0)
    memory, said = run(memory, snap(box(run_seq=1, error_kind="auth")))
    assert [(n.key, n.title, n.body, n.path) for n in said] == [
        ("mailbox:3", "Sales: login rejected", "The server rejected the password.", "/mailboxes/3")]
    memory, said = run(memory, snap(box(run_seq=2, error_kind="auth")), snap(box(run_seq=3, error_kind="auth")))
    assert said == []                                            # the same problem: quiet
    memory, said = run(memory, snap(box(run_seq=4, error_kind="connect")))
    assert [n.title for n in said] == ["Sales: server unreachable"]
    memory, said = run(memory, snap(box(run_seq=5, error_kind="timeout")))
    assert said == []                                            # still "unreachable"
    memory, said = run(memory, snap(box(run_seq=6)), snap(box(run_seq=7)))
    assert [(n.key, n.title) for n in said] == [("mailbox:3", "Sales: working again")]


def test_a_problem_found_in_the_quiet_period_is_told_after_it():
    memory = start(snap(box()), T0)
    failing = snap(box(run_seq=1, error_kind="certificate"))
    memory, said = run(memory, failing, now=T0 + dt.timedelta(seconds=3))
    assert said == []
    _, said = run(memory, failing, now=T0 + dt.timedelta(seconds=16))
    assert [n.title for n in said] == ["Sales: certificate not trusted"]


def test_a_removed_or_disabled_mailbox_is_not_working_again():
    memory = start(snap(box()), T0)
    memory, _ = run(memory, snap(box(run_seq=1, error_kind="auth")))
    _, said = run(memory, snap(box(run_seq=1, error_kind="auth", enabled=False)))
    assert said == []
    _, said = run(memory, snap())
    assert said == []


def test_outbox_trouble_and_recovery():
    memory = start(snap(outbox=OutboxCounts(failed=1)), T0)
    memory, said = run(memory, snap(outbox=OutboxCounts(failed=1, pending=2), outbox_error="Login refused."))
    assert [(n.key, n.title, n.body) for n in said] == [("outbox", "Auto-replies cannot be sent", "Login refused.")]
    memory, said = run(memory, snap(outbox=OutboxCounts(failed=1, pending=2), outbox_error="Login refused."))
    assert said == []
    memory, said = run(memory, snap(outbox=OutboxCounts(failed=3)))
    assert [n.title for n in said] == ["Auto-replies are being sent again", "2 auto-replies not sent"]
    _, said = run(memory, snap(outbox=OutboxCounts(failed=3)))
    assert said == []
