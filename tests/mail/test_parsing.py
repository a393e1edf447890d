"""The parser helper process: what happens to a run when it dies, or when the run is signalled."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading

from mailroom.mail.parse import parse_message
from mailroom.mail.parsing import parsed_in_order
from tests.helpers import wait_until
from tests.mailgen import make_message

# Big enough that the chunks in flight outgrow a pipe's buffer: a dead helper leaves them unread.
MESSAGES = [make_message(i, body=f"message {i}\n" + "x" * 60 + "\n" * 4000) for i in range(400)]


def run_in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def test_a_helper_killed_mid_run_is_replaced_by_parsing_here_and_nothing_waits_for_it():
    stream = parsed_in_order(iter(enumerate(MESSAGES, 1)), parallel=True)
    first = next(stream)
    helpers = wait_until(multiprocessing.active_children, what="the parser helper")
    for helper in helpers:
        os.kill(helper.pid, signal.SIGKILL)
    thread, out = run_in_thread(lambda: [first, *stream])
    thread.join(timeout=120)
    assert not thread.is_alive(), "the run waited for a dead parser helper"
    [parsed] = out
    assert [n for n, _raw, _msg in parsed] == list(range(1, len(MESSAGES) + 1))
    assert all(msg == parse_message(raw) for _n, raw, msg in parsed[-3:])


def test_the_helper_leaves_a_group_signal_to_its_parent():
    stream = parsed_in_order(iter(enumerate(MESSAGES[:80], 1)), parallel=True)
    next(stream)
    [helper] = wait_until(multiprocessing.active_children, what="the parser helper")
    os.kill(helper.pid, signal.SIGTERM)          # as `kill -TERM -PGID` or a service manager sends it
    assert len(list(stream)) == 79
    wait_until(lambda: helper.exitcode is not None, what="the helper to end with the run")
    assert helper.exitcode == 0                  # shut down by its parent, not killed by the signal
