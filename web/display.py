"""Status as the dashboard words it: states, times, counts. Pure functions over mailroom.model."""

from __future__ import annotations

import datetime as dt

from mailroom.model import MailboxState, RunCounts, Status

STATE_WORDS = {
    "waiting": "Waiting", "checking": "Checking now", "paused": "Paused", "error": "Problem",
    "busy": "Busy: another Mailroom is checking it", "disabled": "Off",
}


# The field a problem of this kind is fixed at, when the run recorded only its kind (a
# check finished before this process started keeps no field).
FIELD_OF_KIND = {"auth": "password", "keyring": "password"}


def local(when: dt.datetime) -> dt.datetime:
    return when.astimezone() if when.tzinfo else when


def when_text(when: dt.datetime | None, now: dt.datetime) -> str:
    """"14:32" today, "3 Mar 14:32" on another day, "" when unknown (in this computer's time zone)."""
    if when is None:
        return ""
    at, today = local(when), local(now)
    return f"{at:%H:%M}" if at.date() == today.date() else f"{at.day} {at:%b %H:%M}"


def until_text(when: dt.datetime | None, now: dt.datetime) -> str:
    """"in 4 min", "in 1 h 5 min", "now"."""
    if when is None:
        return ""
    minutes = int((when - now).total_seconds() // 60)
    if minutes < 1:
        return "now"
    if minutes < 60:
        return f"in {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"in {hours} h {rest} min" if rest else f"in {hours} h"


def counts_text(counts: RunCounts | None) -> str:
    if counts is None:
        return ""
    parts = [f"{counts.imported} imported"]
    for number, word in ((counts.duplicates, "duplicate"), (counts.skipped_before_cutoff, "skipped (too old)"),
                         (counts.quarantined, "quarantined"), (counts.too_large, "too large (left on the server)"),
                         (counts.deleted, "deleted from the server")):
        if number:
            parts.append(f"{number} {word}" + ("s" if word == "duplicate" and number != 1 else ""))
    return ", ".join(parts)


def mailbox_view(box: MailboxState, now: dt.datetime, paused: bool = False) -> dict:
    """One row. While checks are paused a box waits for the resume, whatever its last check
    said: "Paused", no next check (its problem stays in its row, to fix meanwhile)."""
    state = "paused" if paused and box.state in ("waiting", "error") else box.state
    next_run = "" if state in ("disabled", "paused", "checking") else until_text(box.next_run_at, now)
    return {
        "id": box.id, "description": box.description, "state": state,
        "state_text": STATE_WORDS.get(state, state.capitalize()),
        "last_run": when_text(box.last_run_at, now) or "not yet",
        "counts": counts_text(box.counts), "next_run": next_run or "—",
        "error": box.error or "", "error_kind": box.error_kind or "",
        "error_field": box.error_field or FIELD_OF_KIND.get(box.error_kind or "", ""),
    }


def status_view(status: Status, now: dt.datetime) -> dict:
    """Everything the dashboard shows, as display text (also the JSON of the live refresh)."""
    outbox = status.outbox
    problems = []
    if outbox.failed:
        problems.append(f"{outbox.failed} auto-repl{'y' if outbox.failed == 1 else 'ies'} could not be sent")
    if outbox.uncertain:
        problems.append(f"{outbox.uncertain} may have been sent twice (interrupted while sending)")
    paused_text = ""
    overall = status.overall
    if status.paused:
        paused_text = (f"Checks paused until {when_text(status.paused_until, now)}" if status.paused_until
                       else "Checks paused until you resume")
        # A mailbox's last problem waits with it; auto-replies that cannot go out still need you.
        overall = "error" if status.outbox_error else ("checking" if overall == "checking" else "paused")
    return {
        "seq": status.seq, "overall": overall, "paused": status.paused, "paused_text": paused_text,
        "mailboxes": [mailbox_view(b, now, status.paused) for b in status.mailboxes],
        "outbox_problems": "; ".join(problems), "outbox_error": status.outbox_error or "",
        "outbox_pending": outbox.pending + outbox.sending, "outbox_sent": outbox.sent,
        "quarantined": status.quarantined, "unread": status.unread,
    }


# --- the record pages: clients, messages, tasks, activity -------------------------------

OUTBOX_WORDS = {
    "pending": "waiting to be sent", "sending": "being sent", "sent": "sent",
    "failed": "could not be sent", "uncertain": "uncertain: interrupted while sending, it may or may not have arrived",
}


def date_text(when: dt.datetime | None, now: dt.datetime) -> str:
    """"14:32" today, "3 Mar 14:32" this year, "3 Mar 2025" before; "" when unknown."""
    if when is None:
        return ""
    at, today = local(when), local(now)
    if at.date() == today.date():
        return f"{at:%H:%M}"
    if at.year == today.year:
        return f"{at.day} {at:%b %H:%M}"
    return f"{at.day} {at:%b %Y}"


def full_date(when: dt.datetime | None) -> str:
    """"Tuesday 3 March 2026, 14:32" in this computer's time zone."""
    if when is None:
        return ""
    at = local(when)
    return f"{at:%A} {at.day} {at:%B %Y, %H:%M}"


def size_text(size: int | None) -> str:
    """"812 bytes", "14 KB", "2.3 MB"."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def duration_text(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """"0.4 s", "12 s", "3 min 5 s"; "running" without an end."""
    if start is None:
        return ""
    if end is None:
        return "running"
    seconds = (end - start).total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def chart(days: tuple[tuple[dt.date, int], ...], *, width: int = 300, height: int = 64) -> dict:
    """The geometry of one mailbox's bar chart (drawn as inline SVG by the template): a bar
    per day, scaled to the busiest day, each with its date and count for a tooltip."""
    top = max((n for _day, n in days), default=0)
    slot = width / max(len(days), 1)
    bars = []
    for i, (day, n) in enumerate(days):
        h = 0.0 if not top else max(round(n / top * (height - 14), 1), 1.0 if n else 0.0)
        bars.append({"x": round(i * slot + 1, 1), "y": round(height - 12 - h, 1), "w": round(max(slot - 2, 1), 1),
                     "h": h, "label": f"{day.day} {day:%b}: {n} imported"})
    return {"width": width, "height": height, "bars": bars, "top": top, "total": sum(n for _d, n in days),
            "first": f"{days[0][0].day} {days[0][0]:%b}" if days else "",
            "last": f"{days[-1][0].day} {days[-1][0]:%b}" if days else ""}
