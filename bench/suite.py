#!/usr/bin/python3
"""Sluice's benchmark suite (`make bench`): pgbench scenarios against PostgreSQL 15 directly
and through PgBouncer 1.18, Pgpool-II and Sluice, all in front of one temporary PostgreSQL
15 with the same pool size, interleaved round by round, median of the rounds reported;
plus 10,000 idle clients per proxy for its memory per client.

Writes bench/results/latest.json and bench/results/latest.md (see bench/README.md). Exits
non-zero only when a Sluice run failed (or the suite could not start PostgreSQL): other
targets failing a scenario (PgBouncer with -M prepared) is a result, not an error.
Uses the integration harness (tests/integration/harness), which stops every server it
started, even when the run fails or is interrupted."""
from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
sys.path.insert(0, str(BENCH_DIR))

from harness import (PgBouncer, PostgresServer, SluiceProxy, StartupError,  # noqa: E402
                     install_signal_handlers, run_pgbench, sluice_bin, stop_all)
from harness.clients import PGBENCH  # noqa: E402
from harness.pgbouncer import PGBOUNCER  # noqa: E402
from harness.postgres import PG_BIN  # noqa: E402
from harness.util import vm_rss_kb  # noqa: E402

import idle  # noqa: E402
import pgbench_run  # noqa: E402
import procstat  # noqa: E402
import report  # noqa: E402
from pgpool import Pgpool, pgpool_available, pgpool_version  # noqa: E402

USER, DB = PostgresServer.APP_USER, PostgresServer.APP_DB
ALL_TARGETS = ("direct", "pgbouncer", "pgpool", "sluice")
RUN_KEYS = ("tps", "p50_ms", "p99_ms", "latency_avg_ms", "cpu_s_per_1k_tx")
IDLE_KEYS = ("per_client_kb", "rss_start_kb", "rss_idle_kb", "login_s")


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str       # as shown in the tables
    args: tuple      # pgbench arguments besides -c/-j/-T/--log
    clients: int


SCENARIOS = (
    Scenario("select-simple-c16", "-S -M simple -c 16", ("-S", "-M", "simple"), 16),
    Scenario("select-simple-c200", "-S -M simple -c 200", ("-S", "-M", "simple"), 200),
    Scenario("select-extended-c16", "-S -M extended -c 16", ("-S", "-M", "extended"), 16),
    Scenario("select-extended-c200", "-S -M extended -c 200", ("-S", "-M", "extended"), 200),
    Scenario("select-prepared-c16", "-S -M prepared -c 16", ("-S", "-M", "prepared"), 16),
    Scenario("tpcb-c16", "TPC-B-like (default script) -c 16", (), 16),
    Scenario("connect-select-c8", "-C -S -c 8 (new connection per transaction)",
             ("-C", "-S"), 8),
)
IDLE_KEY = "idle"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="3 rounds of 1 s per run (under 3 minutes in all), 1 idle round")
    p.add_argument("--rounds", type=int, help="rounds (default 5; 3 with --quick)")
    p.add_argument("--duration", type=int, help="seconds per pgbench run (default 10; 1 quick)")
    p.add_argument("--scenarios", help="comma-separated scenario keys, 'idle' for the idle "
                   "clients (default: all): " + ", ".join(s.key for s in SCENARIOS))
    p.add_argument("--targets", default=",".join(ALL_TARGETS),
                   help="comma-separated subset of " + ",".join(ALL_TARGETS))
    p.add_argument("--jobs", type=int, default=2, help="pgbench threads (-j), default 2")
    p.add_argument("--pool-size", type=int, default=20,
                   help="server connections per pool for PgBouncer and Sluice (default 20)")
    p.add_argument("--scale", type=int, default=16, help="pgbench -i scale factor (default 16)")
    p.add_argument("--workers", type=int, default=0, help="sluice --workers (0 = its default)")
    p.add_argument("--idle-clients", type=int, default=10_000,
                   help="idle clients per proxy in the idle scenario (default 10000)")
    p.add_argument("--idle-rounds", type=int,
                   help="rounds of the idle scenario (default: --rounds, at most 3; 1 with "
                        "--quick)")
    p.add_argument("--output", type=Path, default=BENCH_DIR / "results",
                   help="directory for latest.json and latest.md (default bench/results)")
    p.add_argument("--warmup", type=int,
                   help="seconds of pgbench -S -c 16 per proxy before round 1 (default 15; "
                        "0 with --quick)")
    p.add_argument("--readme", action="store_true",
                   help="also put the tables into README.md's Performance section")
    args = p.parse_args(argv)
    custom = args.rounds is not None or args.duration is not None or args.scenarios
    args.mode = "quick" if args.quick else "custom" if custom else "full"
    # Five rounds in full mode: rounds on a shared machine differ by 10-15%, which a median
    # of three can still land on.
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.duration = args.duration or (1 if args.quick else 10)
    if args.warmup is None:
        args.warmup = 0 if args.quick else 15
    if args.idle_rounds is None:
        args.idle_rounds = 1 if args.quick else min(args.rounds, 3)
    args.targets = [t for t in args.targets.split(",") if t]
    unknown = set(args.targets) - set(ALL_TARGETS)
    if unknown:
        p.error(f"unknown targets: {', '.join(sorted(unknown))}")
    keys = {s.key for s in SCENARIOS} | {IDLE_KEY}
    wanted = args.scenarios.split(",") if args.scenarios else sorted(keys)
    unknown = set(wanted) - keys
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.scenario_list = [s for s in SCENARIOS if s.key in wanted]
    args.run_idle = IDLE_KEY in wanted and args.idle_clients > 0
    return args


