"""A private, throwaway Dovecot for the tests and the benchmarks: POP3 (+STLS), POP3S, IMAPS.

Every instance writes its own config under its own root directory; nothing is read from
/etc/dovecot and nothing outside the root is written. Ports are picked free at start.
Mail is delivered by writing Maildir files directly (tmp/ then rename into new/), which
Dovecot sees at once.

Running as root: Dovecot refuses to touch mail as uid 0, so mail belongs to `nobody`, and
its auth process runs as the packaged `dovecot` user. Both must reach the root directory,
so it must be 0755 all the way down: pytest's tmp_path (under the 0700
/tmp/pytest-of-root) does not work; `make_root_dir()` gives a suitable one.

This module never signals a process it did not start: stop() kills only the process
group of its own `dovecot -F`.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from .certs import CertPaths
from .ports import HOST, free_port, wait_greeting

_DH_PEM = Path("/usr/share/dovecot/dh.pem")  # shipped by Debian's dovecot-core
_LOGOUT = re.compile(
    r"pop3\((?P<user>[^)]*)\).*Logged out "
    r"top=(?P<top>\d+)/(?P<top_bytes>\d+), retr=(?P<retr>\d+)/(?P<retr_bytes>\d+), "
    r"del=(?P<dele>\d+)/(?P<msgs>\d+), size=(?P<size>\d+)"
)


def make_root_dir(prefix: str = "mailroom-dovecot-") -> Path:
    """A fresh 0755 directory in the system temp dir (reachable by Dovecot's users)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


def find_dovecot() -> str:
    exe = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if exe is None:
        raise RuntimeError(
            "dovecot is not installed (Debian/Ubuntu: dovecot-pop3d dovecot-imapd; tests/run.sh installs them)"
        )
    return exe


def living_group_members(pgid: int, names: tuple[str, ...] | None = None) -> list[int]:
    """Pids in process group `pgid` that are not zombies, optionally only those with a
    command name in `names` (Linux /proc; [] elsewhere)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
            state, _ppid, pgrp = tail.split()[:3]
        except (OSError, ValueError):
            continue  # gone meanwhile
        comm = head.split("(", 1)[-1]
        if int(pgrp) == pgid and state not in ("Z", "X") and (names is None or comm in names):
            members.append(int(stat.parent.name))
    return members


def kill_process_group(proc: subprocess.Popen, timeout: float = 2.0) -> None:
    """SIGKILL the group of a child started with start_new_session=True; wait until it is dead.

    Only the leader is our child; the others die a moment later (and init reaps them).
    Waiting for that matters: a dying login process still holds the listening sockets, and
    a restart on the same ports would fail.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + timeout
    while living_group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class MailUser:
    """A Dovecot user and its mailbox, with the instance's mail helpers bound to it."""

    name: str
    password: str
    dovecot: Dovecot = dataclasses.field(repr=False)

    @property
    def address(self) -> str:
        return f"{self.name}@localhost"

    def deliver(self, raw: bytes) -> str:
        return self.dovecot.deliver(self.name, raw)

    def deliver_many(self, messages: Iterable[bytes]) -> list[str]:
        return self.dovecot.deliver_many(self.name, messages)

    def clear(self) -> None:
        self.dovecot.clear(self.name)

    def message_count(self) -> int:
        return self.dovecot.message_count(self.name)

    def pop3_logouts(self) -> list[dict[str, int]]:
        return self.dovecot.pop3_logouts(self.name)

    def wait_pop3_logouts(self, count: int, timeout: float = 5.0) -> list[dict[str, int]]:
        return self.dovecot.wait_pop3_logouts(self.name, count, timeout)


class Dovecot:
    """One Dovecot instance.

    Variants, for the tests that need a server to misbehave in a real way:
    - `tls=False`: `ssl = no` for the whole instance, so POP3 does not offer STLS and there
      is no POP3S/IMAPS (`pop3s_port`/`imaps_port` are None). Dovecot cannot switch STLS
      off for one listener only, hence a separate instance.
    - `untrusted=True`: serves the self-signed "Untrusted Test CA" certificate.
    - `uidl_format`: Dovecot's pop3_uidl_format (RFC 1939 UIDL). Change it and restart
      (stop(); start()) to serve the same mail under new UIDLs, e.g. "%g" (for Maildir:
      the file's base name) or "%v.%u". ("%m" is not supported by Maildir.)
    Dovecot cannot switch UIDL off (a pop3_uidl_format without variables is a fatal config
    error); tests.servers.scripted covers a server without UIDL.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        certs: CertPaths,
        users: dict[str, str],
        *,
        tls: bool = True,
        untrusted: bool = False,
        uidl_format: str = "%08Xu%08Xv",
        name: str = "mailroom-test",
    ) -> None:
        self.root = Path(root).resolve()
        self.certs = certs
        self.users = dict(users)
        self.tls = tls
        self.untrusted = untrusted
        self.uidl_format = uidl_format
        self.name = name
        self.host = HOST
        self.conf = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self._passwd_dir = self.root / "passwd.d"
        self.pop3_port: int | None = None
        self.pop3s_port: int | None = None
        self.imaps_port: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._seq = itertools.count()
        self._user_seq = itertools.count(1)
        if os.getuid() == 0:
            mail = pwd.getpwnam("nobody")
            self.mail_uid, self.mail_gid = mail.pw_uid, mail.pw_gid
            self.internal_user = "dovecot" if _user_exists("dovecot") else "nobody"
            self.login_user = "dovenull" if _user_exists("dovenull") else "nobody"
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            self.internal_user = self.login_user = pwd.getpwuid(os.getuid()).pw_name
        self._check_root_reachable()

    # ---------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 15.0) -> float:
        """Write the config, run `dovecot -F`, wait for the greetings; return the seconds taken.

        Ports are chosen on the first start and kept, so stop() + start() comes back on
        the same ports.
        """
        if self.is_running():
            raise RuntimeError("this Dovecot is already running")
        exe = find_dovecot()
        if self.pop3_port is None:
            self.pop3_port = free_port()
            if self.tls:
                self.pop3s_port, self.imaps_port = free_port(), free_port()
        self._write_files()
        t0 = time.monotonic()
        with open(self.root / "dovecot.out", "ab") as out:
            self._proc = subprocess.Popen(
                [exe, "-F", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills exactly it
            )
        try:
            self._wait_ready(t0 + timeout)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)  # a script that dies early must not leave Dovecot behind
        self.startup_seconds = time.monotonic() - t0
        return self.startup_seconds

    def stop(self, grace: float = 0.5) -> None:
        """Kill this instance's process group (milliseconds; SIGTERM would take a second).

        A POP3 process answers QUIT first and updates dovecot-uidlist just after; killing
        it then leaves a stale dotlock that holds the next session ~2 s. So the mail
        processes get `grace` seconds to finish, and dotlocks left anyway are removed
        (no Dovecot process is alive by then). grace=0 is a crash.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and living_group_members(proc.pid, ("pop3", "imap")):
            time.sleep(0.005)
        kill_process_group(proc)
        for lock in (self.root / "mail").glob("*/Maildir/**/*.lock"):
            lock.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop and delete the root directory with all mail."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- users and mail

    def add_user(self, name: str, password: str) -> None:
        """Add a user, usable at once. (Changing a known user's password may take a second.)"""
        self.users[name] = password
        self._make_maildir(name)
        self._write_passwd_file(name)

    def new_user(self, hint: str = "box") -> MailUser:
        """A user no one has used before (a fresh, empty mailbox); `hint` starts its name."""
        clean = re.sub(r"[^a-z0-9]+", "", hint.lower())[:24] or "box"
        n = next(self._user_seq)
        name = f"{clean}{n}"
        while name in self.users:
            n = next(self._user_seq)
            name = f"{clean}{n}"
        password = f"pw-{name}-{secrets.token_hex(4)}"
        self.add_user(name, password)
        return MailUser(name, password, self)

    def home(self, user: str) -> Path:
        return self.root / "mail" / user

    def maildir(self, user: str) -> Path:
        return self.home(user) / "Maildir"

    def deliver(self, user: str, raw: bytes) -> str:
        """Put one message in the user's Maildir/new; return its file name."""
        if user not in self.users:
            raise KeyError(f"no Dovecot user {user!r}")
        md = self.maildir(user)
        name = f"{time.time_ns() // 1000}.M{next(self._seq)}P{os.getpid()}.{socket.gethostname()}"
        tmp = md / "tmp" / name
        tmp.write_bytes(raw)
        if os.getuid() == 0:
            os.chown(tmp, self.mail_uid, self.mail_gid)
        os.rename(tmp, md / "new" / name)  # atomic: Dovecot never sees half a message
        return name

    def deliver_many(self, user: str, messages: Iterable[bytes]) -> list[str]:
        return [self.deliver(user, raw) for raw in messages]

    def clear(self, user: str) -> None:
        """Delete every message of the user, keeping Dovecot's UID list.

        Keeping dovecot-uidlist matters: a wiped mailbox recreated within the same second
        gets the same UIDVALIDITY, and new messages would then reuse old UIDLs.
        """
        for sub in ("new", "cur", "tmp"):
            for f in (self.maildir(user) / sub).iterdir():
                f.unlink(missing_ok=True)

    def message_count(self, user: str) -> int:
        md = self.maildir(user)
        return sum(1 for sub in ("new", "cur") for _ in (md / sub).iterdir())

    def __repr__(self) -> str:
        return f"<Dovecot {self.root} pop3={self.pop3_port} pop3s={self.pop3s_port} imaps={self.imaps_port}>"

    # ---------------------------------------------------------------- the log

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def pop3_logouts(self, user: str | None = None) -> list[dict[str, int]]:
        """One dict per finished POP3 session (optionally of one user), from the log.

        Keys: top, top_bytes, retr, retr_bytes, dele, msgs, size (pop3_logout_format's
        %t %p %r %b %d %m %s). Only sessions that ended are logged; see wait_pop3_logouts().
        """
        found = []
        for m in _LOGOUT.finditer(self.log_text()):
            if user is None or m["user"] == user:
                found.append({k: int(v) for k, v in m.groupdict().items() if k != "user"})
        return found

    def wait_pop3_logouts(self, user: str, count: int, timeout: float = 5.0) -> list[dict[str, int]]:
        """pop3_logouts(user) once it holds at least `count` sessions (the log lags the client)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.pop3_logouts(user)
            if len(found) >= count or time.monotonic() > deadline:
                if len(found) < count:
                    raise TimeoutError(f"{len(found)} POP3 logouts of {user!r} logged, expected {count}")
                return found
            time.sleep(0.01)

    # ---------------------------------------------------------------- internals

    def _check_root_reachable(self) -> None:
        if os.getuid() != 0:
            return
        for d in (self.root, *self.root.parents):
            if d.exists() and not d.stat().st_mode & 0o001:
                raise RuntimeError(
                    f"Dovecot's root {self.root} is not reachable by its unprivileged users: "
                    f"{d} is not world-searchable (pytest's /tmp/pytest-of-root is 0700); "
                    "use tests.servers.dovecot.make_root_dir()"
                )

    def _make_maildir(self, user: str) -> None:
        for sub in ("new", "cur", "tmp"):
            (self.maildir(user) / sub).mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            for d in (self.home(user), *(p for p in self.home(user).rglob("*") if p.is_dir())):
                os.chown(d, self.mail_uid, self.mail_gid)

    def _write_passwd_file(self, user: str) -> None:
        # One passwd-file per user (the passdb path holds %u): Dovecot re-checks a known
        # file at most once a second, but a new user's file is read on first use, so
        # add_user() takes effect at once.
        path = self._passwd_dir / user.lower()  # auth_username_format = %Lu
        tmp = path.with_name(path.name + ".tmp")
        # user:password:uid:gid:gecos:home:shell; Dovecot looks the name up with its
        # backslashes escaped (%u in username_format), so "CORP\\user" is stored doubled.
        key = user.lower().replace("\\", "\\\\")
        tmp.write_text(f"{key}:{{PLAIN}}{self.users[user]}:{self.mail_uid}:{self.mail_gid}::{self.home(user)}::\n")
        tmp.chmod(0o644)
        os.replace(tmp, path)

    def _write_files(self) -> None:
        self.root.chmod(0o755)
        for d in ("run", "state", "mail"):
            (self.root / d).mkdir(exist_ok=True)
        (self.root / "mail").chmod(0o755)
        self._passwd_dir.mkdir(exist_ok=True)
        for u in self.users:
            self._make_maildir(u)
            self._write_passwd_file(u)
        self.conf.write_text(self._config())

    def _config(self) -> str:
        r = self.root
        internal_group = grp.getgrgid(pwd.getpwnam(self.internal_user).pw_gid).gr_name
        if self.tls:
            crt = self.certs.untrusted_crt if self.untrusted else self.certs.server_crt
            key = self.certs.untrusted_key if self.untrusted else self.certs.server_key
            dh = f"ssl_dh = <{_DH_PEM}\n" if _DH_PEM.exists() else ""
            ssl_conf = f"ssl = yes\nssl_cert = <{crt}\nssl_key = <{key}\n{dh}"
            pop3s = f"inet_listener pop3s {{\n    port = {self.pop3s_port}\n    ssl = yes\n  }}"
            imaps = f"inet_listener imaps {{\n    port = {self.imaps_port}\n    ssl = yes\n  }}"
        else:
            ssl_conf, pop3s, imaps = "ssl = no\n", "", ""
        return f"""\
# Generated by tests/servers/dovecot.py: a private test instance, nothing from /etc/dovecot.
instance_name = {self.name}-{os.getpid()}-{r.name}
base_dir = {r}/run
state_dir = {r}/state
protocols = pop3 imap
listen = {HOST}
auth_verbose = yes
log_path = {self.log_path}
info_log_path = {self.log_path}
login_greeting = Mailroom test Dovecot ready.
default_internal_user = {self.internal_user}
default_internal_group = {internal_group}
default_login_user = {self.login_user}
first_valid_uid = 1
first_valid_gid = 1
{ssl_conf}
# localhost counts as secure for Dovecot anyway; say so explicitly for the ssl=no variant
disable_plaintext_auth = no
auth_mechanisms = plain login
# the default set plus a backslash, for Exchange-style DOMAIN\\user logins
auth_username_chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@\\\\"
# the default 2 s delay would slow every wrong-password test
auth_failure_delay = 0
mail_location = maildir:~/Maildir
# benchmarks open many sessions at once
mail_max_userip_connections = 100
# RFC 1939 UIDL; the default %08Xu%08Xv is UID + UIDVALIDITY in hex
pop3_uidl_format = {self.uidl_format}
# the per-session counts that tests read back (Dovecot's default format)
pop3_logout_format = top=%t/%p, retr=%r/%b, del=%d/%m, size=%s
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self._passwd_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self._passwd_dir}/%u
}}
service anvil {{
  chroot =
  # anvil's per-IP auth penalty holds the next GOOD login after a failure for 2-15 s
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {self.pop3_port}
  }}
  {pop3s}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  {imaps}
}}
"""

    def _wait_ready(self, deadline: float) -> None:
        waits: list[tuple[int, bytes, ssl.SSLContext | None]] = [(self.pop3_port, b"+OK", None)]
        if self.tls:
            # readiness only: the certificate is checked by the tests, not here
            tls = ssl.create_default_context()
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
            waits += [(self.pop3s_port, b"+OK", tls), (self.imaps_port, b"* OK", tls)]
        for port, prefix, ctx in waits:
            while True:
                if self._proc is None or self._proc.poll() is not None:
                    raise RuntimeError(f"dovecot exited at start-up:\n{self._diagnostics()}")
                try:
                    wait_greeting(port, prefix, timeout=0.2, ssl_context=ctx)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"dovecot did not greet on port {port}:\n{self._diagnostics()}") from None

    def _diagnostics(self) -> str:
        try:
            out = (self.root / "dovecot.out").read_text(errors="replace")
        except FileNotFoundError:
            out = ""
        return f"--- {self.conf}\n--- output:\n{out}\n--- log:\n{self.log_text()[-4000:]}"
