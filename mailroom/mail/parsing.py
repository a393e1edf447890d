"""Parsing the downloaded messages of a run, in order, in a helper process when there are many.

parse_message is pure and the costliest step of an import (pure Python), so with a
second core it runs in a helper process while the run reads the socket and writes
the store. A message the POP3 client spooled to a file (its reply outgrew what LIST
announced) is parsed from that file, here. Nothing here touches the network or the
store; where a message is parsed never changes the result. The parsers are meant
never to raise; should one raise all the same, that message comes as `ParseFailed`
(to be quarantined), never as an exception that would stop the run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailroom.errors import MailroomError
from mailroom.mail import stream
from mailroom.mail.connector import Spooled
from mailroom.model import ParsedMessage

PARALLEL_MIN = 200             # new messages that make a parser process worth its start-up
PARSE_CHUNK = 32               # messages sent to the parser process at once (8: twice the cost in this process)
PARSE_CHUNK_BYTES = 2 << 20    # ... or this many raw bytes
PARSE_CHUNKS_AHEAD = 3         # chunks in flight before the oldest is awaited


def can_spawn() -> bool:
    """A second core, and a program that multiprocessing's "spawn" can start again safely.

    A spawned process re-imports the main script (not a `python -m` package's
    __main__), so every script that runs a mailbox must keep its work under
    `if __name__ == "__main__":`, as `mailroom`'s console script does. A frozen app
    (PyInstaller) would start itself again instead: there, parsing stays in-process.
    """
    return (os.cpu_count() or 1) > 1 and not getattr(sys, "frozen", False)


# Run in the parser process as it starts: exit as soon as this process is gone, even
# killed (SIGKILL), rather than wait forever on its task queue (whose write end it holds too).
# Ctrl-C and a service manager's SIGTERM signal the whole process group: this process
# leaves stopping to its parent, which stops between messages and then shuts it down
# (killed mid-chunk, it would leave its parent's queue feeder blocked on a full pipe).
_EXIT_WITH_PARENT = """
import multiprocessing, os, signal, threading
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
parent = multiprocessing.parent_process()
threading.Thread(target=lambda: (parent.join(), os._exit(0)), daemon=True).start()
"""


@dataclass(frozen=True)
class ParseFailed:
    """The parser raised on a message: `reason`, and the SHA-256 of the raw message."""

    reason: str
    raw_sha256: str


def parse_one(raw: bytes | Spooled) -> tuple[bytes | Path, ParsedMessage | ParseFailed]:
    """(raw bytes or the spool file's path, its parse) of one downloaded message, here."""
    from mailroom.mail.parse import parse_message   # loaded with the first message: a poll without mail needs none

    try:
        if isinstance(raw, Spooled):
            return raw.path, stream.parse_file(raw.path, raw.sha256, raw.size)
        return raw, parse_message(raw)
    except Exception as exc:  # noqa: BLE001 - one message must not stop the run: it is quarantined
        if isinstance(raw, Spooled):
            return raw.path, ParseFailed(f"parser failure: {type(exc).__name__}: {exc}", raw.sha256)
        return raw, ParseFailed(f"parser failure: {type(exc).__name__}: {exc}", hashlib.sha256(raw).hexdigest())


def parsed_in_order(retr: Iterator[tuple[int, bytes | Spooled]], *,
                    parallel: bool) -> Iterator[tuple[int, bytes | Path, ParsedMessage | ParseFailed]]:
    """(number, raw, parse) for each message `retr` yields, in the same order.

    A message the client spooled (its reply outgrew what LIST announced) is parsed from
    its file, here, and comes as the file's path. With `parallel`, parsing (the
    costliest step, pure Python) runs in a helper process on another core while this
    one reads the socket and writes the store; messages go to it in small chunks (one
    round trip each) and a few chunks are kept in flight. parse_message is pure, so
    where it runs changes nothing; should the helper fail, the chunk is parsed here.
    When the connection breaks, the messages already read are still yielded before
    the error, as without the helper.
    """
    if not parallel:
        for n, raw in retr:
            yield n, *parse_one(raw)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from mailroom.mail.parse import parse_message

    in_flight: deque[tuple[list[tuple[int, bytes | Spooled]], Iterator[ParsedMessage] | None]] = deque()
    chunk: list[tuple[int, bytes | Spooled]] = []
    chunk_bytes = 0

    def in_memory(items: list[tuple[int, bytes | Spooled]]) -> list[bytes]:
        return [raw for _n, raw in items if not isinstance(raw, Spooled)]

    broken = False      # the helper died: its queue may never drain, so it is not waited for

    def results(items: list[tuple[int, bytes | Spooled]], parses: Iterator[ParsedMessage] | None = None):
        nonlocal broken
        try:
            msgs = list(parses) if parses is not None else None
        except Exception:  # noqa: BLE001 - a broken helper (killed, out of memory): parse here
            msgs = None
            broken = True
        raws = in_memory(items)
        if msgs is None or len(msgs) != len(raws):
            msgs = [parse_one(raw)[1] for raw in raws]
        parses_of = iter(msgs)
        return [(n, *parse_one(raw)) if isinstance(raw, Spooled) else (n, raw, next(parses_of))
                for n, raw in items]

    def submit(items: list[tuple[int, bytes | Spooled]]) -> Iterator[ParsedMessage] | None:
        nonlocal broken
        raws = in_memory(items)
        try:
            return pool.map(parse_message, raws, chunksize=max(len(raws), 1))
        except Exception:  # noqa: BLE001 - the helper is broken: results() parses here
            broken = True
            return None

    # spawn, not fork: forking a process that has threads (keyring calls, the worker) is unsafe
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=functools.partial(exec, _EXIT_WITH_PARENT, {}))
    try:
        try:
            for item in retr:
                chunk.append(item)
                chunk_bytes += 0 if isinstance(item[1], Spooled) else len(item[1])
                if len(chunk) >= PARSE_CHUNK or chunk_bytes >= PARSE_CHUNK_BYTES:
                    in_flight.append((chunk, submit(chunk)))
                    chunk, chunk_bytes = [], 0
                    if len(in_flight) > PARSE_CHUNKS_AHEAD:
                        yield from results(*in_flight.popleft())
        except MailroomError:
            while in_flight:
                yield from results(*in_flight.popleft())
            yield from results(chunk)  # the last few: parsed here
            raise
        while in_flight:
            yield from results(*in_flight.popleft())
        yield from results(chunk)  # the last few: parsed here
    finally:
        pool.shutdown(wait=not broken, cancel_futures=True)
