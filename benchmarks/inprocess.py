"""Child process for `mailroom-inprocess`: one mailbox run inside a started Mailroom.

    python -m benchmarks.inprocess DESCRIPTION      (MAILROOM_HOME and the keyring in the env)

Imports, the Context (database open and migrated), the mailbox row, the choice of
keyring backend and the mailbox's TLS context (the OS trust store read once per
process, ~20 ms) come first and are not timed: a running Mailroom has long done them.
Then exactly one `MailboxRun(ctx, row).run()` is timed, keyring lookup, TLS handshake
and all: wall clock, this process's CPU time, and its peak RSS (ru_maxrss, which
includes the imports) and the growth of that peak during the run.
Prints one JSON object.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main(description: str) -> int:
    from mailroom.context import Context
    from mailroom.fetch import MailboxRun
    from mailroom.mail.tls import client_context
    from mailroom.secrets import backend

    ctx = Context.open()
    row = ctx.mailbox(description)
    backend()
    client_context(ctx.mailbox_endpoint(row).ca_file)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall0, cpu0 = time.perf_counter(), time.process_time()
    report = MailboxRun(ctx, row).run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump({"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss_after / 1024,
               "rss_growth_mb": (rss_after - rss_before) / 1024, "report": report.as_dict()}, sys.stdout)
    return 1 if report.error else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
