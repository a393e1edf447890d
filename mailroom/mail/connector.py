"""What a mailbox run asks of a mail server, whatever the protocol: the `Connector`.

fetch.py and checks.py talk to an incoming server only through this protocol, and
`mailroom.mail.connector_for(endpoint)` picks the class for the endpoint's protocol.
POP3 (mailroom/mail/pop3.py) is the one there is; IMAP will be one more class named
there, not edits across the fetch, the context and the command line.

A message is named two ways: its number, valid for one session (POP3's message
number), and its unique id, stable across sessions (POP3's UIDL), which the store
remembers. Deletions take effect only at `quit` (for POP3, RFC 1939 §6's UPDATE state).

Nothing here opens a socket; this module only states the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from mailroom.errors import ProtocolError
from mailroom.model import Endpoint


@dataclass(frozen=True)
class Spooled:
    """A message too large for memory, written to the file a `spill` call gave."""

    path: Path
    size: int
    sha256: str


class MessageRejected(ProtocolError):
    """One message breaks a bound: larger than allowed (`too_large`) or a line too long.

    The message fails, not the run. `head` is its beginning as received, for its
    headers. The session has been closed: the rest of the reply was still on the wire.
    """

    kind = "message"

    def __init__(self, message: str, *, number: int, too_large: bool, head: bytes):
        super().__init__(message)
        self.number = number
        self.too_large = too_large
        self.head = head


class Connector(Protocol):
    """One logged-in session with an incoming mail server; a context manager that closes it."""

    @classmethod
    def open(cls, endpoint: Endpoint, password: Callable[[], str], *, max_message: int = ...) -> "Connector":
        """Connect, secure and log in. `password` is called when the connection stands (it
        may still be on its way, e.g. from the keyring), and also when connecting failed,
        so that a missing password is the error reported; nothing is sent before it."""

    def __enter__(self) -> "Connector": ...

    def __exit__(self, *exc) -> None: ...

    def stat(self) -> tuple[int, int]:
        """(messages, total size in bytes)."""

    def uidl(self) -> dict[int, str]:
        """Message number → unique id (a ProtocolError when two messages share one)."""

    def list_sizes(self) -> dict[int, int]:
        """Message number → size in bytes as the server announces it."""

    def top(self, number: int, lines: int = 0) -> bytes:
        """The message's headers and its first `lines` lines of body."""

    def top_many(self, numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        """(number, headers) of each message, as fast as the server allows."""

    def retr_many(self, numbers: Iterable[int], sizes: Mapping[int, int] | None = None,
                  spill: Callable[[int], BinaryIO] | None = None) -> Iterator[tuple[int, bytes | Spooled]]:
        """(number, message) of each; one larger than its announced size goes to `spill`'s file."""

    def retr_to(self, number: int, sink: BinaryIO) -> tuple[int, str]:
        """The message streamed into `sink`: (size, sha256)."""

    def dele(self, number: int) -> None:
        """Mark the message for deletion; it is deleted at `quit`."""

    def quit(self) -> None:
        """End the session; marked messages are deleted now."""

    def close(self) -> None:
        """Drop the connection without `quit`: nothing marked is deleted."""
