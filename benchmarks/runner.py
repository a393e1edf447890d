"""One benchmark invocation: start the servers, fill the mailboxes, run every tool.

Every tool gets its own Dovecot user holding the same messages (first_sync numbers are
comparable), the scenarios run in this order on those users, and the tools take turns
within each scenario so that a busy moment of the machine does not hit one tool only.

    first_sync      N new messages, nothing seen yet                        (repeats: fresh mailboxes)
    poll_idle       the synced mailbox again: nothing new                    (repeats: same mailbox)
    poll_10_new     10 more messages delivered, then one sync                (repeats: 10 more each)
    exclude_before  N messages, 90% dated before the mailbox's cutoff        (Mailroom only)
    big_message     one 30 MB message, for peak memory
"""

from __future__ import annotations

import compileall
import contextlib
import os
import platform
import poplib
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import corpus
from benchmarks.measure import ChildFailed, start_launcher
from benchmarks.tools import INSTANCES, REPO, Instance, Lab, missing_programs
from tests.servers.certs import make_ca_and_server_cert
from tests.servers.dovecot import Dovecot, MailUser, make_root_dir

SCENARIOS = ("first_sync", "poll_idle", "poll_10_new", "exclude_before", "big_message")
MAILROOM_ONLY = {"exclude_before"}  # getmail6 and fetchmail have no date cutoff
NEW_IN_POLL = 10
OLD_SHARE = 0.9
ATTEMPTS = 3                   # runs on a fresh mailbox when a tool hits a known fault of its own


@dataclass
class Row:
    tool: str
    scenario: str
    messages: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float

    def as_dict(self) -> dict:
        return {"tool": self.tool, "scenario": self.scenario, "messages": self.messages,
                "wall_s": round(self.wall_s, 4), "cpu_s": round(self.cpu_s, 4),
                "peak_rss_mb": round(self.peak_rss_mb, 1)}


def say(text: str) -> None:
    print(text, flush=True)


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    lines = [t for t in (out.stdout + out.stderr).splitlines() if t.strip() and "WARNING" not in t]
    return lines[0].strip() if lines else "?"


def work_root(requested: str | None) -> tuple[Path, str]:
    """The benchmark's directory (0755, for Dovecot's users) and a note on where it is."""
    if requested:
        base = Path(requested)
        base.mkdir(parents=True, exist_ok=True)
        tempfile.tempdir = str(base)
        note = f"work files in {base} (as requested)"
    elif Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
        tempfile.tempdir = "/dev/shm"
        note = "work files on tmpfs (/dev/shm): mail, databases and output never touch a disk"
    else:
        note = f"work files in {tempfile.gettempdir()} (no /dev/shm here: disk noise included)"
    try:
        return make_root_dir("mailroom-bench-"), note
    finally:
        tempfile.tempdir = None


def compile_bytecode() -> str:
    """Mailroom's modules compiled to bytecode before any run, as an installed package has
    them (pip compiles at install time; getmail6's Debian package ships its .pyc files).
    Otherwise, where PYTHONDONTWRITEBYTECODE is set, every Mailroom process would compile
    its own sources again (~0.1 s), which no installed Mailroom does."""
    ok = compileall.compile_dir(REPO / "mailroom", quiet=1)
    if not ok:
        sys.exit("Mailroom's sources did not compile; see above.")
    return "bytecode: Mailroom's modules compiled before the runs, as an installed package has them"


def start_keyring(root: Path) -> tuple[dict[str, str], object | None, str]:
    """Environment for Mailroom's keyring: the Secret Service if it starts, else keyrings.alt."""
    from tests.servers.keyring import start_secret_service

    try:
        service = start_secret_service(root / "keyring")
        return service.env, service, "keyring: private Secret Service (gnome-keyring on its own D-Bus)"
    except RuntimeError as exc:
        reason = str(exc).splitlines()[0]
    try:
        import keyrings.alt  # noqa: F401
    except ImportError:
        sys.exit(f"No keyring for Mailroom: {reason}. Install gnome-keyring and dbus-daemon, "
                 "or `pip install keyrings.alt` into this environment.")
    data = root / "keyring-data"
    data.mkdir()
    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring", "XDG_DATA_HOME": str(data)}
    return env, None, f"keyring: keyrings.alt PlaintextKeyring in the work folder ({reason})"


