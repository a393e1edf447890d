"""What Mailroom did and what went wrong: imports per day (the activity chart), every
outgoing mail, the outbox's problems with "send again", and the quarantine with "try
again" and "dismiss".

"Try again" imports a held message through the one import path (mailroom/importer.py,
in the fetch's own write turn): parsed again with the code running now, then filed,
tasked and answered exactly as a fetch would, in one transaction that also removes the
quarantine record, so it is imported once however often the button is pressed. A
message left on the server (only its headers kept) is not parsed again: its UID is
forgotten, so the next check downloads it, under the mailbox's settings of then.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from mailroom import paths
from mailroom.context import Context
from mailroom.errors import ConfigError, MailroomError, StorageError
from mailroom.model import DailyImports, FileData, HeldMessage, Page
from mailroom.store import activity as store
from mailroom.store import failures, mailboxes, records
from mailroom.store.raw import RawStore
from mailroom.views import paging
from mailroom.views.messages import outgoing_mail

CHART_DAYS = 30
PROBLEMS = ("failed", "uncertain")


def daily_imports(ctx: Context, now: dt.datetime, mailbox_id: int | None = None) -> tuple[DailyImports, ...]:
    """Messages imported per day over the last CHART_DAYS days (in the company's time
    zone), for every mailbox or one."""
    try:
        zone = zoneinfo.ZoneInfo(ctx.settings()["company"].get("timezone") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.timezone.utc
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=CHART_DAYS - 1)
    since = dt.datetime.combine(first, dt.time(), zone)
    with ctx.engine.connect() as conn:
        boxes = [b for b in store.mailboxes(conn) if mailbox_id is None or b[0] == mailbox_id]
        counts: dict[tuple[int, dt.date], int] = {}
        for box, started, imported in store.imports_since(conn, since, mailbox_id):
            key = (box, started.astimezone(zone).date())
            counts[key] = counts.get(key, 0) + imported
    days = [first + dt.timedelta(days=n) for n in range(CHART_DAYS)]
    return tuple(DailyImports(box, name, tuple((day, counts.get((box, day), 0)) for day in days))
                 for box, name in boxes)


def outgoing(ctx: Context, *, mailbox_id: int | None = None, problems_only: bool = False,
             after: str | None = None, limit: int | None = None) -> Page:
    """Every auto-reply (or only the failed and uncertain ones), newest first."""
    limit = paging.size(limit)
    key = paging.decode(after, int)
    with ctx.engine.connect() as conn:
        rows = store.outgoing_mail(conn, mailbox_id=mailbox_id, states=PROBLEMS if problems_only else (),
                                   limit=limit + 1, before=key[0] if key else None)
    rows, cursor = paging.cut(rows, limit, lambda r: (r["id"],))
    return Page(tuple(outgoing_mail(r) for r in rows), cursor)


def outbox_entry(ctx: Context, outbox_id: int):
    with ctx.engine.connect() as conn:
        row = store.outbox_row(conn, outbox_id)
    if row is None:
        raise ConfigError(f"There is no outgoing mail number {outbox_id}.", field="outbox")
    return outgoing_mail(row)


def send_again(ctx: Context, outbox_id: int) -> None:
    """Queue a failed or uncertain auto-reply again (the user confirmed it may arrive twice)."""
    with ctx.engine.begin() as conn:
        if not store.queue_again(conn, outbox_id, PROBLEMS):
            raise ConfigError("This reply is not failed or uncertain any more (it was sent again already?).",
                              field="outbox")


def _held(row: dict) -> HeldMessage:
    size = None
    if row["raw_sha256"]:
        try:
            size = RawStore(paths.raw_dir()).path(row["raw_sha256"]).stat().st_size
        except OSError:
            size = None
    return HeldMessage(id=row["id"], mailbox_id=row["mailbox_id"], mailbox=row["mailbox"], uid=row["uid"],
                       reason=row["reason"], created_at=row["created_at"], raw_sha256=row["raw_sha256"],
                       headers_only=bool(row["headers_only"]), size=size)


def quarantine(ctx: Context, after: str | None = None, limit: int | None = None,
               mailbox_id: int | None = None) -> Page:
    limit = paging.size(limit)
    key = paging.decode(after, int)
    with ctx.engine.connect() as conn:
        rows = store.held(conn, limit + 1, key[0] if key else None, mailbox_id)
    rows, cursor = paging.cut(rows, limit, lambda r: (r["id"],))
    return Page(tuple(_held(r) for r in rows), cursor)


def _held_row(ctx: Context, held_id: int) -> dict:
    with ctx.engine.connect() as conn:
        row = store.held_one(conn, held_id)
    if row is None:
        raise ConfigError(f"There is no quarantined message number {held_id} (dismissed or imported already?).",
                          field="quarantine")
    return row


def held(ctx: Context, held_id: int) -> HeldMessage:
    return _held(_held_row(ctx, held_id))


def held_raw(ctx: Context, held_id: int) -> FileData:
    """The kept bytes of a held message (its headers only, for one left on the server)."""
    row = _held_row(ctx, held_id)
    if not row["raw_sha256"]:
        raise ConfigError("Nothing of this message was kept.", field="quarantine")
    try:
        data = RawStore(paths.raw_dir()).get(row["raw_sha256"])
    except FileNotFoundError:
        raise ConfigError("The kept copy of this message is missing from the data folder.",
                          field="quarantine") from None
    return FileData(f"quarantined-{held_id}.eml", "message/rfc822", data)


def dismiss(ctx: Context, held_id: int) -> None:
    """Forget a held message: it stays seen, so it is never fetched again."""
    with ctx.engine.begin() as conn:
        if not store.release(conn, held_id):
            raise ConfigError(f"There is no quarantined message number {held_id} any more.", field="quarantine")


def try_again(ctx: Context, held_id: int, clock: Callable[[], dt.datetime]) -> tuple[str, int | None]:
    """("imported" | "duplicate", message pk), or ("fetch_again", None) for a message left
    on the server. MailroomError, with the reason kept on the record, when it fails again."""
    from mailroom.fetch import store_turn
    from mailroom.importer import Importer
    from mailroom.mail.parsing import ParseFailed, parse_one

    row = _held_row(ctx, held_id)
    if row["mailbox_id"] is None:
        raise ConfigError("The email box this message came from was deleted, so it cannot be filed; "
                          "download it instead.", field="quarantine")
    if row["headers_only"]:
        with store_turn(), ctx.engine.begin() as conn:
            if not store.release(conn, held_id):
                raise ConfigError("This message was handled already.", field="quarantine")
            records.forget_uid(conn, row["mailbox_id"], row["uid"])
        return "fetch_again", None
    raw = held_raw(ctx, held_id).data
    msg = parse_one(raw)[1]
    if isinstance(msg, ParseFailed):
        _still_failing(ctx, held_id, msg.reason)
    with ctx.engine.connect() as conn:
        box = mailboxes.by_id(conn, row["mailbox_id"])
    importer = Importer(ctx, box, clock=clock)
    try:
        with store_turn(), ctx.engine.begin() as conn:
            if not store.release(conn, held_id):     # the claim: a second press finds nothing to import
                raise ConfigError("This message was handled already.", field="quarantine")
            records.forget_uid(conn, row["mailbox_id"], row["uid"])
            outcome = importer.import_message(conn, row["uid"], msg)
    except MailroomError:
        raise
    except Exception as exc:  # noqa: BLE001 - the store refused it again: say why, keep it held
        kind = failures.storage_failure(exc)
        if kind:
            raise StorageError(failures.describe(kind, exc)) from None
        _still_failing(ctx, held_id, failures.reason(exc))
    return outcome.state, outcome.message_pk


def _still_failing(ctx: Context, held_id: int, reason: str) -> None:
    with ctx.engine.begin() as conn:
        store.note_failure(conn, held_id, reason)
    raise MailroomError(f"It still cannot be imported: {reason}", kind="quarantine", field="quarantine")
