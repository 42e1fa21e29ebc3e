#!/usr/bin/python3
"""Where a proxy's CPU goes: for PgBouncer and Sluice under the same pgbench load, per
transaction, the proxy's user and system (kernel) CPU time, its context switches and system
calls, and how much of the machine stayed idle; direct PostgreSQL runs too, for the idle
share without a proxy. Tells whether a proxy's cost is its own code (user time) or the
kernel's loopback TCP path and wake-ups (system time), which no proxy can avoid. The
machine's CPU per transaction (every process) gives each proxy's ceiling: the share of
direct's TPS its own CPU per transaction leaves room for when the cores are the limit.

    bench/cpu_split.py [--rounds 4] [--seconds 8] [-- -S -c 16]

Same settings and harness as bench/ab.py (pool size 20, transaction mode, plain TCP on
127.0.0.1, scale 16, pgbench -j 2), interleaved rounds, medians. System calls are counted
with `perf stat` when perf is installed and allowed (root, or perf_event_paranoid <= 0);
otherwise that column says "n/a". Reads /proc only otherwise."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests" / "integration"))
sys.path.insert(0, str(BENCH_DIR))

from harness import install_signal_handlers, run_pgbench, stop_all  # noqa: E402

import ab  # noqa: E402
import pgbench_run  # noqa: E402
import procstat  # noqa: E402
import suite  # noqa: E402

TARGETS = ("direct", "pgbouncer", "sluice")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sluice", type=Path,
                   default=Path(os.environ.get("SLUICE_BIN", BENCH_DIR.parent / "build/sluice")))
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=int, default=8, help="pgbench -T per run")
    p.add_argument("--scale", type=int, default=16, help="pgbench -i -s")
    p.add_argument("pgbench", nargs="*", default=["-S", "-c", "16"],
                   help="pgbench arguments, after -- (default: -S -c 16)")
    args = p.parse_args(argv)
    if not args.sluice.exists():
        p.error(f"{args.sluice} does not exist: build it first (make build)")
    return args


class SyscallCounter:
    """`perf stat -e raw_syscalls:sys_enter` on one process for the length of a run."""

    def __init__(self, pid: int):
        fd, path = tempfile.mkstemp(prefix="sluice-cpu-split-")
        os.close(fd)  # perf writes the file by its name
        self.out = Path(path)
        self.proc = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", str(pid),
             "-o", str(self.out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> int | None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        try:
            for line in self.out.read_text().splitlines():
                if "raw_syscalls:sys_enter" in line and line.split(",")[0].isdigit():
                    return int(line.split(",")[0])
            return None
        finally:
            self.out.unlink(missing_ok=True)


def perf_usable() -> bool:
    """Whether perf can count this machine's system calls (a probe on `true`)."""
    if not shutil.which("perf"):
        return False
    probe = subprocess.run(["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "true"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and "raw_syscalls:sys_enter" in probe.stderr \
        and probe.stderr.split(",")[0].isdigit()


def measure(port: int, pid: int | None, args: argparse.Namespace, count_syscalls: bool) -> dict:
    """One pgbench run; the proxy's (pid's) figures per transaction, the machine's idle %."""
    before = (procstat.user_system_seconds(pid), procstat.context_switches(pid)) if pid else None
    counter = SyscallCounter(pid) if pid and count_syscalls else None
    ticks0 = procstat.machine_idle_ticks()
    result = pgbench_run.run_pgbench(port, [*args.pgbench, "-j", "2"], user=suite.USER,
                                     dbname=suite.DB, duration=args.seconds)
    ticks1 = procstat.machine_idle_ticks()
    syscalls = counter.stop() if counter else None
    if not result.ok:  # as PgBouncer 1.18 does at -M prepared: a row without figures
        return {"failed": result.reason}
    tx = max(result.transactions, 1)
    all_ticks, idle_ticks = ticks1[0] - ticks0[0], ticks1[1] - ticks0[1]
    row = {"tps": result.tps, "idle_pct": 100.0 * idle_ticks / max(all_ticks, 1),
           "machine_us": (all_ticks - idle_ticks) / os.sysconf("SC_CLK_TCK") * 1e6 / tx}
    if before:
        (user0, sys0), switches0 = before
        user1, sys1 = procstat.user_system_seconds(pid)
        row |= {"user_us": (user1 - user0) * 1e6 / tx, "sys_us": (sys1 - sys0) * 1e6 / tx,
                "switches": (procstat.context_switches(pid) - switches0) / tx}
        if syscalls is not None:
            row["syscalls"] = syscalls / tx
    return row


def round_summary(row: dict) -> str:
    return f"fails ({row['failed']})" if "failed" in row else f"{row['tps']:.0f} TPS"


def median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else None


def paired(rows_a: list[dict], rows_b: list[dict], key: str) -> float | None:
    """Median over rounds of a's value over b's in the same round (as report.paired_ratio)."""
    ratios = [a[key] / b[key] for a, b in zip(rows_a, rows_b) if a.get(key) and b.get(key)]
    return statistics.median(ratios) if ratios else None


def ceiling_to_direct(direct_machine_us: float | None, proxy_us: float | None) -> float | None:
    """The most TPS, as a share of direct's, that a proxy using proxy_us of CPU per transaction
    allows when the cores are the limit: direct spends direct_machine_us of the machine's CPU
    (every process) per transaction; through the proxy each transaction costs that plus the
    proxy's own, even if the proxy leaves no core idle and costs the others nothing more."""
    if not direct_machine_us or proxy_us is None:
        return None
    return direct_machine_us / (direct_machine_us + proxy_us)


def report(runs: dict[str, list[dict]], args: argparse.Namespace) -> str:
    def cell(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    lines = [f"pgbench {' '.join(args.pgbench)} -j 2, {args.rounds} rounds x {args.seconds} s,"
             " medians; per transaction: the proxy's user and system CPU (us), context"
             " switches and system calls; the whole machine's CPU (us, every process) and its"
             " idle share during the run", "",
             "| target | TPS | user us | system us | context switches | system calls "
             "| machine us | idle % |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in TARGETS:
        rows = runs[name]
        failed = bool(rows) and all("failed" in r for r in rows)
        lines.append(f"| {name} | {'fails' if failed else cell(median(rows, 'tps'), '.0f')} | "
                     f"{cell(median(rows, 'user_us'), '.2f')} | "
                     f"{cell(median(rows, 'sys_us'), '.2f')} | "
                     f"{cell(median(rows, 'switches'), '.3f')} | "
                     f"{cell(median(rows, 'syscalls'), '.2f')} | "
                     f"{cell(median(rows, 'machine_us'), '.1f')} | "
                     f"{cell(median(rows, 'idle_pct'), '.1f')} |")
    ratios = {key: paired(runs["sluice"], runs["pgbouncer"], key)
              for key in ("tps", "user_us", "sys_us", "switches", "syscalls", "machine_us")}
    lines.append(f"| Sluice / PgBouncer | {cell(ratios['tps'], '.3f')} | "
                 f"{cell(ratios['user_us'], '.3f')} | {cell(ratios['sys_us'], '.3f')} | "
                 f"{cell(ratios['switches'], '.3f')} | {cell(ratios['syscalls'], '.3f')} | "
                 f"{cell(ratios['machine_us'], '.3f')} | |")
    lines += ["", "TPS as a share of direct's: measured, and the most the proxy's own CPU per"
              " transaction allows while the cores are the limit (ceiling_to_direct)", "",
              "| proxy | measured | ceiling |", "| --- | ---: | ---: |"]
    direct_machine_us = median(runs["direct"], "machine_us")
    for name in TARGETS[1:]:
        rows = runs[name]
        user, system = median(rows, "user_us"), median(rows, "sys_us")
        own = None if user is None or system is None else user + system
        lines.append(f"| {name} | {cell(paired(rows, runs['direct'], 'tps'), '.3f')} | "
                     f"{cell(ceiling_to_direct(direct_machine_us, own), '.3f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    install_signal_handlers()
    count_syscalls = perf_usable()
    try:
        pg = ab.start_pgbench_database(args.scale)
        if pg is None:
            return 1
        bouncer = ab.start_pgbouncer(pg)
        sluice = ab.start_sluice(pg, args.sluice, 0, "sluice")
        ports = {"direct": (pg.port, None), "pgbouncer": (bouncer.port, bouncer.proc.pid),
                 "sluice": (sluice.port, sluice.proc.pid)}
        for port, _ in ports.values():
            run_pgbench(port, ab.WARMUP_ARGS, user=suite.USER, dbname=suite.DB,
                        sslmode="disable", timeout=100)
        runs: dict[str, list[dict]] = {name: [] for name in TARGETS}
        for r in range(args.rounds):
            for name in suite.round_order(list(TARGETS), r):
                runs[name].append(measure(*ports[name], args, count_syscalls))
            print(f"round {r + 1}: " + ", ".join(
                f"{name} {round_summary(runs[name][-1])}" for name in TARGETS), flush=True)
        print()
        print(report(runs, args))
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
