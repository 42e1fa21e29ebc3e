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


def user_system_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU of one process (all its threads), apart."""
    f = _stat_fields(pid)
    return int(f[11]) / CLOCK_TICKS, int(f[12]) / CLOCK_TICKS


def context_switches(pid: int) -> int:
    """Voluntary and involuntary context switches of every live thread of a process: how
    often it went to sleep waiting for work (or was preempted), each a trip through the
    scheduler."""
    total = 0
    for task in os.scandir(f"/proc/{pid}/task"):
        try:
            for line in Path(task.path, "status").read_text().splitlines():
                if "ctxt_switches:" in line:  # voluntary_ and nonvoluntary_
                    total += int(line.split(":")[1])
        except OSError:
            pass  # the thread exited meanwhile
    return total


def machine_idle_ticks() -> tuple[int, int]:
    """(all CPU ticks, idle + iowait ticks) of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]
