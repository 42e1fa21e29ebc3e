#!/usr/bin/python3
"""Two Sluice builds against PgBouncer on one PostgreSQL, in alternating rounds: tells whether
a change to Sluice helps when the machine's noise (rounds here differ by 10-30%) is larger
than the change. Each round runs the three targets back to back, in an order that changes
who follows whom (suite.round_order); the result is the median of the rounds' ratios to
PgBouncer, as in `make bench`.

    bench/ab.py --a old/sluice --b build/sluice [--rounds 6] [--seconds 8] -- -S -c 200

Everything after `--` goes to pgbench (with -j 2). Uses the suite's settings (pool size 20,
transaction mode, plain TCP) and its harness, which stops every server it started."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests" / "integration"))
sys.path.insert(0, str(BENCH_DIR))

from harness import (PgBouncer, PostgresServer, SluiceProxy,  # noqa: E402
                     install_signal_handlers, run_pgbench, stop_all)

import pgbench_run  # noqa: E402
import procstat  # noqa: E402
import report  # noqa: E402
import suite  # noqa: E402

MAX_CLIENTS = 2000
WARMUP_ARGS = ["-n", "-S", "-c", "16", "-j", "2", "-T", "5"]


class BuildProxy(SluiceProxy):
    """A SluiceProxy running a given binary rather than $SLUICE_BIN."""

    def __init__(self, binary: Path, **kwargs):
        super().__init__(**kwargs)
        self.binary = binary

    @property
    def command(self) -> list[str]:
        return [str(self.binary), "serve", "-c", str(self.config_path),
                "--listen", f"{self.host}:{self.port}", *self.extra_args]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", type=Path, required=True, help="the first sluice binary")
    p.add_argument("--b", type=Path, required=True, help="the second sluice binary")
    p.add_argument("--workers-a", type=int, default=0, help="--workers for A (0: default)")
    p.add_argument("--workers-b", type=int, default=0, help="--workers for B (0: default)")
    p.add_argument("--io-backend", choices=("auto", "io_uring", "epoll"), default="auto",
                   help="--io-backend for A and B")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--seconds", type=int, default=8, help="pgbench -T per run")
    p.add_argument("--scale", type=int, default=16, help="pgbench -i -s")
    p.add_argument("pgbench", nargs="+", help="pgbench arguments, after --")
    args = p.parse_args(argv)
    for binary in (args.a, args.b):
        if not binary.exists():
            p.error(f"{binary} does not exist: build it, or copy a build there first")
    return args


def start_pgbench_database(scale: int) -> PostgresServer | None:
    """A PostgreSQL with pgbench's tables at `scale`; None (and why, printed) when
    pgbench -i fails. The caller stops it (harness.stop_all)."""
    pg = PostgresServer(max_connections=400)
    pg.start()
    init = run_pgbench(pg.port, ["-i", "-q", "-s", str(scale)], user=suite.USER,
                       dbname=suite.DB, timeout=600)
    if init.returncode != 0:
        print(f"pgbench -i failed: {init.stderr}")
        return None
    return pg


def start_pgbouncer(pg: PostgresServer) -> PgBouncer:
    """PgBouncer with the suite's settings (pool size 20, transaction mode)."""
    bouncer = suite.make_pgbouncer(pg, argparse.Namespace(pool_size=20), MAX_CLIENTS)
    bouncer.start()
    return bouncer


def start_sluice(pg: PostgresServer, binary: Path, workers: int, name: str,
                 io_backend: str = "auto") -> BuildProxy:
    settings = argparse.Namespace(pool_size=20, workers=workers)
    proxy = BuildProxy(binary.resolve(), config=suite.sluice_config(MAX_CLIENTS),
                       args=[*suite.sluice_flags(pg, settings), "--io-backend", io_backend],
                       name=name)
    return proxy.start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    install_signal_handlers()
    try:
        pg = start_pgbench_database(args.scale)
        if pg is None:
            return 1
        bouncer = start_pgbouncer(pg)
        proxies = {"PgBouncer": bouncer,
                   "A": start_sluice(pg, args.a, args.workers_a, "sluice-a", args.io_backend),
                   "B": start_sluice(pg, args.b, args.workers_b, "sluice-b", args.io_backend)}
        for proxy in proxies.values():
            run_pgbench(proxy.port, WARMUP_ARGS, user=suite.USER, dbname=suite.DB,
                        sslmode="disable", timeout=100)
        # Per target, its rounds as `make bench` records them, for report's medians.
        runs: dict[str, dict] = {name: {"rounds": []} for name in proxies}
        names = list(proxies)
        for r in range(args.rounds):
            for name in suite.round_order(names, r):
                pid = proxies[name].proc.pid
                result = pgbench_run.run_pgbench(
                    proxies[name].port, [*args.pgbench, "-j", "2"], user=suite.USER,
                    dbname=suite.DB, duration=args.seconds,
                    cpu_probe=lambda pid=pid: procstat.cpu_seconds(pid))
                if not result.ok:
                    print(f"round {r + 1}: {name} failed: {result.reason}")
                    return 1
                runs[name]["rounds"].append({**result.to_json(), "round": r})
            print(f"round {r + 1}: " + ", ".join(
                f"{name} {runs[name]['rounds'][-1]['tps']:.0f} TPS "
                f"p99 {runs[name]['rounds'][-1]['p99_ms']:.1f} ms" for name in names), flush=True)
        base = runs["PgBouncer"]
        for name in names:
            mine = runs[name]
            print(f"{name}: TPS x{report.paired_ratio(mine, base, 'tps'):.3f}, CPU per "
                  f"transaction x{report.paired_ratio(mine, base, 'cpu_s_per_1k_tx'):.3f} "
                  f"(vs PgBouncer), p50 {report.median_of(mine['rounds'], 'p50_ms'):.2f} ms, "
                  f"p99 {report.median_of(mine['rounds'], 'p99_ms'):.1f} ms")
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
