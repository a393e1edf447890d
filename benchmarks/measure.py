"""Measure one child process: wall time, CPU time and peak RSS of that child alone.

`resource.getrusage(RUSAGE_CHILDREN)` accumulates over every child ever reaped, so each
child is reaped with `os.wait4(pid, 0)`, whose rusage is that child's own (plus the
descendants it reaped itself, such as fetchmail's MDA processes). The fork and the
wait4 happen in `launcher.py`, a small process of its own (see there why).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str = ""


class ChildFailed(RuntimeError):
    pass


class Launcher:
    """The launcher process; start it before allocating much memory."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-S", "-u", str(Path(__file__).with_name("launcher.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.floor_mb = json.loads(self.proc.stdout.readline())["floor_kb"] / 1024
        self.scratch = Path(tempfile.mkdtemp(prefix="mailroom-bench-io-"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def run(self, argv: list[str], *, env: dict[str, str], cwd: Path | None = None, log: Path | None = None,
            stdin: str | None = None, ok: tuple[int, ...] = (0,), cpus: list[int] | None = None) -> Sample:
        """Run `argv` to the end (on `cpus` only, when given); its stdout is returned, its
        stderr appended to `log`."""
        exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
        stdin_path, stdout_path = self.scratch / "stdin", self.scratch / "stdout"
        stdin_path.write_text(stdin or "")
        stdin_path.chmod(0o600)
        job = {"argv": [exe, *argv[1:]], "env": env, "cwd": str(cwd or Path.cwd()), "stdin": str(stdin_path),
               "stdout": str(stdout_path), "stderr": str(log or os.devnull), "cpus": cpus}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        result = json.loads(self.proc.stdout.readline())
        stdin_path.unlink()
        out = stdout_path.read_text("utf-8", "replace")
        sample = Sample(result["wall_s"], result["cpu_s"], result["maxrss_kb"] / 1024, out)
        if result["status"] not in ok:
            where = f"; see {log}" if log else ""
            raise ChildFailed(f"{argv[0]} exited with status {result['status']}{where}\n{out[-2000:]}")
        return sample


_launcher: Launcher | None = None


def start_launcher() -> Launcher:
    global _launcher
    _launcher = Launcher()
    return _launcher


def run_child(argv: list[str], **options) -> Sample:
    if _launcher is None:
        raise RuntimeError("start_launcher() first")
    return _launcher.run(argv, **options)
