#!/usr/bin/python3
"""pgbench -S against PostgreSQL directly, through PgBouncer and through Sluice (both in
transaction mode with the same pool size), all in front of one temporary PostgreSQL 15.
Prints a TPS table with Sluice/direct and Sluice/PgBouncer ratios. Uses the integration
harness (tests/integration/harness), which stops every server it started, even on failure."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from harness import (PgBouncer, PostgresServer, SluiceProxy, StartupError,  # noqa: E402
                     install_signal_handlers, run_pgbench, sluice_bin, stop_all)

USER, DB = PostgresServer.APP_USER, PostgresServer.APP_DB
TPS_RE = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=int, default=10, help="seconds per pgbench run")
    p.add_argument("--clients", default="16,200", help="comma-separated client counts")
    p.add_argument("--jobs", type=int, default=2, help="pgbench threads (-j)")
    p.add_argument("--pool-size", type=int, default=20, help="server connections per pool")
    p.add_argument("--scale", type=int, default=1, help="pgbench -i scale factor")
    p.add_argument("--workers", type=int, default=0, help="sluice --workers (0 = its default)")
    return p.parse_args()


def report_failure(server) -> None:
    """Prints whether a pooler died and the end of its log."""
    proc = getattr(server, "proc", None)
    if proc is not None and proc.poll() is not None:
        print(f"  {server!r} exited with code {proc.returncode}")
    lines = server.log().strip().splitlines()[-15:]
    print("  last lines of its log:\n    " + "\n    ".join(lines))


def pgbench_tps(port: int, clients: int, args: argparse.Namespace) -> float | None:
    result = run_pgbench(port, ["-n", "-S", "-T", str(args.duration), "-c", str(clients), "-j",
                                str(args.jobs)], user=USER, dbname=DB,
                         sslmode="disable", timeout=args.duration * 3 + 60)
    match = TPS_RE.search(result.stdout)
    if result.returncode != 0 or not match:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        print(f"  pgbench on port {port} with {clients} clients failed: {' | '.join(tail)}")
        return None
    return float(match.group(1))


def start_targets(pg: PostgresServer, args: argparse.Namespace,
                  servers: list) -> dict[str, int | None]:
    """name -> port (None when it could not start); started servers are added to `servers`."""
    ports: dict[str, int | None] = {"direct": pg.port}
    bouncer = PgBouncer(databases={DB: f"host={pg.host} port={pg.port} dbname={DB}"},
                        settings={"pool_mode": "transaction",
                                  "default_pool_size": args.pool_size,
                                  "max_client_conn": 2000},
                        users={USER: ""})
    servers.append(bouncer)
    try:
        ports["pgbouncer"] = bouncer.start().port
    except StartupError as exc:
        print(f"PgBouncer did not start: {exc}")
        ports["pgbouncer"] = None
    flags = ["--pool-mode", "transaction", "--pool-size", str(args.pool_size),
             "--server", f"postgresql://{USER}@{pg.host}:{pg.port}/{DB}", "--log-level", "warn"]
    if args.workers:
        flags += ["--workers", str(args.workers)]
    # Plain TCP on every hop, as PgBouncer's default server_tls_sslmode=disable does.
    proxy = SluiceProxy(config={"tls": {"server_sslmode": "disable"}}, args=flags)
    servers.append(proxy)
    try:
        ports["sluice"] = proxy.start().port
    except (StartupError, FileNotFoundError) as exc:
        print(f"Sluice ({sluice_bin()}) did not start: {exc}")
        ports["sluice"] = None
    return ports


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def print_table(results: dict[int, dict[str, float | None]], args: argparse.Namespace) -> None:
    print(f"\npgbench -S -T {args.duration} -j {args.jobs}, transaction pooling, "
          f"pool size {args.pool_size} (TPS, higher is better)\n")
    header = ("clients", "direct", "pgbouncer", "sluice", "sluice/direct", "sluice/pgbouncer")
    print("  ".join(f"{h:>16}" for h in header))
    for clients, tps in results.items():
        cells = [str(clients)] + [f"{tps[k]:.0f}" if tps[k] else "failed"
                                  for k in ("direct", "pgbouncer", "sluice")]
        cells += [ratio(tps["sluice"], tps["direct"]), ratio(tps["sluice"], tps["pgbouncer"])]
        print("  ".join(f"{c:>16}" for c in cells))


def main() -> int:
    args = parse_args()
    install_signal_handlers()
    client_counts = [int(c) for c in args.clients.split(",")]
    pg = PostgresServer(max_connections=max(client_counts) + 100)
    servers: list = []
    try:
        print("Starting PostgreSQL 15...")
        pg.start()
        init = run_pgbench(pg.port, ["-i", "-q", "-s", str(args.scale)], user=USER, dbname=DB)
        if init.returncode != 0:
            print(f"pgbench -i failed: {init.stderr}")
            return 1
        ports = start_targets(pg, args, servers)
        servers_by_name = dict(zip(("pgbouncer", "sluice"), servers))
        results: dict[int, dict[str, float | None]] = {}
        for clients in client_counts:
            results[clients] = {}
            for name, port in ports.items():
                print(f"  {name:>9}: {clients} clients, {args.duration} s...", flush=True)
                tps = pgbench_tps(port, clients, args) if port else None
                if port and tps is None and name in servers_by_name:
                    report_failure(servers_by_name[name])
                results[clients][name] = tps
        print_table(results, args)
        failed = any(v is None for tps in results.values() for v in tps.values())
        return 1 if failed else 0
    finally:
        for server in servers:
            server.cleanup()
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
