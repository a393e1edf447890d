"""What Mailroom has on record, for the faces: clients, their mail and tasks, search,
activity, the quarantine and the outbox.

`Records` is the controller's `records`: each method is one question or one change,
answered with the frozen types of mailroom.model (or a MailroomError naming the field
to fix). The work is in the modules of this package, plain functions over the store
(whose SQL lives in mailroom/store/). Lists are keyset-paged: a method takes the
`after` cursor a previous Page handed out.

Must not: be imported by a face (web/ and tray/ reach it through the controller), or
write anything but in one transaction per change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from mailroom.context import Context
from mailroom.model import (ClientSummary, DailyImports, FileData, HeldMessage, MessageDetail, OutgoingMail, Page,
                            SearchResults, TaskFilter, TaskRecord)
from mailroom.views import activity, clients, messages, search, tasks


class Records:
    """The install's records. `changed()` is called after a change the status shows
    (quarantine, outbox); `send_soon()` after a reply was queued."""

    def __init__(self, ctx: Context, *, clock: Callable[[], dt.datetime], changed: Callable[[], None],
                 send_soon: Callable[[], None]):
        self.ctx = ctx
        self.clock = clock
        self._changed = changed
        self._send_soon = send_soon

    @property
    def _engine(self):
        return self.ctx.engine

    # --- clients ----------------------------------------------------------------------
    def clients(self, text: str = "", after: str | None = None, limit: int | None = None) -> Page:
        """Clients A to Z (whose name or an address contains `text`), with their counts."""
        return clients.clients(self._engine, text, after, limit)

    def client(self, client_id: int) -> ClientSummary:
        return clients.client(self._engine, client_id)

    def timeline(self, client_id: int, after: str | None = None, limit: int | None = None) -> Page:
        """A client's messages (auto-replies with their state) and tasks, newest first."""
        return clients.timeline(self._engine, client_id, after, limit)

    def add_client_email(self, client_id: int, email: str) -> tuple[tuple[int, str], ...]:
        """Returns (id, name) of the other clients with this address."""
        return clients.add_email(self._engine, client_id, email)

    def remove_client_email(self, client_id: int, email: str) -> None:
        clients.remove_email(self._engine, client_id, email)

    def merge_clients(self, keep: int, gone: int) -> ClientSummary:
        """Client `gone`'s addresses, messages and tasks move to `keep`; `gone` is removed."""
        return clients.merge(self._engine, keep, gone)

    def unfiled(self, after: str | None = None, limit: int | None = None) -> Page:
        """Messages under no client, or under one of several with the sender's address."""
        return clients.unfiled(self._engine, after, limit)

    def attach_message(self, pk: int, client_id: int) -> bool:
        """File a message under a client; True when its sender's address was added to them."""
        return clients.attach(self._engine, pk, client_id)

    def new_client_for(self, pk: int, name: str) -> int:
        """A new client (named `name`, with the sender's address) for message `pk`."""
        return clients.new_client(self._engine, pk, name, self.clock())

    # --- messages ---------------------------------------------------------------------
    def message(self, pk: int) -> MessageDetail:
        return messages.message(self._engine, pk)

    def message_source(self, pk: int) -> bytes:
        return messages.source(self._engine, pk)

    def attachment(self, pk: int, number: int) -> FileData:
        return messages.attachment(self._engine, pk, number)

    def inline_images(self, pk: int, content_ids: set[str]) -> dict[str, tuple[str, bytes]]:
        return messages.images(self._engine, pk, content_ids)

    # --- tasks ------------------------------------------------------------------------
    def tasks(self, where: TaskFilter = TaskFilter(), after: str | None = None, limit: int | None = None) -> Page:
        return tasks.tasks(self._engine, where, after, limit)

    def task(self, task_id: int) -> TaskRecord:
        return tasks.task(self._engine, task_id)

    def task_statuses(self, task_id: int) -> tuple[tuple[str, bool], ...]:
        """(name, final) of the statuses this task may be given."""
        return tasks.statuses(self._engine, task_id)

    def update_task(self, task_id: int, *, status: str | None = None, user: str | None = None) -> TaskRecord:
        return tasks.update(self._engine, task_id, status=status, user=user)

    # --- search -----------------------------------------------------------------------
    def search(self, query: str, more: str | None = None) -> SearchResults:
        return search.search(self._engine, query, more)

    # --- activity, outbox, quarantine -------------------------------------------------
    def daily_imports(self, mailbox_id: int | None = None) -> tuple[DailyImports, ...]:
        return activity.daily_imports(self.ctx, self.clock(), mailbox_id)

    def outgoing(self, *, mailbox_id: int | None = None, problems_only: bool = False, after: str | None = None,
                 limit: int | None = None) -> Page:
        return activity.outgoing(self.ctx, mailbox_id=mailbox_id, problems_only=problems_only, after=after,
                                 limit=limit)

    def outgoing_mail(self, outbox_id: int) -> OutgoingMail:
        return activity.outbox_entry(self.ctx, outbox_id)

    def send_again(self, outbox_id: int) -> None:
        """Queue a failed or uncertain auto-reply again and send it soon (it may arrive twice)."""
        activity.send_again(self.ctx, outbox_id)
        self._changed()
        self._send_soon()

    def quarantine(self, after: str | None = None, limit: int | None = None,
                   mailbox_id: int | None = None) -> Page:
        return activity.quarantine(self.ctx, after, limit, mailbox_id)

    def held(self, held_id: int) -> HeldMessage:
        return activity.held(self.ctx, held_id)

    def held_raw(self, held_id: int) -> FileData:
        return activity.held_raw(self.ctx, held_id)

    def try_again(self, held_id: int) -> tuple[str, int | None]:
        """Import a held message again: ("imported" | "duplicate", its pk), or
        ("fetch_again", None) when the next check is to download it again."""
        outcome = activity.try_again(self.ctx, held_id, self.clock)
        self._changed()
        self._send_soon()
        return outcome

    def dismiss(self, held_id: int) -> None:
        activity.dismiss(self.ctx, held_id)
        self._changed()
