"""One pgbench run with a per-transaction log (--log), reduced to TPS, latency percentiles
and, when given a process to watch, that process's CPU seconds per 1,000 transactions."""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from harness.clients import PGBENCH, client_env

TPS_RE = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
TX_RE = re.compile(r"^number of transactions actually processed: (\d+)", re.MULTILINE)
FAILED_RE = re.compile(r"^number of failed transactions: (\d+)", re.MULTILINE)
LAT_AVG_RE = re.compile(r"^latency average = ([0-9.]+) ms", re.MULTILINE)


@dataclass
class RunResult:
    ok: bool
    reason: str | None = None  # why it failed
    tps: float | None = None
    transactions: int | None = None
    failed_transactions: int | None = None
    latency_avg_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    logged_transactions: int = 0
    cpu_s: float | None = None  # CPU the watched process used during the run
    cpu_s_per_1k_tx: float | None = None
    wall_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


def percentile(sorted_values: list[int], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def read_latencies_us(log_dir: Path) -> list[int]:
    """Column 3 of pgbench's per-transaction log lines (client_id transaction_no time
    script_no time_epoch time_us ...): the transaction's latency in microseconds. Failed or
    skipped transactions log a word there instead and are left out."""
    out: list[int] = []
    for path in log_dir.iterdir():
        with open(path, "rb") as f:
            for line in f:
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[2].isdigit():
                    out.append(int(parts[2]))
    return out


def failure_reason(stdout: str, stderr: str, returncode: int | None) -> str:
    """The first error pgbench printed, shortened for a table footnote."""
    lines = [l.strip() for l in (stderr + "\n" + stdout).splitlines() if l.strip()]
    for needle in ("ERROR:", "FATAL:", "aborted", "error", "could not"):
        for line in lines:
            if needle in line:
                m = re.search(r"(ERROR|FATAL):\s+(.*)", line)
                text = f"{m.group(1)}: {m.group(2)}" if m else line
                return text[:160]
    if returncode is None:
        return "timed out"
    return f"pgbench exited with code {returncode}" + (f": {lines[-1][:120]}" if lines else "")


def run_pgbench(port: int, args: list[str], *, user: str, dbname: str, duration: int,
                host: str = "127.0.0.1", cpu_probe: Callable[[], float] | None = None
                ) -> RunResult:
    """Runs `pgbench -n ARGS -T duration --log` and reduces its output and logs.
    `cpu_probe` returns the watched process's cumulative CPU seconds (read before and
    after). Never raises for a failed run: the result says why."""
    log_dir = Path(tempfile.mkdtemp(prefix="sluice-bench-log-"))
    cmd = [PGBENCH, "-h", host, "-p", str(port), "-U", user, "-n", "-T", str(duration),
           "--log", f"--log-prefix={log_dir}/tx", *args, dbname]
    timeout = duration * 3 + 60
    cpu0 = _probe(cpu_probe)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=client_env(PGSSLMODE="disable"), cwd=log_dir)
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else \
            (exc.stdout or "")
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else \
            (exc.stderr or "")
        code = None
    wall = time.monotonic() - t0
    cpu1 = _probe(cpu_probe)
    try:
        r = RunResult(ok=False, wall_s=wall)
        tps, tx = TPS_RE.search(stdout), TX_RE.search(stdout)
        failed, lat = FAILED_RE.search(stdout), LAT_AVG_RE.search(stdout)
        r.tps = float(tps.group(1)) if tps else None
        r.transactions = int(tx.group(1)) if tx else None
        r.failed_transactions = int(failed.group(1)) if failed else None
        r.latency_avg_ms = float(lat.group(1)) if lat else None
        if code != 0 or r.tps is None or not r.transactions or r.failed_transactions:
            if code == 0 and r.transactions == 0:
                r.reason = f"no transaction completed within -T {duration} s"
            else:
                r.reason = failure_reason(stdout, stderr, code)
            r.extra["stderr_tail"] = stderr.strip().splitlines()[-5:]
            return r
        r.ok = True
        latencies = sorted(read_latencies_us(log_dir))
        r.logged_transactions = len(latencies)
        if latencies:
            r.p50_ms = percentile(latencies, 50) / 1000.0
            r.p99_ms = percentile(latencies, 99) / 1000.0
        if cpu0 is not None and cpu1 is not None:
            r.cpu_s = cpu1 - cpu0
            r.cpu_s_per_1k_tx = r.cpu_s / r.transactions * 1000.0
        return r
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def _probe(probe: Callable[[], float] | None) -> float | None:
    if probe is None:
        return None
    try:
        return probe()
    except (OSError, ValueError, IndexError):
        return None  # the process is gone: the run will say why
