"""One message: its headers, text, HTML as received, attachments and what was done with
it; and the bytes a page may hand out from its stored raw message (an attachment, an
inline image, the source).

The HTML is returned as the sender wrote it: the face that shows it must sanitize it
(the page does, with nh3, in a sandboxed frame). Must not: use an attachment's name as
a path, or read a file named by anything but a hash.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from mailroom import paths
from mailroom.errors import ConfigError, StorageError
from mailroom.mail.parts import attachment_bytes, inline_images
from mailroom.model import AttachmentInfo, FileData, MessageDetail, OutgoingMail
from mailroom.store import mail
from mailroom.store.raw import RawStore

INLINE_IMAGES_MAX = 20 << 20     # bytes of cid: images put into one message's frame


def outgoing_mail(row: dict) -> OutgoingMail:
    return OutgoingMail(id=row["id"], mailbox=row["mailbox"], to_addr=row["to_addr"], state=row["state"],
                        attempts=row["attempts"], last_error=row["last_error"], created_at=row["created_at"],
                        sent_at=row["sent_at"], reply_to_message_pk=row["reply_to_message_pk"],
                        subject=row["subject"], client_id=row["client_id"])


def _split(addresses: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in (addresses or "").split(",") if a.strip())


def _row(conn, pk: int) -> dict:
    row = mail.message(conn, pk)
    if row is None:
        raise ConfigError(f"There is no message number {pk}.", field="message")
    return row


def message(engine: Engine, pk: int) -> MessageDetail:
    with engine.connect() as conn:
        row = _row(conn, pk)
        files = mail.attachments(conn, pk)
        tasks = mail.tasks_of(conn, pk)
        reply = mail.autoreply_of(conn, pk) if row["direction"] == "in" else None
    return MessageDetail(
        pk=pk, direction=row["direction"], mailbox=row["mailbox"], client_id=row["client_id"],
        client_name=row["client_name"], client_ambiguous=bool(row["client_ambiguous"]), from_name=row["from_name"],
        from_addr=row["from_addr"], to=_split(row["to_addrs"]), cc=_split(row["cc_addrs"]), date=row["date"],
        subject=row["subject"], text=row["text"], html=row["html"],
        attachments=tuple(AttachmentInfo(n, f["filename"], f["content_type"], f["size"])
                          for n, f in enumerate(files, 1)),
        size=row["size"], is_reply=bool(row["is_reply"]), tasks=tuple(tasks),
        autoreply=outgoing_mail(reply) if reply else None, autoreply_note=row["autoreply_note"] or "",
        task_note=row["task_note"] or "")


def _raw(conn, row: dict) -> bytes:
    """The message's bytes: from the raw store, or, for an auto-reply Mailroom sent, its outbox row."""
    if row["direction"] == "out":
        raw = mail.sent_raw(conn, row["message_id"])
        if raw is not None:
            return raw
    try:
        return RawStore(paths.raw_dir()).get(row["raw_sha256"])
    except FileNotFoundError:
        raise ConfigError("The stored copy of this message is missing from the data folder.",
                          field="message") from None
    except OSError as exc:
        raise StorageError(f"The stored copy of this message could not be read ({exc.strerror}).") from None


def source(engine: Engine, pk: int) -> bytes:
    """The raw message as it was received (or sent)."""
    with engine.connect() as conn:
        return _raw(conn, _row(conn, pk))


def attachment(engine: Engine, pk: int, number: int) -> FileData:
    """Attachment `number` (from 1) of message `pk`, read from the stored raw message."""
    with engine.connect() as conn:
        row = _row(conn, pk)
        files = mail.attachments(conn, pk)
        if not 1 <= number <= len(files):
            raise ConfigError(f"Message {pk} has no attachment number {number}.", field="attachment")
        raw = _raw(conn, row)
    wanted = files[number - 1]
    forwarded = sum(1 for f in files[:number - 1] if f["content_type"].startswith("message/"))
    data = attachment_bytes(raw, wanted["sha256"], wanted["content_type"], forwarded)
    if data is None:
        raise ConfigError(f'The attachment "{wanted["filename"]}" could not be read back from the stored message.',
                          field="attachment")
    return FileData(wanted["filename"], wanted["content_type"], data)


def images(engine: Engine, pk: int, content_ids: set[str]) -> dict[str, tuple[str, bytes]]:
    """The message's inline images named by `content_ids` (its HTML's cid: URLs)."""
    if not content_ids:
        return {}
    with engine.connect() as conn:
        raw = _raw(conn, _row(conn, pk))
    return inline_images(raw, content_ids, INLINE_IMAGES_MAX)
