"""The results table, the issue's targets checked against it, and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from benchmarks.runner import Row


def _find(rows: list[Row], tool: str, scenario: str) -> Row | None:
    return next((r for r in rows if r.tool == tool and r.scenario == scenario), None)


def table(rows: list[Row]) -> str:
    head = f"{'scenario':<15} {'tool':<19} {'msgs':>6} {'wall s':>9} {'cpu s':>9} {'peak MB':>8} {'vs floor':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        floor = _find(rows, "floor", r.scenario)
        ratio = f"{r.wall_s / floor.wall_s:8.2f}x" if floor and floor.wall_s > 0 else ""
        lines.append(f"{r.scenario:<15} {r.tool:<19} {r.messages:>6} {r.wall_s:>9.3f} {r.cpu_s:>9.3f} "
                     f"{r.peak_rss_mb:>8.1f} {ratio:>9}")
    return "\n".join(lines)


# (description, needed rows, check → (met, figures))
Target = tuple[str, list[tuple[str, str]], Callable[..., tuple[bool, str]]]

TARGETS: list[Target] = [
    ("first_sync: mailroom <= 1/3 of fetchmail", [("mailroom", "first_sync"), ("fetchmail", "first_sync")],
     lambda m, f: (m.wall_s <= f.wall_s / 3, f"{m.wall_s:.2f} s vs {f.wall_s:.2f} s ({m.wall_s / f.wall_s:.2f}x)")),
    ("first_sync: mailroom <= 1/10 of getmail6", [("mailroom", "first_sync"), ("getmail6", "first_sync")],
     lambda m, g: (m.wall_s <= g.wall_s / 10, f"{m.wall_s:.2f} s vs {g.wall_s:.2f} s ({m.wall_s / g.wall_s:.3f}x)")),
    ("first_sync: mailroom <= 2x floor", [("mailroom", "first_sync"), ("floor", "first_sync")],
     lambda m, f: (m.wall_s <= 2 * f.wall_s, f"{m.wall_s:.2f} s vs {f.wall_s:.2f} s ({m.wall_s / f.wall_s:.2f}x)")),
    ("poll_idle: mailroom-inprocess <= 50 ms", [("mailroom-inprocess", "poll_idle")],
     lambda m: (m.wall_s <= 0.050, f"{m.wall_s * 1000:.1f} ms")),
    ("poll_idle: mailroom <= getmail6", [("mailroom", "poll_idle"), ("getmail6", "poll_idle")],
     lambda m, g: (m.wall_s <= g.wall_s, f"{m.wall_s:.3f} s vs {g.wall_s:.3f} s")),
    ("exclude_before: mailroom <= 0.3x its first_sync", [("mailroom", "exclude_before"), ("mailroom", "first_sync")],
     lambda e, s: (e.wall_s <= 0.3 * s.wall_s, f"{e.wall_s:.2f} s vs {s.wall_s:.2f} s ({e.wall_s / s.wall_s:.2f}x)")),
    ("big_message: mailroom peak RSS <= 120 MB", [("mailroom", "big_message")],
     lambda m: (m.peak_rss_mb <= 120, f"{m.peak_rss_mb:.1f} MB")),
]


def targets(rows: list[Row], messages: int) -> str:
    lines = [f"targets (set for 10,000 messages; this run: {messages}):"]
    for text, needed, check in TARGETS:
        found = [_find(rows, tool, scenario) for tool, scenario in needed]
        if None in found:
            lines.append(f"  n/a   {text} (not measured in this run)")
            continue
        met, figures = check(*found)
        lines.append(f"  {'met ' if met else 'MISS'}  {text}: {figures}")
    return "\n".join(lines)


def write_json(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps([r.as_dict() for r in rows], indent=2) + "\n", encoding="utf-8")
