"""The raw message store: each message's exact bytes, content-addressed by SHA-256.

A file is written (to a temporary name, then renamed) before the row that points to
it commits, so a committed message always has its raw bytes. Writing the same
message twice is harmless. File names are hashes, never anything taken from mail.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_spool_numbers = itertools.count()


class RawStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.eml"

    def put(self, sha256: str, raw: bytes, *, durable: bool = False) -> Path:
        """Store `raw` under its hash; with `durable`, fsync before returning."""
        path = self.path(sha256)
        if path.exists() and not durable:
            return path
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    def spool_path(self) -> Path:
        """A fresh temporary file name in the store, for a message being downloaded."""
        self.root.mkdir(mode=0o700, exist_ok=True)
        return self.root / f"spool-{os.getpid()}-{next(_spool_numbers)}.tmp"

    def adopt(self, sha256: str, spooled: Path, *, durable: bool = False) -> Path:
        """Move a spooled download into place under its hash."""
        path = self.path(sha256)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        if durable:
            with open(spooled, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(spooled, path)
        return path

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
