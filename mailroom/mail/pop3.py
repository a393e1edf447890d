"""A POP3 client (RFC 1939, RFC 2449 CAPA/PIPELINING, RFC 2595 STLS).

Not poplib: poplib reads a message line by line into a list (several copies of a
30 MB message in memory) and cannot pipeline. This client reads multi-line replies
in large chunks, finds the terminating CRLF.CRLF and un-stuffs dots in one pass, and
keeps several RETR commands in flight when the server offers PIPELINING.

A server is a stranger, so everything it sends is bounded: each reply has a
wall-clock deadline (`deadline.budget`), a listing (CAPA, UIDL, LIST) a size and a
line length, and a message the mailbox's largest size and a line length. A message
reply that grows beyond what LIST announced is streamed to the caller's spool file
instead of memory. A message that breaks a bound fails alone (`MessageRejected`);
the session, whose wire still holds the rest of that reply, is closed.

Every socket, TLS and protocol failure leaves here as a MailroomError (via
`diagnose`), never as a library exception. Protocol debug output does not exist
here: nothing logs commands, so PASS never reaches a log (SECURITY.md #14). A
command argument with CR, LF or NUL is refused before it is sent.

(Longer than most modules: one session's state — socket, buffer, deadline — is
shared by every reader and command here, and the bounds belong next to the reads.)
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from mailroom.errors import ConfigError, MailroomError, ProtocolError
from mailroom.mail.connector import MessageRejected, Spooled
from mailroom.mail.deadline import MIN_RATE
from mailroom.mail.tls import client_context, expects_ssl, peek_certificate, plain_greeting
from mailroom.model import Endpoint
from mailroom.rules import diagnose

_CHUNK = 1 << 18
_END = b"\r\n.\r\n"
MAX_LINE = 8192                 # a status or listing line longer than this is not POP3
MAX_LISTING = 64 << 20          # a CAPA/UIDL/LIST reply larger than this is not a real mailbox
MAX_MESSAGE_LINE = 1 << 20      # RFC 5322 §2.1.1 allows 998 characters; far beyond is hostile
MAX_MESSAGE = 50 << 20          # the default largest message (the mailbox's max_message_mb)
HEAD = 256 << 10                # bytes of a rejected message kept, for its headers
_SLACK = 64 << 10
_FORBIDDEN = ("\r", "\n", "\0")  # in a command argument they would end the command early
# A UIDL listing in the strict form of RFC 1939 §7: a message number, one space, and a
# unique-id of characters 0x21-0x7E; anything else is read by the lenient line parser.
_STRICT_UIDL = re.compile(rb"(?:[0-9]+ [\x21-\x7e]+\r\n)*")


def memory_limit(announced: int) -> int:
    """Bytes of a RETR reply read into memory when LIST announced `announced`.

    LIST sizes may count LF line ends (RFC 1939 §5 allows an estimate), so twice the
    announced size plus some slack; beyond that the reply goes to a spool file.
    """
    return 2 * announced + _SLACK


class Pop3Error(ProtocolError):
    """The server answered -ERR; `reply` is its text."""

    def __init__(self, message: str, reply: str):
        super().__init__(message)
        self.reply = reply


class _Overflow(Exception):
    """A multi-line reply outgrew its limit (`line` False) or a line outgrew its own."""

    def __init__(self, line: bool):
        self.line = line


def _unstuff(data: bytes) -> bytes:
    if data.startswith(b".."):
        data = data[1:]
    return data.replace(b"\r\n..", b"\r\n.") if b"\r\n.." in data else data


class Pop3Client:
    """One POP3 session, a `Connector` (mailroom/mail/connector.py). Use
    `Pop3Client.open(endpoint, password)`, as a context manager.

    `max_message` is the largest message (in bytes) RETR or TOP may bring; a message
    rejected for a bound keeps at most HEAD bytes of its beginning (dot-unstuffed).
    """

    def __init__(self, endpoint: Endpoint, *, max_message: int = MAX_MESSAGE):
        self.ep = endpoint
        self.max_message = max_message
        self._sock: socket.socket | None = None
        self._sock_timeout: float | None = None
        self._buf = bytearray()
        self._recv = bytearray(_CHUNK)
        self._deadline = math.inf
        self._budget_start = 0.0
        self._capped = False          # the last read waited only until the reply's deadline
        self._reply_bytes = 0         # received since the current reply began
        self.capabilities: dict[str, str] = {}
        self.greeting = ""

    # --- connection -----------------------------------------------------------------
    @classmethod
    def open(cls, endpoint: Endpoint, password: Callable[[], str], **kwargs) -> "Pop3Client":
        """Connect, negotiate TLS, log in with `password()`, called once the connection
        stands (the keyring may answer meanwhile) or when connecting failed: a keyring
        failure is the error reported, and nothing is sent before the password is there."""
        client = cls(endpoint, **kwargs)
        try:
            try:
                client.connect()
            except MailroomError:
                password()      # its error, if any, is the one to report
                raise
            client.login(password())
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
        try:
            ctx = client_context(ep.ca_file)
        except MailroomError:           # an unreadable CA file: the connection is of no use
            sock.close()
            raise
        try:
            # The handshake as a whole is bounded by the socket timeout (ssl keeps one
            # deadline across its reads), so a trickling handshake cannot stall either.
            return ctx.wrap_socket(sock, server_hostname=ep.host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            cert = peek_certificate(self._raw_connect_for_peek(), ep.host)
            raise diagnose.tls_error(ep, exc, cert) from None
        except (TimeoutError, socket.timeout):
            sock.close()
            raise diagnose.timeout_error(ep) from None
        except ssl.SSLError as exc:
            sock.close()
            if ep.security == "ssl":        # plain text came back: from which kind of server?
                raise diagnose.answered_in_plain_text(ep, exc, plain_greeting(ep.host, ep.port, ep.timeout)) from None
            raise diagnose.tls_error(ep, exc) from None
        except (ConnectionResetError, OSError) as exc:
            sock.close()
            raise diagnose.tls_error(ep, exc) from None

    def _raw_connect_for_peek(self) -> socket.socket:
        sock = self._raw_connect()
        if self.ep.security == "starttls":
            self._sock, self._sock_timeout = sock, None
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
        self._sock, self._sock_timeout = sock, None
        try:
            self.greeting = self._status()
        except MailroomError as exc:
            if exc.kind == "timeout" and expects_ssl(ep):
                raise diagnose.timeout_error(ep, speaks_tls=True) from None
            raise
        if ep.security == "starttls":
            self.capabilities = self.capa()
            if "STLS" not in self.capabilities:
                raise diagnose.starttls_missing(ep)
            self._command(b"STLS")
            self._sock, self._sock_timeout = self._wrap(self._sock), None
            self._buf.clear()
        self.capabilities = self.capa()

    def login(self, password: str) -> None:
        ep = self.ep
        user = _argument(ep.domain, "domain", "the Windows domain") + b"\\" if ep.domain else b""
        user += _argument(ep.username, "username", "the user name")
        secret = _argument(password, "password", "the password")
        try:
            self._command(b"USER " + user)
            self._command(b"PASS " + secret)
        except Pop3Error as exc:
            raise diagnose.auth_error(ep, exc.reply) from None

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
            return self._too_slow() if self._capped else diagnose.timeout_error(self.ep)
        return diagnose.connection_lost(self.ep, exc)

    def _too_slow(self) -> MailroomError:
        if not self._reply_bytes:        # not slow: silent, which the plain timeout describes
            return diagnose.timeout_error(self.ep)
        return diagnose.too_slow(self.ep, self._deadline - self._budget_start)

    def _start_reply(self) -> None:
        """A new reply's budget: `timeout` seconds, plus 1 s per MIN_RATE bytes it brings."""
        self._budget_start = time.monotonic()
        self._deadline = self._budget_start + self.ep.timeout
        self._reply_bytes = 0

    def _fill(self) -> None:
        sock = self._sock
        if sock is None:
            raise diagnose.connection_lost(self.ep, ConnectionResetError("not connected"))
        # Each read waits at most `timeout`, and never past the reply's deadline.
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._too_slow()
        self._capped = remaining < self.ep.timeout
        wait = remaining if self._capped else self.ep.timeout
        if wait != self._sock_timeout:
            sock.settimeout(wait)
            self._sock_timeout = wait
        try:
            # One receive buffer for the session: a fresh bytes object per read would
            # leave the allocator fragmented after a large message.
            count = sock.recv_into(self._recv)
        except (OSError, ssl.SSLError) as exc:
            raise self._lost(exc) from None
        if not count:
            raise diagnose.connection_lost(self.ep, ConnectionResetError("closed by server"))
        self._deadline += count / MIN_RATE
        self._reply_bytes += count
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
        self._start_reply()
        line = self._line()
        text = line.decode("utf-8", "replace")
        if line.startswith(b"+OK"):
            return text[3:].strip()
        if line.startswith(b"-ERR"):
            raise Pop3Error(diagnose.server_answered(self.ep, text), text[4:].strip())
        raise ProtocolError(f"{self.ep.host} port {self.ep.port} did not answer like a POP3 server "
                            f"(it said {text[:60]!r}). Check the port.", kind="connect", field="port")

    def _command(self, line: bytes) -> str:
        self._send(line)
        return self._status()

    def _body(self, limit: int = MAX_LISTING, max_line: int = MAX_LINE) -> bytes:
        """The rest of a multi-line reply, dot-unstuffed (RFC 1939 §3).

        _Overflow when the reply grows past `limit` bytes, or one line past `max_line`,
        before its end arrived; the buffer then still starts at the reply's body.
        """
        buf = self._buf
        while len(buf) < 3:
            self._fill()
        if buf[:3] == b".\r\n":
            del buf[:3]
            return b""
        start = line_start = 0
        while (end := buf.find(_END, start)) < 0:
            # Nothing here belongs to a later reply yet: all of `buf` is this one's.
            last = buf.rfind(b"\r\n", max(0, start - 1))
            if last >= 0:
                line_start = last + 2
            if len(buf) - line_start > max_line:
                raise _Overflow(line=True)
            if len(buf) > limit:
                raise _Overflow(line=False)
            start = max(0, len(buf) - 4)
            self._fill()
        with memoryview(buf) as view:
            data = bytes(view[:end + 2])
        del buf[:end + 5]
        return _unstuff(data)

    def _listing(self, command: bytes) -> bytes:
        """A listing's body (CAPA, UIDL, LIST): every line short, the whole bounded."""
        self._command(command)
        try:
            return self._body(MAX_LISTING, MAX_LINE)
        except _Overflow as over:
            self.close()
            what = f"a line longer than {MAX_LINE} bytes" if over.line else f"more than {MAX_LISTING >> 20} MB"
            raise ProtocolError(f"{self.ep.host} sent {what} in answer to {command.decode()}, which is not a "
                                "POP3 listing. Mailroom stopped reading; check the server.",
                                kind="protocol", field="host") from None

    def _reject(self, number: int, head: bytes, *, too_large: bool, why: str) -> MessageRejected:
        self.close()
        return MessageRejected(f"Message {number} on {self.ep.host} {why}.", number=number,
                               too_large=too_large, head=head)

    def _too_large_why(self) -> str:
        return f"is larger than the {self.max_message / (1 << 20):g} MB allowed for this mailbox (its largest message size)"

    def _message_body(self, number: int, limit: int, spill: Callable[[int], BinaryIO] | None):
        """One message reply's body: bytes, or Spooled when it outgrew `limit` and `spill` is given."""
        try:
            return self._body(min(limit, self.max_message), MAX_MESSAGE_LINE)
        except _Overflow as over:
            if over.line:
                raise self._reject(number, _unstuff(bytes(self._buf[:HEAD])), too_large=False,
                                   why=f"has a line longer than {MAX_MESSAGE_LINE >> 20} MB (RFC 5322 allows "
                                       "998 characters)") from None
            if spill is None or len(self._buf) > self.max_message:
                raise self._reject(number, _unstuff(bytes(self._buf[:HEAD])), too_large=True,
                                   why=self._too_large_why()) from None
        with spill(number) as sink:
            size, sha256 = self._stream_body(sink, number)
            path = Path(sink.name)
        return Spooled(path, size, sha256)

    def _stream_body(self, sink: BinaryIO | None, number: int) -> tuple[int, str]:
        """The rest of a message reply into `sink` (None: read and drop), dot-unstuffed on the
        way: (size, sha256). Bounded like any message reply (MessageRejected).

        Memory stays at about one read buffer whatever the message size: text is
        written straight from the receive buffer up to the last CRLF seen, so a stuffed
        dot (CRLF "..") or the terminator (CRLF "." CRLF) split across two reads is
        still recognised, and nothing is copied unless a line was stuffed.
        """
        digest, size = hashlib.sha256(), 0
        head = bytearray()
        buf = self._buf
        buf[:0] = b"\r\n"            # a virtual line end: the first line may be stuffed too
        skip = 2
        consumed = line_start = 0    # wire positions (counted from the virtual line end)
        while True:
            end = buf.find(_END)
            if end >= 0:
                cut = end + 2
            else:
                cut = buf.rfind(b"\r\n")
                if cut >= 0:
                    line_start = consumed + cut + 2
                if consumed + len(buf) - line_start > MAX_MESSAGE_LINE:
                    raise self._reject(number, bytes(head), too_large=False,
                                       why=f"has a line longer than {MAX_MESSAGE_LINE >> 20} MB (RFC 5322 "
                                           "allows 998 characters)")
                if cut <= 0 and len(buf) > _CHUNK:
                    cut = len(buf) - 1      # one long line: all but a possible CR
            if cut > skip:
                with memoryview(buf) as view:
                    if buf.find(b"\r\n..", 0, cut) >= 0:
                        data = bytes(view[:cut]).replace(b"\r\n..", b"\r\n.")[skip:]
                    else:
                        data = view[skip:cut]
                    if sink is not None:
                        sink.write(data)
                    digest.update(data)
                    size += len(data)
                    if len(head) < HEAD:
                        head += data[:HEAD - len(head)]
                    del data
                skip = 0
                del buf[:cut]
                consumed += cut
                if size > self.max_message:
                    raise self._reject(number, bytes(head), too_large=True, why=self._too_large_why())
            if end >= 0:
                del buf[:3]                 # ".\r\n" of the terminator
                return size, digest.hexdigest()
            self._fill()

    # --- commands -------------------------------------------------------------------
    def capa(self) -> dict[str, str]:
        """CAPA (RFC 2449); an empty dict when the server does not know it."""
        try:
            body = self._listing(b"CAPA")
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
        """Message number → unique id. Raises the `uidl` error when unsupported, and when
        two messages share an id (RFC 1939 §7: then no id can be trusted to name one message)."""
        try:
            body = self._listing(b"UIDL")
        except Pop3Error:
            raise diagnose.uidl_missing(self.ep) from None
        listing, repeated = parse_uidl(body)
        if repeated:
            raise diagnose.duplicate_uidl(self.ep, *repeated)
        return listing

    def top(self, number: int, lines: int = 0) -> bytes:
        self._command(b"TOP %d %d" % (number, lines))
        return self._message_body(number, self.max_message, None)

    def retr(self, number: int) -> bytes:
        self._command(b"RETR %d" % number)
        return self._message_body(number, self.max_message, None)

    def list_sizes(self) -> dict[int, int]:
        """Message number → size in octets (LIST)."""
        sizes = {}
        for raw in self._listing(b"LIST").split(b"\r\n"):
            parts = raw.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                sizes[int(parts[0])] = int(parts[1])
        return sizes

    def retr_to(self, number: int, sink: BinaryIO) -> tuple[int, str]:
        """RETR streamed into `sink`, dot-unstuffed on the way: (size, sha256)."""
        self._command(b"RETR %d" % number)
        return self._stream_body(sink, number)

    def dele(self, number: int) -> None:
        self._command(b"DELE %d" % number)

    def many(self, command: bytes, numbers: Iterable[int], read: Callable[[int], object],
             window: int = 16) -> Iterator[tuple[int, object]]:
        """(number, read(number)) of `command % n` for each n, pipelined when the server allows.

        With PIPELINING (RFC 2449 §6.6) up to `window` commands are in flight, so the
        round trip per message disappears; without it, one at a time. Commands go out
        half a window at a time: one TLS record and one wake-up of the server per eight
        messages rather than per message. `read` reads one reply's body. A -ERR raises
        Pop3Error after the earlier results were yielded.
        """
        pending: deque[int] = deque()
        it = iter(numbers)
        depth = window if self.pipelining else 1
        try:
            while True:
                batch = list(itertools.islice(it, depth - len(pending))) if len(pending) <= depth // 2 else []
                if batch:
                    self._sendall(b"".join(command % n + b"\r\n" for n in batch))
                    pending.extend(batch)
                if not pending:
                    return
                n = pending.popleft()
                self._status()
                yield n, read(n)
        except GeneratorExit:
            # A consumer that stops early must not leave replies on the wire, or the
            # next command would read them as its own. They are read and dropped.
            try:
                for n in pending:
                    self._status()
                    self._stream_body(None, n)
            except MailroomError:
                self.close()  # the session is unusable; the next command reports it
            raise

    def retr_many(self, numbers: Iterable[int], sizes: Mapping[int, int] | None = None,
                  spill: Callable[[int], BinaryIO] | None = None) -> Iterator[tuple[int, bytes | Spooled]]:
        """RETR each number. A reply outgrowing `memory_limit` of its LIST size (`sizes`)
        goes to the file `spill(number)` opens (then Spooled), or is rejected without one."""
        sizes = sizes or {}
        return self.many(b"RETR %d", numbers,
                         lambda n: self._message_body(n, memory_limit(sizes.get(n, 0)), spill))

    def top_many(self, numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        return self.many(b"TOP %d 0", numbers, lambda n: self._message_body(n, self.max_message, None))


def parse_uidl(body: bytes) -> tuple[dict[int, str], tuple[str, int] | None]:
    """A UIDL listing's body: (message number → unique id, and the first id listed for
    more than one message with how many times, or None). Lines that are not
    "number id" are ignored; when a number is listed twice, the last line counts."""
    if _STRICT_UIDL.fullmatch(body):
        # Every line exactly "number SP id" (RFC 1939 §7), as real servers send it: read
        # as a whole, about three times faster than line by line (10,000 lines: ~4 ms),
        # which is much of a poll that finds nothing new.
        tokens = body.decode("ascii").split()
        uids = tokens[1::2]
        if len(set(uids)) == len(uids):
            return dict(zip(map(int, tokens[0::2]), uids)), None
    return _parse_uidl_lines(body)


def _parse_uidl_lines(body: bytes) -> tuple[dict[int, str], tuple[str, int] | None]:
    """parse_uidl, line by line: whatever the server sent."""
    result: dict[int, str] = {}
    numbers: dict[str, list[int]] = {}
    for raw in body.split(b"\r\n"):
        parts = raw.split()
        if len(parts) >= 2 and parts[0].isdigit():
            uid = parts[1].decode("ascii", "replace")
            result[int(parts[0])] = uid
            numbers.setdefault(uid, []).append(int(parts[0]))
    if len(numbers) < len(result):
        uid, repeated = next((u, ns) for u, ns in numbers.items() if len(ns) > 1)
        return result, (uid, len(repeated))
    return result, None


def _argument(value: str, field: str, label: str) -> bytes:
    """`value` as a command argument; a CR, LF or NUL would end the command and start
    another one of the server's choosing (RFC 1939 §3: a command ends with CRLF)."""
    if any(c in value for c in _FORBIDDEN):
        raise ConfigError(f"{label.capitalize()} contains a line break or NUL character, which would let "
                          f"the server read it as a second command. Mailroom sent nothing; correct {label} "
                          f"({field}).", field=field)
    return value.encode()
