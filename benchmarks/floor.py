"""Child process for `floor`: what the wire allows a plain Python client.

    BENCH_POP3_PASSWORD=... python -m benchmarks.floor HOST PORT USER CA_FILE OUT_DIR

poplib over TLS: UIDL, then RETR of every message whose UID is not in OUT_DIR/seen,
each written to its own file; no parsing, no fsync, no database. The seen UIDs are
saved at the end, so a second run is a poll with nothing new.
"""

from __future__ import annotations

import os
import poplib
import ssl
import sys
from pathlib import Path


def main(host: str, port: str, user: str, ca_file: str, out: str) -> int:
    out_dir = Path(out)
    seen_file = out_dir / "seen"
    seen = set(seen_file.read_text().split()) if seen_file.exists() else set()
    pop = poplib.POP3_SSL(host, int(port), context=ssl.create_default_context(cafile=ca_file))
    pop.user(user)
    pop.pass_(os.environ["BENCH_POP3_PASSWORD"])
    _resp, listing, _octets = pop.uidl()
    new = []
    for line in listing:
        number, uid = line.decode().split()
        if uid not in seen:
            new.append((number, uid))
    for number, uid in new:
        _resp, lines, _octets = pop.retr(int(number))
        (out_dir / f"{uid}.eml").write_bytes(b"\r\n".join(lines) + b"\r\n")
        seen.add(uid)
    pop.quit()
    seen_file.write_text("\n".join(sorted(seen)))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