# -- targets -------------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    port: int | None = None
    server: object | None = None
    cpu_probe: Callable[[], float] | None = None
    error: str | None = None  # why it is not running
    missing: bool = False  # not installed: its results say "n/a", not "fails"
    ready_s: dict = field(default_factory=dict)  # direct: clients -> connect + 1 tx each, s

    def alive(self) -> bool:
        proc = getattr(self.server, "proc", None)
        return proc is None or proc.poll() is None


def pgbouncer_settings(args: argparse.Namespace, max_clients: int) -> dict:
    return {"pool_mode": "transaction", "default_pool_size": args.pool_size,
            "max_client_conn": max_clients, "listen_backlog": 4096}


def sluice_flags(pg: PostgresServer, args: argparse.Namespace) -> list[str]:
    flags = ["--pool-mode", "transaction", "--pool-size", str(args.pool_size),
             "--server", f"postgresql://{USER}@{pg.host}:{pg.port}/{DB}", "--log-level", "info"]
    if args.workers:
        flags += ["--workers", str(args.workers)]
    return flags


def sluice_config(max_clients: int) -> dict:
    # Plain TCP on every hop, as PgBouncer's default server_tls_sslmode=disable does.
    return {"tls": {"server_sslmode": "disable"}, "server": {"max_client_conn": max_clients}}


def make_pgbouncer(pg: PostgresServer, args: argparse.Namespace, max_clients: int) -> PgBouncer:
    return PgBouncer(databases={DB: f"host={pg.host} port={pg.port} dbname={DB}"},
                     settings=pgbouncer_settings(args, max_clients), users={USER: ""})


def start_target(name: str, pg: PostgresServer, args: argparse.Namespace,
                 pgpool_children: int) -> Target:
    t = Target(name)
    try:
        if name == "direct":
            t.port = pg.port
            return t
        if name == "pgbouncer":
            t.server = make_pgbouncer(pg, args, 2000)
            t.server.start()
        elif name == "pgpool":
            if not pgpool_available():
                t.error = "is not installed (Debian package pgpool2)"
                t.missing = True
                return t
            t.server = Pgpool(backend_host=pg.host, backend_port=pg.port,
                              num_init_children=pgpool_children, max_pool=1)
            t.server.start()
        elif name == "sluice":
            t.server = SluiceProxy(config=sluice_config(2000), args=sluice_flags(pg, args))
            t.server.start()
        t.port = t.server.port
        pid = t.server.proc.pid
        t.cpu_probe = ((lambda: procstat.tree_cpu_seconds(pid)) if name == "pgpool"
                       else (lambda: procstat.cpu_seconds(pid)))
    except (StartupError, FileNotFoundError, OSError) as exc:
        t.error = f"did not start: {str(exc).splitlines()[0]}"
        print(f"  {name} {t.error}\n{getattr(t.server, 'log', lambda: '')()[-2000:]}")
    return t


