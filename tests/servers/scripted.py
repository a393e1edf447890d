"""A scripted POP3 server (RFC 1939), only for what a real server will not do on demand.

Dovecot is the server for everything else. This one runs in a thread on 127.0.0.1:0 and can:
- not support UIDL (`uidl=False`: CAPA omits it and UIDL answers -ERR);
- drop the connection in the middle of a RETR (`cut_retr_at=N`: N bytes of the message,
  then close);
- stall (`stall=True`: accept and never greet);
- send any reply you like (`overrides={"STAT": b"+OK what\\r\\n"}`; "GREETING" for the
  greeting), e.g. a malformed one;
- speak implicit TLS (`ssl_context=certs.server_context()`);
- behave like Gmail's POP (`gmail_window=250`): at most that many messages listed per
  session, and a message downloaded in one session is not listed in the next;
- trickle (`trickle={"RETR": 0.05}`): send the reply to that command one byte at a
  time, that many seconds apart (until the reply ends or the server stops);
- lie in LIST (`announce={2: 100}`): announce these sizes for these message numbers.
Settings are plain attributes, read at the start of each session, so a test can change
them between two runs of the code under test.

Also `ScriptedSmtp` (a bare SMTP server that can trickle chosen replies), `silent_port()`
(connects, never answers: timeouts) and `closed_port()` (refused).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence

from .ports import HOST, free_port

GREETING = b"+OK scripted POP3 ready\r\n"


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _stuffed(raw: bytes) -> bytes:
    """Byte-stuff a message for a multi-line response, terminator not included (RFC 1939 3)."""
    lines = _crlf(raw).split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)


class ScriptedPop3:
    def __init__(
        self,
        messages: Sequence[bytes] = (),
        *,
        uidls: Sequence[str] | None = None,
        user: str = "scripted",
        password: str = "scriptedpw",
        uidl: bool = True,
        cut_retr_at: int | None = None,
        stall: bool = False,
        overrides: Mapping[str, bytes] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        gmail_window: int | None = None,
        trickle: Mapping[str, float] | None = None,
        announce: Mapping[int, int] | None = None,
    ) -> None:
        uidls = list(uidls) if uidls is not None else [f"scripted-{i:06d}" for i in range(len(messages))]
        if len(uidls) != len(messages):
            raise ValueError("one UIDL per message")
        self.mailbox: list[tuple[str, bytes]] = [(u, _crlf(m)) for u, m in zip(uidls, messages, strict=True)]
        self.user = user
        self.gmail_window = gmail_window
        self.password = password
        self.uidl = uidl
        self.cut_retr_at = cut_retr_at
        self.stall = stall
        self.overrides = dict(overrides or {})
        self.trickle = dict(trickle or {})
        self.announce = dict(announce or {})
        self.ssl_context = ssl_context
        self.host = HOST
        self.sessions: list[list[str]] = []  # the command lines of each session, as received
        self.errors: list[BaseException] = []  # unexpected failures inside the server
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> ScriptedPop3:
        self._listener.settimeout(0.05)
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()      # first: a client connecting from now on is refused, not left waiting
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> ScriptedPop3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, raw: bytes, uidl: str | None = None) -> str:
        uidl = uidl or f"scripted-{len(self.mailbox):06d}-{id(raw):x}"
        self.mailbox.append((uidl, _crlf(raw)))
        return uidl

    # ---------------------------------------------------------------- serving

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name="scripted-pop3")
        self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.ssl_context is not None:
                plain, conn = conn, self.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
                with self._lock:
                    self._conns.discard(plain)
                    self._conns.add(conn)
                conn.do_handshake()
            with conn:
                if self.stall:
                    self._stopping.wait()
                    return
                with conn.makefile("rb") as rfile:
                    self._session(conn, rfile)
        except OSError:
            pass  # the client went away or rejected our certificate: its business
        except Exception as exc:  # noqa: BLE001 - an exception in a thread would be lost
            self.errors.append(exc)
        finally:
            conn.close()
            with self._lock:
                self._conns.discard(conn)

    def _session(self, conn: socket.socket, rfile) -> None:
        commands: list[str] = []
        self.sessions.append(commands)
        overrides, uidl, cut = dict(self.overrides), self.uidl, self.cut_retr_at
        trickle, announce = dict(self.trickle), dict(self.announce)
        conn.sendall(overrides.get("GREETING", GREETING))
        authed, user, deleted, retrieved = False, None, set(), set()
        # Gmail's POP lists at most ~250 messages a session, and a message once downloaded
        # is not listed again (leave-on-server "recent" semantics off): `gmail_window`.
        window = self.gmail_window
        visible = min(len(self.mailbox), window) if window else len(self.mailbox)

        def index_of(arg: str) -> int | None:
            n = int(arg) if arg.isdigit() else 0
            return n - 1 if 1 <= n <= visible and n - 1 not in deleted else None

        while not self._stopping.is_set():
            line = rfile.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            commands.append(text)
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            if verb in trickle:
                conn = _Trickling(conn, trickle[verb], self._stopping)
            elif isinstance(conn, _Trickling):
                conn = conn.conn
            if verb in overrides:
                conn.sendall(overrides[verb])
                continue
            live = [i for i in range(visible) if i not in deleted]
            if verb == "QUIT":
                if authed:  # RFC 1939 6: deletions happen only in the UPDATE state
                    gone = deleted | (retrieved if window else set())
                    self.mailbox = [m for i, m in enumerate(self.mailbox) if i not in gone]
                conn.sendall(b"+OK bye\r\n")
                return
            if verb == "CAPA":
                caps = [b"TOP", b"USER", b"RESP-CODES"] + ([b"UIDL"] if uidl else [])
                conn.sendall(b"+OK\r\n" + b"".join(c + b"\r\n" for c in caps) + b".\r\n")
            elif verb == "NOOP":
                conn.sendall(b"+OK\r\n")
            elif not authed:
                if verb == "USER":
                    user = arg
                    conn.sendall(b"+OK\r\n")
                elif verb == "PASS" and user == self.user and arg == self.password:
                    authed = True
                    conn.sendall(b"+OK logged in\r\n")
                elif verb == "PASS":
                    conn.sendall(b"-ERR [AUTH] Authentication failed.\r\n")
                else:
                    conn.sendall(b"-ERR log in first\r\n")
            elif verb == "STAT":
                conn.sendall(b"+OK %d %d\r\n" % (len(live), sum(len(self.mailbox[i][1]) for i in live)))
            elif verb == "UIDL" and not uidl:
                conn.sendall(b"-ERR UIDL not supported\r\n")
            elif verb in ("LIST", "UIDL"):
                # "n size" for LIST, "n unique-id" for UIDL
                def entry(i: int, verb: str = verb) -> bytes:
                    value = announce.get(i + 1, len(self.mailbox[i][1])) if verb == "LIST" else self.mailbox[i][0]
                    return f"{i + 1} {value}".encode()

                if not arg:
                    conn.sendall(b"+OK\r\n" + b"".join(entry(i) + b"\r\n" for i in live) + b".\r\n")
                elif (i := index_of(arg)) is not None:
                    conn.sendall(b"+OK " + entry(i) + b"\r\n")
                else:
                    conn.sendall(b"-ERR no such message\r\n")
            elif verb in ("RETR", "TOP"):
                num, _, lines = arg.partition(" ")
                i = index_of(num)
                if i is None:
                    conn.sendall(b"-ERR no such message\r\n")
                    continue
                raw = self.mailbox[i][1]
                if verb == "RETR":
                    retrieved.add(i)
                if verb == "TOP":  # the header, the blank line, then `lines` body lines
                    head, sep, body = raw.partition(b"\r\n\r\n")
                    if sep:
                        keep = body.split(b"\r\n")[: int(lines) if lines.isdigit() else 0]
                        raw = head + sep + b"".join(line + b"\r\n" for line in keep)
                data = _stuffed(raw)
                if verb == "RETR" and cut is not None:
                    conn.sendall(b"+OK %d octets\r\n" % len(raw) + data[:cut])
                    return  # the connection drops mid-message
                conn.sendall(b"+OK %d octets\r\n" % len(raw) + data + b".\r\n")
            elif verb == "DELE":
                i = index_of(arg)
                if i is None:
                    conn.sendall(b"-ERR no such message\r\n")
                else:
                    deleted.add(i)
                    conn.sendall(b"+OK deleted\r\n")
            elif verb == "RSET":
                deleted.clear()
                conn.sendall(b"+OK\r\n")
            else:
                conn.sendall(b"-ERR unknown command\r\n")


class ScriptedSmtp:
    """A bare SMTP server (RFC 5321, no TLS, no AUTH), only for what aiosmtpd will not do:
    trickle. `trickle` maps "GREETING", "EHLO" or "DATA" (the reply after the message) to
    seconds between the bytes of that reply; `commands` holds every line received."""

    EHLO_REPLY = b"".join(b"250-scripted.example says hello, this is line %d of a long EHLO reply\r\n" % i
                          for i in range(8)) + b"250 SMTPUTF8\r\n"

    def __init__(self, *, trickle: Mapping[str, float] | None = None) -> None:
        self.trickle = dict(trickle or {})
        self.commands: list[str] = []
        self.messages: list[bytes] = []
        self.host = HOST
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> ScriptedSmtp:
        self._listener.settimeout(0.05)
        t = threading.Thread(target=self._accept_loop, daemon=True, name="scripted-smtp")
        self._threads.append(t)
        t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(5)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True, name="scripted-smtp")
            self._threads.append(t)
            t.start()

    def _reply(self, conn: socket.socket, stage: str, data: bytes) -> None:
        if stage in self.trickle:
            _Trickling(conn, self.trickle[stage], self._stopping).sendall(data)
        else:
            conn.sendall(data)

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn, conn.makefile("rb") as rfile:
                self._reply(conn, "GREETING", b"220 scripted.example ESMTP ready\r\n")
                while not self._stopping.is_set():
                    line = rfile.readline()
                    if not line:
                        return
                    text = line.decode("utf-8", "replace").rstrip("\r\n")
                    self.commands.append(text)
                    verb = text.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self._reply(conn, "EHLO", self.EHLO_REPLY)
                    elif verb == "DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        lines = []
                        while (data_line := rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data_line)
                        self.messages.append(b"".join(lines))
                        self._reply(conn, "DATA", b"250 2.0.0 queued as a long queue identifier\r\n")
                    elif verb == "QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    else:
                        conn.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)


class _Trickling:
    """A connection whose sendall sends one byte at a time, `interval` seconds apart."""

    def __init__(self, conn: socket.socket, interval: float, stopping: threading.Event) -> None:
        self.conn, self.interval, self.stopping = conn, interval, stopping

    def sendall(self, data: bytes) -> None:
        for i in range(len(data)):
            if self.stopping.wait(self.interval):
                raise ConnectionAbortedError("server stopping")
            self.conn.sendall(data[i:i + 1])


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never says a word."""
    with socket.create_server((HOST, 0), backlog=64) as s:
        yield s.getsockname()[1]


def closed_port() -> int:
    """A port with nothing listening: connecting is refused."""
    return free_port()
