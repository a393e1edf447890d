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
        self._root = str(self.root)
        self._folders: set[str] = set()    # the hash folders made (or found) already

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.eml"

    def put(self, sha256: str, raw: bytes, *, durable: bool = False) -> Path:
        """Store `raw` under its hash; with `durable`, fsync before returning."""
        # Plain strings and one mkdir per folder: a first sync stores ten thousand messages,
        # and Path objects and a mkdir per message were half the cost of storing them.
        folder = os.path.join(self._root, sha256[:2])
        path = os.path.join(folder, sha256 + ".eml")
        if not durable and os.path.exists(path):
            return Path(path)
        if folder not in self._folders:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self._folders.add(folder)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        return Path(path)

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