def log_tail(target: Target, lines: int = 15) -> str:
    server = target.server
    if server is None:
        return ""
    proc = getattr(server, "proc", None)
    head = f"    {target.name} exited with code {proc.returncode}\n" \
        if proc is not None and proc.poll() is not None else ""
    text = server.log().strip().splitlines()[-lines:]
    return head + "    " + "\n    ".join(text)


# -- scenarios -----------------------------------------------------------------------------------
def pgbench_once(t: Target, clients: int, args: argparse.Namespace) -> float | None:
    """Seconds pgbench takes to connect `clients` clients and run one transaction on each
    (None if it failed)."""
    t0 = time.monotonic()
    result = run_pgbench(t.port, ["-n", "-S", "-t", "1", "-c", str(clients), "-j",
                                  str(min(args.jobs, clients))], user=USER, dbname=DB,
                         sslmode="disable", timeout=300)
    return time.monotonic() - t0 if result.returncode == 0 else None


def warm_up(t: Target, clients: list[int], args: argparse.Namespace) -> None:
    """Before the first round: proxies open their server connections (Pgpool-II one per
    process: the most clients need seconds of backend starts, which would otherwise land in
    its first run), and direct PostgreSQL gets its ready time measured (see run_time)."""
    if t.error or not t.alive():
        return
    if t.name != "direct":
        pgbench_once(t, max(clients), args)
        if args.warmup > 0:
            # Every process here (pgbench, PostgreSQL's backends, the proxy) gets faster over
            # its first seconds of load: without this, round 1 measures that, not the proxy.
            run_pgbench(t.port, ["-n", "-S", "-c", "16", "-j", str(args.jobs), "-T",
                                 str(args.warmup)], user=USER, dbname=DB, sslmode="disable",
                        timeout=300 + args.warmup)
        return
    for n in clients:
        ready = pgbench_once(t, n, args)
        if ready is not None:
            t.ready_s[n] = ready


def run_time(sc: Scenario, t: Target, args: argparse.Namespace) -> int:
    """pgbench -T for this target. pgbench's -T clock starts before its clients connect,
    and a new backend's first queries are slow, so direct PostgreSQL (a backend forked per
    client) gets its ready time (see warm_up) added when that is more than half the
    duration: else a run could be mostly connection setup (200 clients take seconds
    here). Proxies hand out open server connections and run for the duration."""
    ready = 0.0 if "-C" in sc.args else t.ready_s.get(sc.clients, 0.0)
    if ready <= args.duration / 2:
        return args.duration
    return args.duration + math.ceil(ready * 1.2)


