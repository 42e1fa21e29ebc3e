#!/usr/bin/python3
"""Instructions per transaction that Sluice executes in user space, counted by valgrind's
callgrind during a pgbench run: a measure of the proxy's own work that the machine's noise
does not move (TPS and CPU time on a small shared machine differ by 10-30% from round to
round, instruction counts by well under 1%). It tells whether a change to the hot path does
less work; bench/ab.py tells what that is worth in time.

    bench/instructions.py [--sluice /tmp/sluice-before build/sluice] [--transactions 1500]

Each build runs alone under callgrind in front of one PostgreSQL with the suite's settings
(pool size 20, transaction mode). A short pgbench run warms it up, the counters are zeroed,
and a pgbench -S run of --clients x --transactions is counted, for -M simple and -M
extended (--modes also takes prepared). Kernel time is not counted (most of a proxy's time, in the loopback TCP path).
Sluice runs on its epoll backend here, as valgrind does not follow io_uring's shared rings.
Calls to malloc per transaction are reported too: in steady state the relay should make
none."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests" / "integration"))
sys.path.insert(0, str(BENCH_DIR))

import harness.clients  # noqa: E402
from harness import PostgresServer, install_signal_handlers, run_pgbench, stop_all  # noqa: E402
from harness.util import server_workdir  # noqa: E402

import ab  # noqa: E402
import suite  # noqa: E402

MODES = ("simple", "extended", "prepared")
WARMUP_TRANSACTIONS = 200


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sluice", type=Path, nargs="+",
                   default=[Path(os.environ.get("SLUICE_BIN", BENCH_DIR.parent / "build/sluice"))],
                   help="one or more builds; later ones are compared with the first")
    p.add_argument("--transactions", type=int, default=1500, help="pgbench -t per client")
    p.add_argument("--clients", type=int, default=8, help="pgbench -c")
    p.add_argument("--connect", action="store_true",
                   help="pgbench -C: a new connection per transaction (the login path)")
    p.add_argument("--tpcb", action="store_true",
                   help="pgbench's TPC-B-like script instead of -S (select-only)")
    p.add_argument("--modes", default="simple,extended",
                   help="pgbench -M modes, comma-separated (simple, extended, prepared)")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or any(m not in MODES for m in args.modes):
        p.error(f"--modes takes a comma-separated list of {', '.join(MODES)}")
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        p.error("valgrind is not installed: apt-get install valgrind")
    for binary in args.sluice:
        if not binary.exists():
            p.error(f"{binary} does not exist: build it first (make build)")
    return args


def under_callgrind(command: str, out: Path) -> Path:
    """A wrapper script that runs `command` under callgrind, dumping to `out`.N."""
    script = out.parent / f"{out.name}.sh"
    script.write_text(f'#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={out} '
                      f'{command} "$@"\n')
    script.chmod(0o755)
    return script


def dump_text(out: Path, number: int) -> str:
    """Callgrind's dump `number` of `out` (`out`.1, `out`.2, ...), once written (the dump
    request returns before the file is complete)."""
    dump = out.parent / f"{out.name}.{number}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if dump.exists():
            text = dump.read_text(errors="replace")
            if any(line.startswith("totals:") for line in text.splitlines()):
                return text
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no totals to {dump}")


def dump_total(text: str) -> int:
    """Instructions counted in a dump."""
    for line in text.splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    return 0


def malloc_calls(text: str) -> int:
    """Calls to malloc in a dump: the calls= line after each call site naming it (callgrind
    names a function in full once, by its number after that)."""
    names: dict[str, str] = {}
    calls = 0
    callee = ""
    for line in text.splitlines():
        # (A function's name comes with its first mention, as a callee or as itself.)
        if line.startswith(("fn=", "cfn=")):
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
            if m and m.group(2):
                names[m.group(1)] = m.group(2)
            if m and line.startswith("cfn="):
                callee = names.get(m.group(1), "")
        elif line.startswith("calls=") and callee == "malloc":
            calls += int(line.split("=")[1].split()[0])
    return calls


def count(port: int, pid: int, out: Path, mode: str,
          args: argparse.Namespace) -> tuple[float, float]:
    """Instructions and malloc calls per transaction of the process `pid` over one pgbench -S
    run."""
    base = ["-n", *([] if args.tpcb else ["-S"]), "-M", mode, "-c", str(args.clients),
            *(["-C"] if args.connect else [])]
    warm = run_pgbench(port, [*base, "-t", str(WARMUP_TRANSACTIONS)], user=suite.USER,
                       dbname=suite.DB, sslmode="disable", timeout=600)
    if warm.returncode != 0:
        raise RuntimeError(f"pgbench failed: {warm.stderr.strip()}")
    subprocess.run(["callgrind_control", "--zero", str(pid)], check=True, capture_output=True,
                   timeout=120)
    run = run_pgbench(port, [*base, "-t", str(args.transactions)], user=suite.USER,
                      dbname=suite.DB, sslmode="disable", timeout=1800)
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed: {run.stderr.strip()}")
    subprocess.run(["callgrind_control", "--dump=" + mode, str(pid)], check=True,
                   capture_output=True, timeout=120)
    text = dump_text(out, args.modes.index(mode) + 1)
    transactions = args.clients * args.transactions
    return dump_total(text) / transactions, malloc_calls(text) / transactions


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    install_signal_handlers()
    # A login under valgrind (SCRAM's key derivation above all) outlasts libpq's usual wait.
    client_env = harness.clients.client_env
    harness.clients.client_env = lambda *a, **k: {**client_env(*a, **k),
                                                  "PGCONNECT_TIMEOUT": "300"}
    workdir = server_workdir("sluice-instructions-")
    pg = PostgresServer(max_connections=400)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        pg.start()
        init = run_pgbench(pg.port, ["-i", "-q", "-s", "4"], user=suite.USER, dbname=suite.DB,
                           timeout=600)
        if init.returncode != 0:
            print(f"pgbench -i failed: {init.stderr}")
            return 1
        for i, binary in enumerate(args.sluice):
            out = workdir / f"sluice{i}"
            wrapper = under_callgrind(str(binary.resolve()), out)
            proxy = ab.start_sluice(pg, wrapper, 0, f"sluice{i}", io_backend="epoll")
            results[str(binary)] = {m: count(proxy.port, proxy.proc.pid, out, m, args)
                                    for m in args.modes}
            proxy.stop()
            for mode, (per_tx, mallocs) in results[str(binary)].items():
                print(f"{binary} -M {mode}: {per_tx:,.0f} instructions and {mallocs:.2f} "
                      f"malloc calls per transaction", flush=True)
    finally:
        stop_all()
        if not os.environ.get("SLUICE_KEEP_TMP"):
            shutil.rmtree(workdir, ignore_errors=True)
    first = results[str(args.sluice[0])]
    for binary in args.sluice[1:]:
        for mode in args.modes:
            print(f"-M {mode}: {binary} / {args.sluice[0]} = "
                  f"{results[str(binary)][mode][0] / first[mode][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
