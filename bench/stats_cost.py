"""The cost of per-query statistics: pgbench -S through two proxies that differ only in
stats.query_stats (on / off), interleaved rounds on the same PostgreSQL, median TPS and
their ratio. Usage: /usr/bin/python3 bench/stats_cost.py [--rounds 3] [--seconds 10]
[--clients 16] [--mode simple] [--warmup 2]. Warm-up runs (not counted) come first:
both proxies and PostgreSQL get faster over their first runs, and the order of the two
proxies alternates from round to round."""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from harness import PostgresServer, SluiceProxy  # noqa: E402
from harness.clients import PGBENCH, client_env  # noqa: E402
from procstat import cpu_seconds  # noqa: E402

TPS_RE = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
USER, DB = "app_user", "app"


def pgbench(proxy: SluiceProxy, args: list[str]) -> tuple[float, float]:
    """TPS, and the proxy's CPU milliseconds per 1,000 transactions."""
    cmd = [PGBENCH, "-h", "127.0.0.1", "-p", str(proxy.port), "-U", USER, *args, DB]
    before = cpu_seconds(proxy.proc.pid)
    out = subprocess.run(cmd, capture_output=True, text=True, env=client_env(None), check=True)
    cpu = cpu_seconds(proxy.proc.pid) - before
    tx = int(re.search(r"^number of transactions actually processed: (\d+)", out.stdout,
                       re.MULTILINE).group(1))
    return float(TPS_RE.search(out.stdout).group(1)), cpu * 1e6 / max(tx, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--mode", default="simple")
    ap.add_argument("--scale", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    pg = PostgresServer().start()
    proxies = {}
    try:
        subprocess.run([PGBENCH, "-i", "-q", "-s", str(a.scale), "-h", pg.host, "-p",
                        str(pg.port), "-U", USER, DB], check=True, capture_output=True,
                       env=client_env(None))
        for label, on in (("on", True), ("off", False)):
            config = {"databases": {DB: {"host": pg.host, "port": pg.port, "user": USER}},
                      "pool": {"pool_mode": "transaction", "pool_size": 20},
                      "stats": {"query_stats": on}}
            proxies[label] = SluiceProxy(config=config, name=f"sluice-stats-{label}").start()
        tps = {label: [] for label in proxies}
        cpu = {label: [] for label in proxies}
        args = ["-n", "-S", "-M", a.mode, "-c", str(a.clients), "-j", "2", "-T", str(a.seconds)]
        for _ in range(a.warmup):
            for proxy in proxies.values():
                pgbench(proxy, args)
        for r in range(a.rounds):
            order = list(proxies.items())
            for label, proxy in order if r % 2 == 0 else reversed(order):
                t, c = pgbench(proxy, args)
                tps[label].append(t)
                cpu[label].append(c)
                print(f"round {r + 1} query_stats={label}: {t:.0f} tps, "
                      f"{c:.1f} proxy CPU ms / 1,000 tx", flush=True)
        on, off = statistics.median(tps["on"]), statistics.median(tps["off"])
        con, coff = statistics.median(cpu["on"]), statistics.median(cpu["off"])
        print(f"pgbench -S -M {a.mode} -c {a.clients}, {a.rounds} x {a.seconds} s, median: "
              f"query_stats on {on:.0f} tps, off {off:.0f} tps, on/off = {on / off:.3f}; "
              f"proxy CPU ms per 1,000 tx: on {con:.1f}, off {coff:.1f}, on/off = {con / coff:.3f}")
    finally:
        for proxy in proxies.values():
            proxy.cleanup()
        pg.stop()


if __name__ == "__main__":
    main()
