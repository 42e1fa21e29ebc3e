"""CPU time of processes, read from /proc (Linux only)."""
from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces and parentheses):
    [0] state, [1] ppid, ..., [11] utime, [12] stime, [13] cutime, [14] cstime."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pid: int, *, waited_children: bool = False) -> float:
    """User + system CPU of one process, all its threads included; with `waited_children`,
    also what its children that exited (and were waited for) used."""
    f = _stat_fields(pid)
    ticks = int(f[11]) + int(f[12])
    if waited_children:
        ticks += int(f[13]) + int(f[14])
    return ticks / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and all its live descendants, plus what exited children used (for
    process-per-client servers such as Pgpool-II)."""
    total = cpu_seconds(pid, waited_children=True)
    for child in descendants(pid):
        try:
            total += cpu_seconds(child)
        except (OSError, ValueError, IndexError):
            pass  # exited between the scan and the read
    return total