def round_order(targets: list[str], rnd: int) -> list[str]:
    """The order of the targets in round `rnd`: the rows of a Williams design, in which every
    target runs right after every other one equally often over len(targets) rounds (twice
    that for an odd number of targets). A plain rotation would start each round with a
    different target but keep who follows whom: Sluice always ran right after Pgpool-II,
    PgBouncer right after direct PostgreSQL's hundreds of backends."""
    n = len(targets)
    if n < 2:
        return list(targets)
    first, low, high = [0], 1, n - 1  # 0, 1, n-1, 2, n-2, ...
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    rows = [[(i + shift) % n for i in first] for shift in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return [targets[i] for i in rows[rnd % len(rows)]]


def backends(pg: PostgresServer) -> int:
    try:
        return pg.server_connections(USER, DB)
    except Exception:  # noqa: BLE001 - PostgreSQL trouble shows in the runs themselves
        return 0


def settle(pg: PostgresServer, baseline: int, timeout: float = 15.0) -> None:
    """Waits until PostgreSQL's backends for the benchmark user are back to `baseline`:
    hundreds of direct backends take a while to exit, and the next run should not pay."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if backends(pg) <= baseline:
            return
        time.sleep(0.1)


QUICK_DIRECT_MAX_CLIENTS = 100


def skip_reason(sc: Scenario, t: Target, args: argparse.Namespace) -> str | None:
    """Runs --quick leaves out: direct PostgreSQL at 200 clients, whose backends take
    longer to start (seconds here) than a quick run lasts."""
    if args.quick and t.name == "direct" and sc.clients > QUICK_DIRECT_MAX_CLIENTS:
        return (f"direct at more than {QUICK_DIRECT_MAX_CLIENTS} clients: not run with "
                "--quick (PostgreSQL takes several seconds to start that many backends "
                "here, longer than a quick run; the full suite lengthens -T to make up "
                "for it)")
    return None


def run_scenario(sc: Scenario, t: Target, args: argparse.Namespace) -> dict:
    reason = skip_reason(sc, t, args)
    if reason:
        return {"ok": False, "skipped": True, "reason": reason, "reason_short": "not run"}
    if t.error:
        return {"ok": False, "reason": f"{report.TARGET_TITLES[t.name]} {t.error}",
                **({"skipped": True, "reason_short": "n/a"} if t.missing else {})}
    if not t.alive():
        return {"ok": False, "reason": f"{report.TARGET_TITLES[t.name]} is not running"}
    pg_args = [*sc.args, "-c", str(sc.clients), "-j", str(min(args.jobs, sc.clients))]
    duration = run_time(sc, t, args)
    r = pgbench_run.run_pgbench(t.port, pg_args, user=USER, dbname=DB, duration=duration,
                                cpu_probe=t.cpu_probe)
    if not r.ok and t.server is not None and not t.alive():
        r.reason = f"{report.TARGET_TITLES[t.name]} exited: {r.reason}"
    return {**r.to_json(), "T_s": duration}


def idle_round(name: str, pg: PostgresServer, args: argparse.Namespace) -> dict:
    """A fresh proxy; its VmRSS before and after `idle_clients` clients log in and idle."""
    n = args.idle_clients
    if name == "direct":
        return {"skipped": True, "reason": "direct: PostgreSQL forks a backend per client "
                "(a proxy's idle clients are what is measured)",
                "reason_short": "n/a"}
    if name == "pgpool":
        return {"skipped": True, "reason": f"Pgpool-II: one process per client, so {n:,} idle "
                f"clients need num_init_children = {n:,} processes and as many server "
                "connections; not comparable, not run", "reason_short": "n/a"}
    server = (make_pgbouncer(pg, args, n + 1000) if name == "pgbouncer"
              else SluiceProxy(config=sluice_config(n + 1000), args=sluice_flags(pg, args)))
    clients: list = []
    try:
        server.start()
        pid = server.proc.pid
        # One client first, so the pool and whatever a first login sets up are part of the
        # baseline, not of the per-client figure.
        first, failures = idle.open_idle_clients(server.host, server.port, 1, user=USER,
                                                 dbname=DB)
        clients += first
        time.sleep(0.5)
        rss_start = vm_rss_kb(pid)
        t0 = time.monotonic()
        more, more_failures = idle.open_idle_clients(server.host, server.port, n, user=USER,
                                                     dbname=DB, timeout=120)
        clients += more
        failures += more_failures
        login_s = time.monotonic() - t0
        if failures:
            return {"ok": False, "reason": f"{len(failures)} of {n:,} logins failed, e.g. "
                    f"{failures[0]}"}
        time.sleep(0.5)  # all idle now: let the proxy finish whatever follows a login
        rss_idle = vm_rss_kb(pid)
        if server.proc.poll() is not None:
            return {"ok": False, "reason": f"{name} exited with {n:,} idle clients"}
        return {"ok": True, "rss_start_kb": rss_start, "rss_idle_kb": rss_idle,
                "per_client_kb": (rss_idle - rss_start) / n, "login_s": round(login_s, 3)}
    except (StartupError, FileNotFoundError, OSError) as exc:
        return {"ok": False, "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    finally:
        idle.close_all(clients)
        server.cleanup()


_T0 = time.monotonic()


def log(text: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {text}", flush=True)


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    load_start = report.loadavg()
    # Run a copy of the binary: a rebuild of build/sluice during the run (the work tree is
    # shared) must not mix two binaries in one set of results.
    built = sluice_bin()
    bin_dir = Path(tempfile.mkdtemp(prefix="sluice-bench-bin-"))
    copy = None
    if built.exists():
        copy = bin_dir / "sluice"
        shutil.copy2(built, copy)
        os.environ["SLUICE_BIN"] = str(copy)
    machine = report.machine_info(REPO_ROOT, pg_bin=PG_BIN, pgbench=PGBENCH,
                                  pgbouncer=PGBOUNCER, pgpool_version=pgpool_version(),
                                  sluice=built, sluice_copy=copy)
    install_signal_handlers()
    nofile = idle.raise_nofile(2 * args.idle_clients + 1000) if args.run_idle else None
    max_clients = max([s.clients for s in args.scenario_list] + [args.pool_size])
    pgpool_children = max_clients
    # Direct clients, Pgpool-II's cached connections (one per child), both poolers' pools,
    # the fresh poolers of the idle scenario, and room for the harness itself.
    pg = PostgresServer(max_connections=max_clients + pgpool_children + 4 * args.pool_size + 50)
    targets: dict[str, Target] = {}
    sluice_failed = False
    print(f"bench: {args.mode} mode, {args.rounds} rounds x "
          f"{args.duration} s, targets {', '.join(args.targets)}", flush=True)
    try:
        pg.start()
        log(f"PostgreSQL 15 on port {pg.port}; pgbench -i -s {args.scale}")
        init = run_pgbench(pg.port, ["-i", "-q", "-s", str(args.scale)], user=USER, dbname=DB,
                           timeout=600)
        if init.returncode != 0:
            print(f"pgbench -i failed: {init.stderr}")
            return 1
        for name in args.targets:
            targets[name] = start_target(name, pg, args, pgpool_children)
        if "sluice" in targets and targets["sluice"].server is not None:
            # "listening on ... with N workers on io_uring" (io_backend = auto)
            m = re.search(r"with (\d+) workers on (\w+)", targets["sluice"].server.log())
            machine["sluice_workers"] = int(m.group(1)) if m else None
            machine["sluice_io_backend"] = m.group(2) if m else None
        # Also warms PostgreSQL's caches before the first measured run.
        log("warming up")
        for name in args.targets:
            counts = sorted({s.clients for s in args.scenario_list if "-C" not in s.args
                             and not skip_reason(s, targets[name], args)})
            if counts:
                warm_up(targets[name], counts, args)
            if targets[name].ready_s:
                log(f"  {name:<9} connect + 1 transaction: " + ", ".join(
                    f"{c} clients {s:.2f} s" for c, s in targets[name].ready_s.items()))

        runs: dict[str, dict[str, list[dict]]] = {
            s.key: {t: [] for t in args.targets} for s in args.scenario_list}
        idle_runs: dict[str, list[dict]] = {t: [] for t in args.targets}
        for rnd in range(args.rounds):
            order = round_order(args.targets, rnd)
            log(f"round {rnd + 1}/{args.rounds}")
            for sc in args.scenario_list:
                for name in order:
                    baseline = backends(pg) if name == "direct" else 0
                    res = run_scenario(sc, targets[name], args)
                    if name == "direct":
                        settle(pg, baseline)
                    res["round"] = rnd + 1
                    runs[sc.key][name].append(res)
                    if res.get("skipped"):
                        continue
                    shown = (f"{res['tps']:.0f} TPS, p50/p99 {res['p50_ms'] or 0:.2f}/"
                             f"{res['p99_ms'] or 0:.2f} ms, CPU/1k tx "
                             f"{res['cpu_s_per_1k_tx'] or 0:.3f} s" if res["ok"]
                             else f"FAILED: {res.get('reason')}")
                    log(f"  {sc.key:<21} {name:<9} {shown}")
                    if not res["ok"] and name == "sluice":
                        sluice_failed = True
                        print(log_tail(targets[name]))
            if args.run_idle and rnd < args.idle_rounds:
                for name in order:
                    res = idle_round(name, pg, args)
                    res["round"] = rnd + 1
                    idle_runs[name].append(res)
                    if res.get("skipped"):
                        continue
                    shown = (f"{res['per_client_kb']:.2f} KiB per client "
                             f"({res['rss_start_kb']} -> {res['rss_idle_kb']} kB, logins "
                             f"{res['login_s']:.1f} s)" if res["ok"]
                             else f"FAILED: {res.get('reason')}")
                    log(f"  {'idle-' + str(args.idle_clients):<21} {name:<9} {shown}")
                    if not res["ok"] and name == "sluice":
                        sluice_failed = True

        data = {
            "suite": {
                "mode": args.mode, "quick": args.quick, "rounds": args.rounds,
                "duration_s": args.duration, "warmup_s": args.warmup,
                "jobs": args.jobs, "pool_size": args.pool_size, "scale": args.scale,
                "pgpool_children": pgpool_children, "sluice_workers": args.workers or "default",
                "idle_clients": args.idle_clients if args.run_idle else 0,
                "idle_rounds": args.idle_rounds if args.run_idle else 0,
                "rlimit_nofile": nofile, "started_at": started_at,
                "elapsed_s": round(time.monotonic() - started, 1),
            },
            "machine": {**machine, "loadavg_start": load_start,
                        "loadavg_end": report.loadavg()},
            "targets": target_descriptions(args, pgpool_children),
            "scenarios": [{
                "key": sc.key, "title": sc.title,
                "pgbench": " ".join(["pgbench", "-n", *sc.args, "-c", str(sc.clients), "-j",
                                     str(min(args.jobs, sc.clients)), "-T",
                                     str(args.duration), "--log"]),
                "results": {t: {**report.summarize(rs, RUN_KEYS), "rounds": rs}
                            for t, rs in runs[sc.key].items()},
            } for sc in args.scenario_list],
        }
        if args.run_idle:
            results = {}
            for t, rs in idle_runs.items():
                results[t] = {**report.summarize(rs, IDLE_KEYS), "rounds": rs}
            data["idle"] = {"clients": args.idle_clients, "results": results}
        json_path, md_path = report.write_outputs(data, args.output)
        table = report.markdown(data)
        print("\n" + table)
        print(f"wrote {json_path} and {md_path}")
        if args.readme:
            report.put_into_readme(table)
        if sluice_failed:
            print("bench: a Sluice run failed (see above)")
        return 1 if sluice_failed else 0
    finally:
        log("stopping the servers")
        for t in targets.values():
            if t.server is not None:
                t.server.cleanup()
                log(f"  {t.name} stopped")
        stop_all()
        shutil.rmtree(bin_dir, ignore_errors=True)
        log("done")


def target_descriptions(args: argparse.Namespace, pgpool_children: int) -> dict:
    out = {
        "direct": {"description": "pgbench connects to PostgreSQL itself"},
        "pgbouncer": {"description": "PgBouncer, transaction pooling",
                      "settings": pgbouncer_settings(args, 2000)},
        "pgpool": {"description": "Pgpool-II, raw mode (one backend), connection cache: "
                   "session pooling, one process per client (it has no transaction pooling)",
                   "settings": {"num_init_children": pgpool_children, "max_pool": 1,
                                "connection_cache": "on", "load_balance_mode": "off"}},
        "sluice": {"description": "Sluice, transaction pooling",
                   "flags": ["--pool-mode", "transaction", "--pool-size", str(args.pool_size)]
                   + (["--workers", str(args.workers)] if args.workers else []),
                   "config": sluice_config(2000)},
    }
    return {k: v for k, v in out.items() if k in args.targets}


if __name__ == "__main__":
    sys.exit(main())
