"""The tools under comparison, each set up on its own copy of a mailbox.

A `Tool` makes an `Instance`: the tool's private state (data folder, rc file, seen-UID
file, output folder) for one Dovecot user. `Instance.sync()` runs the tool once, as a
separate process measured on its own, and `Instance.stored()` counts what it kept, so a
misconfigured tool cannot look fast by doing nothing.

    mailroom            `mailroom fetch --once --json`, the whole process
    mailroom-inprocess  one MailboxRun(...).run() in an already-started process
    getmail6            getmail with SimplePOP3SSLRetriever into a Maildir
    fetchmail           fetchmail, keep + uidl, an MDA writing one file per message
    floor               poplib RETR of every message into files, no parsing
"""

from __future__ import annotations

import getpass
import json
import os
import pwd
import shutil
import sys
from pathlib import Path

from benchmarks.measure import Sample, run_child
from tests.helpers import mailbox, settings, write_toml
from tests.servers.dovecot import MailUser

REPO = Path(__file__).resolve().parent.parent
DESCRIPTION = "Bench"

ALL = ("mailroom", "mailroom-inprocess", "getmail6", "fetchmail", "floor")
INSTALL_HINT = "apt-get install getmail6 fetchmail"


class Lab:
    """What every tool needs: the server, the CA to trust, a keyring, where to write."""

    def __init__(self, root: Path, dovecot, ca_file: Path, keyring_env: dict[str, str], profile: bool = False):
        self.root = root
        self.profile = profile
        self.dovecot = dovecot
        self.ca_file = ca_file
        self.keyring_env = keyring_env
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.base_env = {**os.environ, "PYTHONPATH": str(REPO)}


class Instance:
    tool: str

    def __init__(self, lab: Lab, user: MailUser, state: Path):
        self.lab, self.user, self.state = lab, user, state
        state.mkdir(parents=True)
        self.log = lab.logs / f"{state.name}.log"

    def sync(self) -> Sample:
        raise NotImplementedError

    def stored(self) -> int:
        raise NotImplementedError

    def known_fault(self) -> str | None:
        """After a failed sync: a known fault of the tool itself (not of the setup) that a
        run on a fresh mailbox gets past, in words; None for any other failure."""
        return None


# --------------------------------------------------------------------------- Mailroom

def mailroom_command() -> list[str]:
    script = Path(sys.executable).with_name("mailroom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mailroom"]


class MailroomInstance(Instance):
    tool = "mailroom"

    def __init__(self, lab: Lab, user: MailUser, state: Path, *, exclude_before: str | None = None):
        super().__init__(lab, user, state)
        self.home = state / "home"
        self.home.mkdir(mode=0o700)
        self.env = {**lab.base_env, **lab.keyring_env, "MAILROOM_HOME": str(self.home)}
        fields = dict(leave_on_server=True, create_tasks=True, task_type="Inquiry", task_status="New",
                      department="Front desk")
        if exclude_before:
            fields["exclude_before"] = exclude_before
        box = mailbox(DESCRIPTION, port=lab.dovecot.pop3s_port, user=user.name, email=user.address,
                      ca_file=lab.ca_file, **fields)
        doc = settings(mailboxes=[box], task_types=[{"name": "Inquiry"}], task_statuses=[{"name": "New"}],
                       departments=[{"name": "Front desk"}])
        toml = write_toml(state / "settings.toml", doc)
        run_child([*mailroom_command(), "config", "import", str(toml)], env=self.env, log=self.log)
        run_child([*mailroom_command(), "password", "set", "mailbox", DESCRIPTION], env=self.env,
                  log=self.log, stdin=user.password + "\n")
        self.reports: list[dict] = []

    def sync(self) -> Sample:
        sample = run_child([*mailroom_command(), "fetch", "--once", "--json", "--mailbox", DESCRIPTION],
                           env=self.env, log=self.log)
        self.reports.append(json.loads(sample.stdout)["mailboxes"][0])
        return sample

    def stored(self) -> int:
        return sum(r["imported"] + r["duplicates"] + r["skipped_before_cutoff"] for r in self.reports)


class InprocessInstance(MailroomInstance):
    tool = "mailroom-inprocess"

    def sync(self) -> Sample:
        profiler = []
        if self.lab.profile:
            # pyinstrument's report of the whole child (the timed part is MailboxRun.run)
            report = self.lab.logs / f"{self.state.name}-{len(self.reports) + 1}.pyinstrument.txt"
            profiler = ["-m", "pyinstrument", "-r", "text", "-o", str(report)]
        argv = [sys.executable, *profiler, "-m", "benchmarks.inprocess", DESCRIPTION]
        child = run_child(argv, env=self.env, cwd=REPO, log=self.log)
        result = json.loads(child.stdout)
        self.reports.append(result["report"])
        return Sample(result["wall_s"], result["cpu_s"], result["peak_rss_mb"], child.stdout)


# --------------------------------------------------------------------------- getmail6

