"""Large messages without holding them in memory: parse a spooled file by its skeleton.

A message above `LARGE` bytes is spooled to a file by the POP3 client. This module maps
that file into memory (the system pages it in and out; Python never holds a copy) and
parses it through its skeleton (mailroom/mail/skeleton.py): headers and text are kept,
attachments are decoded on the way through to their size and SHA-256, and the limits of
mailroom/mail/mime.py bound memory and time whatever the file holds. The result is the
`ParsedMessage` that parse_message would give for the same bytes.

It reads the one file it is given and returns; no network and no store here.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from mailroom.model import ParsedMessage

LARGE = 4 << 20                 # bytes: from here on a message is spooled and streamed


def parse_file(path: Path, sha256: str, size: int) -> ParsedMessage:
    """Parse the large message spooled at `path` (its hash and size already known)."""
    from mailroom.mail.parse import parse_buffer   # the parser loads when there is mail to parse

    with open(path, "rb") as fh:
        if not os.fstat(fh.fileno()).st_size:
            return parse_buffer(b"", sha256, size)  # an empty file cannot be mapped
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return parse_buffer(buf, sha256, size)
