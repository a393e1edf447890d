"""Wall-clock deadlines for one server command or transaction.

A per-read timeout alone does not bound a command: a server that sends one byte
every few seconds never lets a read time out, and would hold a mailbox run (and,
before runs had threads of their own, every mailbox) for ever. So each command gets
a budget derived from the endpoint's timeout: `timeout` seconds of slack, plus one
second for every `MIN_RATE` bytes received (or to be sent). A real server, however
slow its link, stays far inside it; a trickling one runs out of it and the command
fails as a timeout. Tests shrink the budget by shrinking the endpoint's timeout.

POP3 (our own client) checks the budget before every read. smtplib owns its socket
reads, so SMTP uses a `Watchdog` that shuts the socket down when the budget is spent.
Nothing here knows a protocol; nothing here raises MailroomError (callers do).
"""

from __future__ import annotations

import socket
import threading

# Bytes per second a reply must keep up on average, beyond the first `timeout` seconds.
# 4 KiB/s is slower than any link a mail server is reached over today, so only a
# server that trickles on purpose (or a dead one) falls below it.
MIN_RATE = 4096


def budget(timeout: float, size: int = 0) -> float:
    """Seconds one command may take: its timeout, plus time for `size` bytes at MIN_RATE."""
    return timeout + size / MIN_RATE


class Watchdog:
    """Shut a socket down once `seconds` have passed, unless the `with` block ended first.

    `get_sock` is asked at that moment (smtplib creates its socket inside the block);
    a blocked read or write then fails at once, and `fired` tells the caller why.
    """

    def __init__(self, get_sock, seconds: float):
        self._get_sock = get_sock
        self._seconds = seconds
        self._lock = threading.Lock()
        self._done = False
        self.fired = False
        self._timer: threading.Timer | None = None

    def __enter__(self) -> "Watchdog":
        self._arm(self._seconds)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
            timer = self._timer
        if timer is not None:
            timer.cancel()

    def _arm(self, seconds: float) -> None:
        with self._lock:
            if self._done:
                return
            self._timer = threading.Timer(seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = self._get_sock()
        if sock is None:
            # Still connecting (create_connection has its own timeout): look again soon.
            self._arm(0.05)
            return
        try:
            # The plain socket's shutdown, also for an SSLSocket: SSLSocket.shutdown
            # would unwrap it under the feet of the thread blocked in a read.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass
