"""A POP3 client (RFC 1939, RFC 2449 CAPA/PIPELINING, RFC 2595 STLS).

Not poplib: poplib reads a message line by line into a list (several copies of a
30 MB message in memory) and cannot pipeline. This client reads multi-line replies
in large chunks, finds the terminating CRLF.CRLF and un-stuffs dots in one pass, and
keeps several RETR commands in flight when the server offers PIPELINING.

Every socket, TLS and protocol failure leaves here as a MailroomError (via
`diagnose`), never as a library exception. Protocol debug output does not exist
here: nothing logs commands, so PASS never reaches a log (SECURITY.md #14).
"""

from __future__ import annotations

import hashlib
import itertools
import socket
import ssl
from collections import deque
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from mailroom.errors import MailroomError, ProtocolError
from mailroom.mail import diagnose
from mailroom.mail.tls import client_context, peek_certificate, port_speaks_tls
from mailroom.model import Endpoint

_CHUNK = 1 << 18
_END = b"\r\n.\r\n"
MAX_LINE = 8192          # a status line longer than this is not POP3


class Pop3Error(ProtocolError):
    """The server answered -ERR; `reply` is its text."""

    def __init__(self, message: str, reply: str):
        super().__init__(message)
        self.reply = reply


class Pop3Client:
    """One POP3 session. Use `Pop3Client.open(endpoint, password)` or as a context manager."""

    def __init__(self, endpoint: Endpoint):
        self.ep = endpoint
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._recv = bytearray(_CHUNK)
        self.capabilities: dict[str, str] = {}
        self.greeting = ""

    # --- connection -----------------------------------------------------------------
    @classmethod
    def open(cls, endpoint: Endpoint, password: str) -> "Pop3Client":
        client = cls(endpoint)
        try:
            client.connect()
            client.login(password)
        except BaseException:
            client.close()
            raise
        return client

    def __enter__(self) -> "Pop3Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _raw_connect(self) -> socket.socket:
        ep = self.ep
        try:
            return socket.create_connection((ep.host, ep.port), timeout=ep.timeout)
        except (OSError, ssl.SSLError) as exc:
            raise diagnose.diagnose_socket(ep, exc) from None

    def _wrap(self, sock: socket.socket) -> socket.socket:
        ep = self.ep
        ctx = client_context(ep.ca_file)
        try:
            return ctx.wrap_socket(sock, server_hostname=ep.host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            cert = peek_certificate(self._raw_connect_for_peek(), ep.host)
            raise diagnose.tls_error(ep, exc, cert) from None
        except (TimeoutError, socket.timeout):
            sock.close()
            raise diagnose.timeout_error(ep) from None
        except (ssl.SSLError, ConnectionResetError, OSError) as exc:
            sock.close()
            raise diagnose.tls_error(ep, exc) from None

    def _raw_connect_for_peek(self) -> socket.socket:
        sock = self._raw_connect()
        if self.ep.security == "starttls":
            self._sock = sock
            self._buf.clear()
            self._status()
            self._send(b"STLS")
            self._status()
            self._sock = None
        return sock

    def connect(self) -> None:
        """Connect, read the greeting, negotiate TLS as the endpoint says."""
        ep = self.ep
        sock = self._raw_connect()
        if ep.security == "ssl":
            sock = self._wrap(sock)
        self._sock = sock
        try:
            self.greeting = self._status()
        except MailroomError as exc:
            if exc.kind == "timeout" and ep.security != "ssl" and port_speaks_tls(ep.host, ep.port, ep.timeout):
                raise diagnose.timeout_error(ep, speaks_tls=True) from None
            raise
        if ep.security == "starttls":
            self.capabilities = self.capa()
            if "STLS" not in self.capabilities:
                raise diagnose.starttls_missing(ep)
            self._command(b"STLS")
            self._sock = self._wrap(self._sock)
            self._buf.clear()
        self.capabilities = self.capa()

    def login(self, password: str) -> None:
        try:
            self._command(b"USER " + self.ep.login.encode())
            self._command(b"PASS " + password.encode())
        except Pop3Error as exc:
            raise diagnose.auth_error(self.ep, exc.reply) from None

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def quit(self) -> None:
        """QUIT: the server applies DELE marks only now (RFC 1939 §6, UPDATE state)."""
        try:
            self._command(b"QUIT")
        finally:
            self.close()

    # --- wire -----------------------------------------------------------------------
    def _send(self, line: bytes) -> None:
        self._sendall(line + b"\r\n")

    def _sendall(self, data: bytes) -> None:
        if self._sock is None:
            raise diagnose.connection_lost(self.ep, ConnectionResetError("not connected"))
        try:
            self._sock.sendall(data)
        except (OSError, ssl.SSLError) as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> MailroomError:
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return diagnose.timeout_error(self.ep)
        return diagnose.connection_lost(self.ep, exc)

    def _fill(self) -> None:
        if self._sock is None:
            raise diagnose.connection_lost(self.ep, ConnectionResetError("not connected"))
        try:
            # One receive buffer for the session: a fresh bytes object per read would
            # leave the allocator fragmented after a large message.
            count = self._sock.recv_into(self._recv)
        except (OSError, ssl.SSLError) as exc:
            raise self._lost(exc) from None
        if not count:
            raise diagnose.connection_lost(self.ep, ConnectionResetError("closed by server"))
        with memoryview(self._recv) as view:
            self._buf += view[:count]

    def _line(self) -> bytes:
        start = 0
        while True:
            end = self._buf.find(b"\r\n", start)
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[:end + 2]
                return line
            if len(self._buf) > MAX_LINE:
                raise ProtocolError(f"{self.ep.host} sent a line too long for POP3; is this a POP3 port?",
                                    kind="connect", field="port")
            start = max(0, len(self._buf) - 1)
            self._fill()

    def _status(self) -> str:
        line = self._line()
        text = line.decode("utf-8", "replace")
        if line.startswith(b"+OK"):
            return text[3:].strip()
        if line.startswith(b"-ERR"):
            raise Pop3Error(f"{self.ep.host} answered: {text}", text[4:].strip())
        raise ProtocolError(f"{self.ep.host} port {self.ep.port} did not answer like a POP3 server "
                            f"(it said {text[:60]!r}). Check the port.", kind="connect", field="port")

    def _command(self, line: bytes) -> str:
        self._send(line)
        return self._status()

    def _body(self) -> bytes:
        """The rest of a multi-line reply, dot-unstuffed (RFC 1939 §3)."""
        while len(self._buf) < 3:
            self._fill()
        if self._buf[:3] == b".\r\n":
            del self._buf[:3]
            return b""
        start = 0
        while (end := self._buf.find(_END, start)) < 0:
            start = max(0, len(self._buf) - 4)
            self._fill()
        with memoryview(self._buf) as view:
            data = bytes(view[:end + 2])
        del self._buf[:end + 5]
        if data.startswith(b".."):
            data = data[1:]
        return data.replace(b"\r\n..", b"\r\n.") if b"\r\n.." in data else data

    def _multi(self, line: bytes) -> bytes:
        self._command(line)
        return self._body()

    # --- commands -------------------------------------------------------------------
    def capa(self) -> dict[str, str]:
        """CAPA (RFC 2449); an empty dict when the server does not know it."""
        try:
            body = self._multi(b"CAPA")
        except Pop3Error:
            return {}
        caps = {}
        for raw in body.split(b"\r\n"):
            if raw.strip():
                name, _, arg = raw.decode("ascii", "replace").partition(" ")
                caps[name.upper()] = arg
        return caps

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.capabilities

    def stat(self) -> tuple[int, int]:
        count, size = self._command(b"STAT").split()[:2]
        return int(count), int(size)

    def uidl(self) -> dict[int, str]:
        """Message number → unique id. Raises the `uidl` error when unsupported."""
        try:
            body = self._multi(b"UIDL")
        except Pop3Error:
            raise diagnose.uidl_missing(self.ep) from None
        result = {}
        for raw in body.split(b"\r\n"):
            parts = raw.split()
            if len(parts) >= 2 and parts[0].isdigit():
                result[int(parts[0])] = parts[1].decode("ascii", "replace")
        return result

    def top(self, number: int, lines: int = 0) -> bytes:
        return self._multi(b"TOP %d %d" % (number, lines))

    def retr(self, number: int) -> bytes:
        return self._multi(b"RETR %d" % number)

    def list_sizes(self) -> dict[int, int]:
        """Message number → size in octets (LIST)."""
        sizes = {}
        for raw in self._multi(b"LIST").split(b"\r\n"):
            parts = raw.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                sizes[int(parts[0])] = int(parts[1])
        return sizes

    def retr_to(self, number: int, sink: BinaryIO) -> tuple[int, str]:
        """RETR streamed into `sink`, dot-unstuffed on the way: (size, sha256).

        Memory stays at about one read buffer whatever the message size: text is
        written straight from the receive buffer up to the last CRLF seen, so a stuffed
        dot (CRLF "..") or the terminator (CRLF "." CRLF) split across two reads is
        still recognised, and nothing is copied unless a line was stuffed.
        """
        self._command(b"RETR %d" % number)
        digest, size = hashlib.sha256(), 0
        buf = self._buf
        buf[:0] = b"\r\n"            # a virtual line end: the first line may be stuffed too
        skip = 2
        while True:
            end = buf.find(_END)
            if end >= 0:
                cut = end + 2
            else:
                cut = buf.rfind(b"\r\n")
                if cut <= 0 and len(buf) > _CHUNK:
                    cut = len(buf) - 1      # one huge line: all but a possible CR
            if cut > skip:
                with memoryview(buf) as view:
                    if buf.find(b"\r\n..", 0, cut) >= 0:
                        data = bytes(view[:cut]).replace(b"\r\n..", b"\r\n.")[skip:]
                    else:
                        data = view[skip:cut]
                    sink.write(data)
                    digest.update(data)
                    size += len(data)
                    del data
                skip = 0
                del buf[:cut]
            if end >= 0:
                del buf[:3]                 # ".\r\n" of the terminator
                return size, digest.hexdigest()
            self._fill()

    def dele(self, number: int) -> None:
        self._command(b"DELE %d" % number)

    def many(self, command: bytes, numbers: Iterable[int], window: int = 16) -> Iterator[tuple[int, bytes]]:
        """(number, body) of `command % n` for each n, pipelined when the server allows.

        With PIPELINING (RFC 2449 §6.6) up to `window` commands are in flight, so the
        round trip per message disappears; without it, one at a time. A -ERR raises
        Pop3Error after the earlier results were yielded.
        """
        pending: deque[int] = deque()
        it = iter(numbers)
        depth = window if self.pipelining else 1
        try:
            while True:
                batch = list(itertools.islice(it, depth - len(pending)))
                if batch:
                    self._sendall(b"".join(command % n + b"\r\n" for n in batch))
                    pending.extend(batch)
                if not pending:
                    return
                n = pending.popleft()
                self._status()
                yield n, self._body()
        except GeneratorExit:
            # A consumer that stops early must not leave replies on the wire, or the
            # next command would read them as its own.
            try:
                for _ in pending:
                    self._status()
                    self._body()
            except MailroomError:
                self.close()  # the session is unusable; the next command reports it
            raise

    def retr_many(self, numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        return self.many(b"RETR %d", numbers)

    def top_many(self, numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        return self.many(b"TOP %d 0", numbers)
