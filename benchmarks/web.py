"""The `web` scenario: the page's speed on a big store, and what the idle app costs.

    python -m benchmarks --scenarios web [--dir DIR] [--keep]

1. A data folder with 20 email boxes, each on its own (empty) Dovecot user with its
   password in the keyring, and 50,000 stored messages spread over them (their words
   in the search index), with 5,000 clients, 10,000 tasks, a month of hourly runs per
   mailbox (14,400 runs) and some outbox rows.
2. The real app: `python -m mailroom --headless --port P`. Its worker checks the 20
   boxes once at start; after that nothing is due for 5 minutes.
3. Once every box has had its first run: 200 requests each of the dashboard (GET /),
   the status feed (GET /status.json), the client list and a client search, the
   header's search box, a client's page and the task list, over one keep-alive
   connection on loopback, timed from request to the last byte of the response
   (median and 95th percentile).
4. The idle app for 60 s: its CPU time (utime + stime, /proc/PID/stat) as a share of
   one core, and its resident memory (VmRSS, sampled every second; the largest).
5. What the search index adds to a 10,000-message first sync (benchmarks/search_cost.py).

Targets (issues 11 and 12): the dashboard, the status feed, a client's page and the
task list under 50 ms per request, the client list and searches under 100 ms; under
1% of one core and 80 MB idle; the index under 15% of the first sync.
Linux only (/proc). Like the other scenarios, never part of the test suite.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

MAILBOXES = 20
MESSAGES = 50_000
CLIENTS = 5_000
TASKS = 10_000
REQUESTS = 200
IDLE_SECONDS = 60
URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/login\?t=\S+)")


def fill(spec: dict) -> None:
    """Runs in a child with the keyring's environment: settings, passwords and the stored mail."""
    import sqlalchemy as sa

    from mailroom.controller import Controller
    from mailroom.store import schema as s

    controller = Controller.open()
    for i, user in enumerate(spec["users"]):
        controller.save_entry("mailboxes", {
            "description": f"Box {i + 1:02d}", "host": "127.0.0.1", "port": spec["port"], "security": "ssl",
            "email": f"{user['name']}@localhost", "username": user["name"], "ca_file": spec["ca_file"],
            "poll_minutes": 5})
        controller.set_password(controller.mailbox_id(f"Box {i + 1:02d}"), user["password"])
    for section, entries in (("departments", [{"name": "Weddings"}, {"name": "Portraits"}]),
                             ("users", [{"name": f"User {u}", "email": f"user{u}@studio.example",
                                         "department": ("Weddings", "Portraits")[u % 2]} for u in range(4)]),
                             ("task_types", [{"name": "Inquiry"}, {"name": "Booking"}]),
                             ("task_statuses", [{"name": "New"}, {"name": "Waiting"},
                                                {"name": "Done", "final": True}])):
        for entry in entries:
            controller.save_entry(section, entry)
    ids = [b.id for b in controller.status().mailboxes]
    rng = random.Random(1)
    now = dt.datetime.now(dt.timezone.utc)
    engine = controller.ctx.engine
    from benchmarks.corpus import _WORDS
    from tests.mailgen import _FIRST, _LAST

    names = [(rng.choice(_FIRST), rng.choice(_LAST)) for _ in range(CLIENTS)]
    with engine.begin() as conn:
        conn.execute(s.clients.insert(), [{"id": c, "name": f"{first} {last}", "created_at": now}
                                          for c, (first, last) in enumerate(names, 1)])
        emails = {c: f"{first}.{last}{c}@example.com".lower() for c, (first, last) in enumerate(names, 1)}
        conn.execute(s.client_emails.insert(), [{"client_id": c, "email": e} for c, e in emails.items()])
        for start in range(0, MESSAGES, 5000):
            rows = []
            for n in range(start, start + 5000):
                client = rng.randint(1, CLIENTS)
                rows.append({
                    "direction": "in" if n % 10 else "out", "mailbox_id": ids[n % len(ids)], "client_id": client,
                    "message_id": f"m{n}@example.com", "from_addr": emails[client],
                    "subject": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 7))).capitalize(),
                    "from_name": " ".join(names[client - 1]), "date": now - dt.timedelta(minutes=n),
                    "text": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(40, 120))),
                    "raw_sha256": f"{n:064x}", "size": 2000, "created_at": now - dt.timedelta(minutes=n)})
            conn.execute(s.messages.insert(), rows)
        lookup = {name: i for table in (s.task_types, s.task_statuses, s.departments, s.users)
                  for i, name in conn.execute(sa.select(table.c.id, table.c.name))}
        users = [(lookup[f"User {u}"], lookup[("Weddings", "Portraits")[u % 2]]) for u in range(4)]
        tasks = []
        for n in range(TASKS):
            user, department = rng.choice(users)
            tasks.append({"client_id": rng.randint(1, CLIENTS), "title": f"Inquiry {n}: " + " ".join(
                rng.choice(_WORDS) for _ in range(4)), "task_type_id": lookup[rng.choice(("Inquiry", "Booking"))],
                "task_status_id": lookup[rng.choice(("New", "New", "Waiting", "Done"))], "department_id": department,
                "user_id": user, "source_message_pk": rng.randint(1, MESSAGES),
                "created_at": now - dt.timedelta(minutes=5 * (TASKS - n))})
        conn.execute(s.tasks.insert(), tasks)
        conn.exec_driver_sql("INSERT INTO message_search(message_search) VALUES ('rebuild')")
        runs = []
        for mailbox_id in ids:
            for hour in range(24 * 30):
                began = now - dt.timedelta(hours=hour)
                runs.append({"mailbox_id": mailbox_id, "started_at": began, "ended_at": began + dt.timedelta(seconds=1),
                             "listed": 100, "new": 3, "imported": 3})
        conn.execute(s.runs.insert(), runs)
        conn.execute(s.outbox.insert(), [{
            "mailbox_id": ids[0], "to_addr": f"client{n}@example.com", "from_addr": "studio@example.com",
            "message_id": f"o{n}@example.com", "raw": b"x" * 500, "state": "sent" if n % 50 else "failed",
            "created_at": now} for n in range(2000)])
    with engine.connect() as conn:
        counts = sorted(conn.execute(sa.select(sa.func.count()).select_from(s.messages)
                                     .where(s.messages.c.client_id.is_not(None))
                                     .group_by(s.messages.c.client_id).add_columns(s.messages.c.client_id)).all())
        print(json.dumps({"messages": conn.execute(sa.select(sa.func.count()).select_from(s.messages)).scalar(),
                          "tasks": conn.execute(sa.select(sa.func.count()).select_from(s.tasks)).scalar(),
                          "typical_client": counts[len(counts) // 2][1]}))


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds so far, resident MB) of process `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if line.startswith("VmRSS:"))
    return cpu, rss_kb / 1024


def _get(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t0
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status}")
    return elapsed, body


def run(args, say=print) -> list[str]:
    """The scenario; returns the lines of its result table."""
    from benchmarks.runner import start_keyring, work_root
    from tests.servers.certs import make_ca_and_server_cert
    from tests.servers.dovecot import Dovecot
    from tests.servers.ports import free_port

    root, where = work_root(args.dir)
    (root / "dovecot").mkdir(mode=0o755)
    say(f"web: {MAILBOXES} email boxes, {MESSAGES:,} stored messages; {where}")
    certs = make_ca_and_server_cert(root / "certs")
    dovecot = Dovecot(root / "dovecot", certs, {}, name="mailroom-bench-web")
    service = app = None
    try:
        dovecot.start()
        keyring_env, service, keyring_note = start_keyring(root)
        say(f"  {keyring_note}")
        users = [dovecot.new_user(f"web{i}") for i in range(MAILBOXES)]
        home = root / "home"
        home.mkdir(mode=0o700)
        env = {**os.environ, **keyring_env, "MAILROOM_HOME": str(home),
               "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        spec = {"port": dovecot.pop3s_port, "ca_file": str(certs.ca_crt),
                "users": [{"name": u.name, "password": u.password} for u in users]}
        t0 = time.perf_counter()
        filled = subprocess.run([sys.executable, "-m", "benchmarks.web", json.dumps(spec)], env=env,
                                capture_output=True, text=True, check=True)
        say(f"  store filled in {time.perf_counter() - t0:.1f} s: {filled.stdout.strip()}")
        app = subprocess.Popen([sys.executable, "-m", "mailroom", "--headless", "--port", str(free_port())], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        match = None
        while match is None:
            line = app.stdout.readline()
            if not line:
                raise RuntimeError("mailroom --headless ended before printing its address")
            match = URL.search(line)
        conn = http.client.HTTPConnection("127.0.0.1", int(match[1]), timeout=30)
        conn.request("GET", match[2])
        login = conn.getresponse()
        login.read()
        cookie = login.getheader("Set-Cookie").split(";")[0]
        deadline = time.monotonic() + 120
        while True:   # every box's first run done: from now on nothing is due
            status = json.loads(_get(conn, "/status.json", cookie)[1])
            if all(b["last_run"] != "not yet" and b["state"] != "checking" for b in status["mailboxes"]):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the first runs did not finish in 2 minutes")
            time.sleep(0.5)
        lines = [f"{'web':<15} {'what':<28} {'median':>9} {'p95':>9}  target"]

        def timed(path: str, what: str, target: int) -> None:
            times = sorted(_get(conn, path, cookie)[0] for _ in range(REQUESTS))
            median, p95 = statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000
            lines.append(f"{'':<15} {what:<28} {median:>6.1f} ms {p95:>6.1f} ms  "
                         f"{'met' if p95 < target else 'MISS'} (< {target} ms)")

        timed("/", "dashboard GET /", 50)
        timed("/status.json", "status GET /status.json", 50)
        # the idle app, as issue 11 measures it: after the dashboard, before the record pages
        cpu0, _ = _proc(app.pid)
        peak = 0.0
        for _ in range(IDLE_SECONDS):
            time.sleep(1)
            peak = max(peak, _proc(app.pid)[1])
        cpu1, rss = _proc(app.pid)
        share = (cpu1 - cpu0) / IDLE_SECONDS * 100
        lines.append(f"{'':<15} {f'idle {IDLE_SECONDS} s, CPU of one core':<28} {share:>7.2f} %"
                     f"{'':>10}  {'met' if share < 1 else 'MISS'} (< 1%)")
        lines.append(f"{'':<15} {'idle RSS (largest sample)':<28} {peak:>6.1f} MB{'':>10}  "
                     f"{'met' if peak < 80 else 'MISS'} (< 80 MB; at the end {rss:.1f} MB)")
        client = json.loads(filled.stdout)["typical_client"]
        for path, what, target in (("/clients", "client list GET /clients", 100),
                                   ("/clients?q=martin", "client search ?q=martin", 100),
                                   ("/search?q=wedding", "search ?q=wedding (most mail)", 100),
                                   ("/search?q=okafor+invoice", "search ?q=okafor+invoice", 100),
                                   (f"/clients/{client}", "a client's page", 50),
                                   ("/tasks", "task list GET /tasks", 50),
                                   ("/tasks?state=all&user=User+1", "task list, all of one user", 50)):
            timed(path, what, target)
        conn.close()
        lines.append(f"{'':<15} {'RSS after the record pages':<28} {_proc(app.pid)[1]:>6.1f} MB")
        app.terminate()
        app.communicate(timeout=60)
        app = None
        from benchmarks import search_cost

        lines += search_cost.run(root, dovecot, certs.ca_crt, keyring_env, say)
        return lines
    finally:
        if app is not None:
            app.terminate()
            app.communicate(timeout=60)
        if service is not None:
            service.stop()
        dovecot.stop()
        if args.keep:
            say(f"work files kept in {root}")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    fill(json.loads(sys.argv[1]))
