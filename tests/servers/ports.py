"""Local TCP ports for test servers: pick a free one, and wait until a server really greets.

Nothing here starts a server; callers own the processes and threads.
"""

from __future__ import annotations

import socket
import ssl
import time

HOST = "127.0.0.1"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bind to 0, read it, close).

    Another process could take it before the caller binds it; on a test machine that race
    is rare enough, and the caller's start-up fails loudly if it happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_greeting(
    port: int,
    prefix: bytes = b"+OK",
    timeout: float = 10.0,
    *,
    host: str = HOST,
    ssl_context: ssl.SSLContext | None = None,
) -> float:
    """Wait until a server on `port` sends a greeting starting with `prefix`; return the seconds.

    An open port is not a ready server: Dovecot accepts connections before its auth process
    is up and drops them ("disconnected before auth was ready"), so wait for the greeting.
    With `ssl_context`, the TLS handshake is made first (implicit TLS: POP3S, IMAPS).
    """
    t0 = time.monotonic()
    last: object = "nothing yet"
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0) as raw:
                sock = ssl_context.wrap_socket(raw, server_hostname="localhost") if ssl_context else raw
                with sock:
                    line = sock.recv(512)
                    if line.startswith(prefix):
                        return time.monotonic() - t0
                    last = line
        except OSError as exc:
            last = exc
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"no {prefix!r} greeting on {host}:{port} after {timeout} s (last: {last!r})")
        time.sleep(0.01)
