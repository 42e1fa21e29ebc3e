"""Starts Pgpool-II (/usr/sbin/pgpool, Debian package `pgpool2`) in front of one PostgreSQL,
for the benchmark suite. Written like the integration harness's PgBouncer class: a temp dir
owned by `postgres` (the child processes must not run as root), a free port, registered
with the harness so it is stopped even when a run fails or is interrupted.

Pgpool-II has no transaction pooling: it is one process per client, and each process keeps
its server connections open after its client leaves (connection_cache) for the next client
with the same user and database. That is session pooling, and it is the closest Pgpool-II
gets to PgBouncer's transaction mode. `num_init_children` caps the clients served at once
(the others wait in the listen queue); `max_pool` caps the cached connections per process.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from harness.util import (chown_postgres, free_port, register, remove_workdir, server_workdir,
                          spawn, tail, unregister, wait_for_port)

PGPOOL = os.environ.get("PGPOOL_BIN", "/usr/sbin/pgpool")


def pgpool_available() -> bool:
    return Path(PGPOOL).exists()


def pgpool_version() -> str | None:
    if not pgpool_available():
        return None
    out = subprocess.run([PGPOOL, "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip() or None


class Pgpool:
    """`num_init_children`: clients served at once (one process each); `max_pool`: cached
    server connections per process; `settings`: any other pgpool.conf keys."""

    def __init__(self, *, backend_host: str, backend_port: int, num_init_children: int,
                 max_pool: int = 1, settings: dict | None = None):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.pcp_port = free_port()
        self.backend_host = backend_host
        self.backend_port = backend_port
        self.num_init_children = num_init_children
        self.max_pool = max_pool
        self.settings = settings or {}
        self.workdir = server_workdir("sluice-pgpool-")
        self.log_path = self.workdir / "pgpool.log"
        self.proc: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"Pgpool(port={self.port}, dir={self.workdir})"

    def conf(self) -> dict:
        w = str(self.workdir)
        return {
            # One PostgreSQL, no replication: pgpool only pools and relays.
            "backend_clustering_mode": "'raw'",
            "backend_hostname0": f"'{self.backend_host}'",
            "backend_port0": self.backend_port,
            "backend_weight0": 1,
            "backend_flag0": "'DISALLOW_TO_FAILOVER'",
            "listen_addresses": f"'{self.host}'",
            "port": self.port,
            "unix_socket_directories": f"'{w}'",
            "pcp_listen_addresses": "''",
            "pcp_port": self.pcp_port,
            "pcp_socket_dir": f"'{w}'",
            "wd_ipc_socket_dir": f"'{w}'",
            "pid_file_name": f"'{w}/pgpool.pid'",
            "logdir": f"'{w}'",
            "log_destination": "'stderr'",
            "logging_collector": "off",
            "log_min_messages": "warning",
            # Clients authenticate against PostgreSQL itself (trust in the harness).
            "enable_pool_hba": "off",
            "pool_passwd": "''",
            "allow_clear_text_frontend_auth": "off",
            "ssl": "off",
            # Pooling: one process per client, connections kept for the next client.
            "num_init_children": self.num_init_children,
            "max_pool": self.max_pool,
            "connection_cache": "on",
            "reserved_connections": 0,
            "listen_backlog_multiplier": 4,
            "child_life_time": 0,
            "child_max_connections": 0,
            "connection_life_time": 0,
            "client_idle_limit": 0,
            # No load balancing, health checks or failover: nothing but one backend.
            "load_balance_mode": "off",
            "health_check_period": 0,
            "sr_check_period": 0,
            "failover_on_backend_error": "off",
            "use_watchdog": "off",
            "memory_cache_enabled": "off",
            **self.settings,
        }

    def start(self, timeout: float = 30.0) -> "Pgpool":
        conf = self.workdir / "pgpool.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in self.conf().items()))
        pcp = self.workdir / "pcp.conf"
        pcp.write_text("")
        self.log_path.touch()
        for path in (conf, pcp, self.log_path):
            chown_postgres(path)
        register(self)
        # -n: stay in the foreground (so terminate() reaches the main process, which stops
        # its children); -D: ignore a stale pgpool_status file.
        self.proc = spawn([PGPOOL, "-n", "-D", "-f", str(conf), "-F", str(pcp)],
                          log=self.log_path, cwd=self.workdir, as_postgres_user=True)
        wait_for_port(self.host, self.port, timeout=timeout, name="pgpool", proc=self.proc,
                      log=self.log_path)
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT: disconnects clients); SIGKILL to the whole process group
        (pgpool and its children, which share it) if that takes too long."""
        if self.proc and self.proc.poll() is None:
            pgid = self.proc.pid  # spawn() starts a new session: pgid == pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pgid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        unregister(self)

    def cleanup(self) -> None:
        self.stop()
        remove_workdir(self.workdir)

    def log(self) -> str:
        return tail(self.log_path, max_chars=20000)
