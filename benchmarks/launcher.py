"""A small process that starts the measured programs, so that their peak RSS is theirs.

Linux records, at exec, the peak RSS of the memory image being replaced into the new
program's ru_maxrss - and that image is the parent's (fork or vfork). Started from the
benchmark process, which holds the whole corpus, every tool would "peak" at hundreds
of MB. So the measured programs are forked from this process instead, started before
the corpus exists, run without site-packages and holding nothing; its own RSS is the
floor under every figure (`floor_kb` in its greeting).

Protocol, one JSON object per line: in {"argv", "env", "cwd", "stdin", "stdout",
"stderr"} (the last three are file paths) and optionally "cpus" (the CPUs the program
may run on); out {"status", "wall_s", "cpu_s", "maxrss_kb"}.
"""

import json
import os
import resource
import sys
import time


def spawn(job: dict) -> dict:
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(job["cwd"])
            if job.get("cpus"):
                os.sched_setaffinity(0, job["cpus"])
            for fd, path, flags in ((0, job["stdin"], os.O_RDONLY),
                                    (1, job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                    (2, job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)):
                f = os.open(path, flags, 0o600)
                os.dup2(f, fd)
                os.close(f)
            os.execve(job["argv"][0], job["argv"], job["env"])
        finally:
            os._exit(127)
    _pid, status, usage = os.wait4(pid, 0)
    return {"status": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - t0,
            "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}


def main() -> None:
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"floor_kb": floor}), flush=True)
    for line in sys.stdin:
        print(json.dumps(spawn(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
