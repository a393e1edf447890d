"""Part of the `web` scenario: what the full-text index costs the first sync.

10,000 messages of the benchmark corpus on one Dovecot user (left on the server, so every
run reads the same mail), then `mailroom-inprocess` first syncs, each into a fresh data
folder: with the search index (as installed), and without it (the same data folder with
the FTS5 table dropped after its migration, so each import skips the index write, as on
a store without FTS5). The two kinds take turns, `REPEATS` runs each; the medians of wall and CPU time
(of the importing process, which writes the index; the parser's helper process is
not counted) compared.

Target (issue 12): the index adds under 15% to the first sync.
"""

from __future__ import annotations

import sqlite3
import statistics
import time

MESSAGES = 10_000
REPEATS = 5


def run(root, dovecot, ca_file, keyring_env, say, *, messages: int = MESSAGES, repeats: int = REPEATS,
        seed: int = 1) -> list[str]:
    """The lines of the result table."""
    from benchmarks import corpus
    from benchmarks.measure import start_launcher
    from benchmarks.runner import prewarm
    from benchmarks.tools import InprocessInstance, Lab

    launcher = start_launcher()
    try:
        lab = Lab(root, dovecot, ca_file, keyring_env)
        (root / "tools").mkdir(exist_ok=True)
        t0 = time.perf_counter()
        mail = corpus.generate(messages, seed)
        user = dovecot.new_user("ftscost")
        user.deliver_many(mail)
        prewarm(user, dovecot.pop3s_port, ca_file)
        say(f"  search index cost: {messages:,} messages ({sum(map(len, mail)) / 1e6:.0f} MB) delivered in "
            f"{time.perf_counter() - t0:.0f} s; {repeats} first syncs with and without the index")
        del mail
        walls: dict[str, list[float]] = {"with": [], "without": []}
        cpus: dict[str, list[float]] = {"with": [], "without": []}
        for r in range(repeats):
            for kind in ("with", "without"):
                inst = InprocessInstance(lab, user, root / "tools" / f"fts-{kind}-{r}")
                if kind == "without":
                    with sqlite3.connect(inst.home / "mailroom.db") as db:
                        db.execute("DROP TABLE message_search")
                sample = inst.sync()
                if inst.stored() != messages:
                    raise RuntimeError(f"the {kind} run stored {inst.stored()} of {messages}; see {inst.log}")
                if kind == "with":
                    indexed_db = inst.home / "mailroom.db"
                walls[kind].append(sample.wall_s)
                cpus[kind].append(sample.cpu_s)
                say(f"    {kind:<8} index: {sample.wall_s:6.2f} s wall, {sample.cpu_s:6.2f} s cpu")
    finally:
        launcher.close()
    alone = index_writes(indexed_db)
    lines = [f"{'':<15} {f'index writes alone, {messages:,}':<28} {alone:>7.2f} s{'':>10}  "
             f"({alone / statistics.median(walls['with']) * 100:.1f}% of the median first sync's wall time)"]
    for what, figures in (("wall", walls), ("cpu", cpus)):
        with_, without = statistics.median(figures["with"]), statistics.median(figures["without"])
        extra = (with_ - without) / without * 100
        lines.append(f"{'':<15} {f'first sync of {messages:,} ({what})':<28} {with_:>7.2f} s {without:>7.2f} s  "
                     f"{'met' if extra < 15 else 'MISS'} ({extra:+.1f}% with the index, < 15%; "
                     f"with / without, median of {repeats})")
    return lines


def index_writes(database) -> float:
    """Seconds to index the messages a first sync stored, one row at a time as imports do,
    into a fresh in-memory copy: the index's own cost, without the run's noise."""
    from mailroom.store.search import CREATE

    with sqlite3.connect(database) as source:
        rows = source.execute("SELECT id, subject, from_name, from_addr, text FROM messages").fetchall()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, subject, from_name, from_addr, text)")
    db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?)", rows)
    db.execute(CREATE)
    t0 = time.perf_counter()
    for i in range(0, len(rows), 50):            # the import's batches: one transaction per 50 messages
        with db:
            for row in rows[i:i + 50]:
                db.execute("INSERT INTO message_search(rowid, subject, from_name, from_addr, text) "
                           "VALUES (?, ?, ?, ?, ?)", row)
    return time.perf_counter() - t0