class GetmailInstance(Instance):
    tool = "getmail6"

    def __init__(self, lab: Lab, user: MailUser, state: Path):
        super().__init__(lab, user, state)
        self.maildir = state / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        # getmail refuses to deliver as root; it then switches to `user` for each delivery
        as_user = ""
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for d in (self.maildir, *self.maildir.iterdir()):
                os.chown(d, nobody.pw_uid, nobody.pw_gid)
            as_user = "user = nobody\n"
        self.rc = state / "getmailrc"
        self.rc.write_text(f"""\
[retriever]
type = SimplePOP3SSLRetriever
server = 127.0.0.1
port = {lab.dovecot.pop3s_port}
username = {user.name}
password = {user.password}
ca_certs = {lab.ca_file}

[destination]
type = Maildir
path = {self.maildir}/
{as_user}
[options]
read_all = false
delete = false
verbose = 0
""")
        self.rc.chmod(0o600)

    def sync(self) -> Sample:
        # On one core: getmail6 forks a child per delivery and waits for it, so it never
        # runs two at once anyway; on one core the child cannot exit before getmail starts
        # waiting for it, which is the race that loses a child (see known_fault). Dovecot
        # still has every core.
        return run_child([shutil.which("getmail"), "--rcfile", str(self.rc), "--getmaildir", str(self.state)],
                         env=self.lab.base_env, log=self.log, cpus=[min(os.sched_getaffinity(0))])

    def stored(self) -> int:
        return sum(1 for sub in ("new", "cur") for _ in (self.maildir / sub).iterdir())

    def known_fault(self) -> str | None:
        # getmail6 before 6.19 forks a child per delivery and installs its SIGCHLD handler
        # after the fork: a child that exits first is never seen, and getmail gives up
        # after 60 s ("waiting child pid ... timed out"; getmail6 issues #52, #226, #245;
        # 6.19 waits on the process instead). A busy machine makes it likelier.
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        if "waiting child pid" in tail and "timed out" in tail:
            return "getmail6 lost a delivery child (its SIGCHLD race, fixed in getmail6 6.19)"
        return None


# --------------------------------------------------------------------------- fetchmail

class FetchmailInstance(Instance):
    tool = "fetchmail"

    def __init__(self, lab: Lab, user: MailUser, state: Path):
        super().__init__(lab, user, state)
        self.out = state / "mail"
        self.out.mkdir()
        self.rc = state / "fetchmailrc"
        # The MDA line is run by /bin/sh once per message; $$ (the shell's pid) names the file.
        # fetchmail checks the certificate's CN only, not its IP address SAN: hence sslcommonname.
        self.rc.write_text(f"""\
set no syslog
poll 127.0.0.1 with proto POP3 port {lab.dovecot.pop3s_port} uidl
  user "{user.name}" there with password "{user.password}" is "{getpass.getuser()}" here
  options keep ssl sslcertck sslcertfile "{lab.ca_file}" sslcommonname localhost
  mda "cat > {self.out}/msg.$$"
""")
        self.rc.chmod(0o600)  # fetchmail refuses a readable rc file
        self.env = {**lab.base_env, "HOME": str(state), "FETCHMAILHOME": str(state)}

    def sync(self) -> Sample:
        # exit status 1 means "no new mail" (fetchmail(1), EXIT CODES)
        return run_child([shutil.which("fetchmail"), "--fetchmailrc", str(self.rc), "--idfile",
                          str(self.state / "fetchids"), "--nodetach", "--silent"],
                         env=self.env, log=self.log, ok=(0, 1))

    def stored(self) -> int:
        return sum(1 for _ in self.out.iterdir())


# --------------------------------------------------------------------------- floor

class FloorInstance(Instance):
    tool = "floor"

    def __init__(self, lab: Lab, user: MailUser, state: Path):
        super().__init__(lab, user, state)
        self.out = state / "mail"
        self.out.mkdir()
        self.env = {**lab.base_env, "BENCH_POP3_PASSWORD": user.password}

    def sync(self) -> Sample:
        return run_child([sys.executable, "-m", "benchmarks.floor", "127.0.0.1", str(self.lab.dovecot.pop3s_port),
                          self.user.name, str(self.lab.ca_file), str(self.out)],
                         env=self.env, cwd=REPO, log=self.log)

    def stored(self) -> int:
        return sum(1 for f in self.out.iterdir() if f.suffix == ".eml")


INSTANCES = {cls.tool: cls for cls in (MailroomInstance, InprocessInstance, GetmailInstance,
                                       FetchmailInstance, FloorInstance)}


def missing_programs(tools: list[str]) -> dict[str, str]:
    """tool → why it cannot run here."""
    missing = {}
    for tool, program in (("getmail6", "getmail"), ("fetchmail", "fetchmail")):
        if tool in tools and shutil.which(program) is None:
            missing[tool] = f"`{program}` is not installed (Debian/Ubuntu: {INSTALL_HINT})"
    return missing