def prewarm(user: MailUser, port: int, ca_file: Path) -> None:
    """One POP3 session before the measured one: Dovecot builds its index for the new mail
    (0.3 s per 10,000 messages), as it would have long before a real client connects."""
    logged = len(user.pop3_logouts())
    pop = poplib.POP3_SSL("127.0.0.1", port, context=ssl.create_default_context(cafile=str(ca_file)))
    pop.user(user.name)
    pop.pass_(user.password)
    pop.stat()
    pop.uidl()
    pop.quit()
    user.wait_pop3_logouts(logged + 1, timeout=10)


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows: list[Row] = []
        self.first_sync: dict[str, list[Instance]] = {}
        self.failed: set[str] = set()

    # ----------------------------------------------------------------- plumbing
    def tools(self, scenario: str) -> list[str]:
        tools = [t for t in self.args.tools if t not in self.missing and t not in self.failed]
        return [t for t in tools if t.startswith("mailroom")] if scenario in MAILROOM_ONLY else tools

    def new_instance(self, tool: str, label: str, messages: list[bytes], **options) -> Instance:
        user = self.dovecot.new_user(f"{tool}{label}")
        user.deliver_many(messages)
        prewarm(user, self.dovecot.pop3s_port, self.ca_file)
        return INSTANCES[tool](self.lab, user, self.lab.root / "tools" / user.name, **options)

    def record(self, tool: str, scenario: str, messages: int, samples: list) -> Row:
        row = Row(tool, scenario, messages, statistics.median(s.wall_s for s in samples),
                  statistics.median(s.cpu_s for s in samples), statistics.median(s.peak_rss_mb for s in samples))
        self.rows.append(row)
        runs = f" (median of {len(samples)})" if len(samples) > 1 else ""
        say(f"  {tool:<19} {row.wall_s:8.3f} s wall {row.cpu_s:8.3f} s cpu {row.peak_rss_mb:7.1f} MB{runs}")
        return row

    def fresh_sync(self, tool: str, label: str, messages: list[bytes], **options) -> tuple[Instance, object]:
        """A new instance holding `messages`, synced once: (instance, sample). A tool that
        fails with a known fault of its own (Instance.known_fault) gets a fresh mailbox
        again, at most ATTEMPTS times, and the output says so."""
        for attempt in range(1, ATTEMPTS + 1):
            inst = self.new_instance(tool, label, messages, **options)
            try:
                return inst, inst.sync()
            except ChildFailed:
                fault = inst.known_fault()
                if fault is None or attempt == ATTEMPTS:
                    raise
                say(f"  {tool}: {fault}; once more on a fresh mailbox ({attempt + 1} of {ATTEMPTS})")
        raise AssertionError("unreachable")

    @staticmethod
    def check(inst: Instance, expected: int) -> None:
        stored = inst.stored()
        if stored != expected:
            raise ChildFailed(f"{inst.tool} kept {stored} messages, expected {expected}: see {inst.log}")

    @contextlib.contextmanager
    def attempt(self, tool: str, scenario: str):
        """Run one tool's part of a scenario; a tool that fails is reported and left out from then on."""
        try:
            yield
        except ChildFailed as exc:
            self.failed.add(tool)
            say(f"  FAILED {tool} in {scenario}, left out from here on: {str(exc).splitlines()[0]}")

    # ----------------------------------------------------------------- scenarios
    def scenario_first_sync(self) -> None:
        n = self.args.messages
        for tool in self.tools("first_sync"):
            with self.attempt(tool, "first_sync"):
                samples = []
                for r in range(self.args.repeats):
                    inst, sample = self.fresh_sync(tool, f"sync{r}", self.mail)
                    samples.append(sample)
                    self.check(inst, n)
                    self.first_sync.setdefault(tool, []).append(inst)
                self.record(tool, "first_sync", n, samples)

    def synced(self, tool: str) -> Instance:
        if tool not in self.first_sync:
            inst, _sample = self.fresh_sync(tool, "synced", self.mail)
            self.check(inst, self.args.messages)
            self.first_sync[tool] = [inst]
        return self.first_sync[tool][-1]

    def scenario_poll_idle(self) -> None:
        for tool in self.tools("poll_idle"):
            with self.attempt(tool, "poll_idle"):
                inst = self.synced(tool)
                before = inst.stored()
                samples = [inst.sync() for _ in range(max(self.args.repeats, self.args.idle_repeats))]
                self.check(inst, before)
                self.record(tool, "poll_idle", 0, samples)

    def scenario_poll_10_new(self) -> None:
        for tool in self.tools("poll_10_new"):
            with self.attempt(tool, "poll_10_new"):
                inst = self.synced(tool)
                samples = []
                for r in range(self.args.repeats):
                    before = inst.stored()
                    start = self.args.messages + 1000 * (r + 1)
                    inst.user.deliver_many(corpus.generate(NEW_IN_POLL, self.args.seed, start=start))
                    samples.append(inst.sync())
                    self.check(inst, before + NEW_IN_POLL)
                self.record(tool, "poll_10_new", NEW_IN_POLL, samples)

    def scenario_exclude_before(self) -> None:
        n = self.args.messages
        old = corpus.generate(n, self.args.seed, old_share=OLD_SHARE)
        cutoff = corpus.cutoff_date().isoformat()
        for tool in self.tools("exclude_before"):
            with self.attempt(tool, "exclude_before"):
                samples = []
                for r in range(self.args.repeats):
                    inst, sample = self.fresh_sync(tool, f"cutoff{r}", old, exclude_before=cutoff)
                    samples.append(sample)
                    self.check(inst, n)
                    skipped = inst.reports[-1]["skipped_before_cutoff"]
                row = self.record(tool, "exclude_before", n, samples)
                sync = next((x for x in self.rows if x.tool == tool and x.scenario == "first_sync"), None)
                if sync:
                    say(f"  {'':<19} {skipped} of {n} before {cutoff}; {row.wall_s / sync.wall_s:.2f}x its first_sync")

    def scenario_big_message(self) -> None:
        big = [corpus.big_message(self.args.seed)]
        for tool in self.tools("big_message"):
            with self.attempt(tool, "big_message"):
                samples = []
                for r in range(self.args.repeats):
                    inst, sample = self.fresh_sync(tool, f"big{r}", big)
                    samples.append(sample)
                    self.check(inst, 1)
                self.record(tool, "big_message", 1, samples)
        say(f"  ({len(big[0]) / 1e6:.1f} MB on the wire)")

    # ----------------------------------------------------------------- the run
    def run(self) -> list[Row]:
        args = self.args
        t_start = time.perf_counter()
        launcher = start_launcher()  # before anything big is in memory
        self.missing = missing_programs(args.tools)
        for tool, why in self.missing.items():
            say(f"SKIPPED {tool}: {why}")
        root, where = work_root(args.dir)
        (root / "dovecot").mkdir(mode=0o755)
        (root / "tools").mkdir()
        say(f"Mailroom benchmark: {args.messages} messages, seed {args.seed}, repeats {args.repeats}; "
            f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}")
        say(f"  {where}")
        say(f"  {compile_bytecode()}")
        certs = make_ca_and_server_cert(root / "certs")
        self.ca_file = certs.ca_crt
        self.dovecot = Dovecot(root / "dovecot", certs, {}, name="mailroom-bench")
        service = None
        try:
            self.dovecot.start()
            keyring_env, service, keyring_note = start_keyring(root)
            self.lab = Lab(root, self.dovecot, certs.ca_crt, keyring_env, profile=args.profile)
            fetchmail = _version(["fetchmail", "--version"]).removeprefix("This is fetchmail release ")
            say(f"  Dovecot {_version(['dovecot', '--version'])} on 127.0.0.1:{self.dovecot.pop3s_port} (POP3S); "
                f"{_version(['getmail', '--version'])}; fetchmail {fetchmail.split('+')[0]}")
            say(f"  {keyring_note}")
            t0 = time.perf_counter()
            self.mail = corpus.generate(args.messages, args.seed)
            say(f"  corpus: {len(self.mail)} messages, {sum(map(len, self.mail)) / 1e6:.1f} MB, "
                f"made in {time.perf_counter() - t0:.1f} s")
            for scenario in args.scenarios:
                say(f"{scenario}:")
                getattr(self, f"scenario_{scenario}")()
        finally:
            if service is not None:
                service.stop()
            self.dovecot.stop()
            launcher.close()
            if args.keep:
                say(f"work files kept in {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
        say(f"total {time.perf_counter() - t_start:.0f} s")
        return self.rows
