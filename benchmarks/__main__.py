"""`python -m benchmarks [--messages N] [--json FILE] [--only TOOL,...]` (see README.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks import report
from benchmarks.runner import SCENARIOS, Bench
from benchmarks.tools import ALL


def _names(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
        return [n for n in allowed if n in names]  # the canonical order
    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Mailroom against getmail6, "
                                     "fetchmail and a raw poplib floor on a private Dovecot (POP3S).")
    parser.add_argument("--messages", type=int, default=2000, metavar="N",
                        help="messages per mailbox for first_sync and exclude_before (default 2000)")
    parser.add_argument("--only", type=_names(ALL, "tool"), default=list(ALL), dest="tools", metavar="TOOL,...",
                        help=f"run only these tools ({', '.join(ALL)})")
    parser.add_argument("--scenarios", type=_names(SCENARIOS + ("web",), "scenario"), default=list(SCENARIOS),
                        metavar="NAME,...", help=f"run only these scenarios ({', '.join(SCENARIOS)}; and `web`, "
                        "the page and the idle app, only when named)")
    parser.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="runs per tool and scenario, the median is reported (default 1; "
                             "first_sync, exclude_before and big_message use a fresh mailbox each time)")
    parser.add_argument("--idle-repeats", type=int, default=5, metavar="R",
                        help="runs of poll_idle, which is cheap (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results as a JSON list")
    parser.add_argument("--dir", metavar="DIR", help="work folder (default: /dev/shm if present, else the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (mail, databases, logs)")
    parser.add_argument("--profile", action="store_true",
                        help="run mailroom-inprocess under pyinstrument (reports in the work folder's "
                             "logs/, use with --keep; its times then include the profiler)")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.repeats < 1:
        parser.error("--messages and --repeats must be at least 1")

    web_lines = []
    if "web" in args.scenarios:
        from benchmarks import web

        args.scenarios = [s for s in args.scenarios if s != "web"]
        web_lines = web.run(args)
    if args.scenarios:
        rows = Bench(args).run()
        print()
        print(report.table(rows))
        print()
        print(report.targets(rows, args.messages))
        if args.json:
            report.write_json(rows, args.json)
            print(f"results written to {args.json}")
    if web_lines:
        print()
        print("\n".join(web_lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
