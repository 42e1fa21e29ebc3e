"""Starts PgBouncer (/usr/sbin/pgbouncer) for comparisons: pgbouncer.ini + userlist.txt
in a temp dir owned by `postgres` (PgBouncer refuses to run as root)."""
from __future__ import annotations

import os
import subprocess

from . import userlist
from .util import (chown_postgres, free_port, register, remove_workdir, server_workdir, spawn,
                   tail, terminate, unregister, wait_for_port)

PGBOUNCER = os.environ.get("PGBOUNCER_BIN", "/usr/sbin/pgbouncer")


class PgBouncer:
    """`databases`: name -> connection string ("host=... port=... dbname=...").
    `settings`: extra [pgbouncer] keys. `users`: userlist entries (user -> secret)."""

    def __init__(self, *, databases: dict[str, str], settings: dict | None = None,
                 users: dict[str, str] | None = None):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.databases = databases
        self.settings = settings or {}
        self.users = users or {}
        self.workdir = server_workdir("sluice-pgbouncer-")
        self.log_path = self.workdir / "pgbouncer.log"
        self.proc: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"PgBouncer(port={self.port}, dir={self.workdir})"

    def _ini(self) -> str:
        settings = {
            "listen_addr": self.host,
            "listen_port": self.port,
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": str(self.workdir / "userlist.txt"),
            "pool_mode": "transaction",
            "max_client_conn": 2000,
            **self.settings,
        }
        lines = ["[databases]", *(f"{k} = {v}" for k, v in self.databases.items()),
                 "", "[pgbouncer]", *(f"{k} = {v}" for k, v in settings.items())]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> "PgBouncer":
        ini = self.workdir / "pgbouncer.ini"
        ini.write_text(self._ini())
        userlist.write_userlist(self.workdir / "userlist.txt", self.users)
        for path in (ini, self.workdir / "userlist.txt"):
            chown_postgres(path)
        self.log_path.touch()
        chown_postgres(self.log_path)
        register(self)
        self.proc = spawn([PGBOUNCER, str(ini)], log=self.log_path, cwd=self.workdir,
                          as_postgres_user=True)
        wait_for_port(self.host, self.port, timeout=timeout, name="pgbouncer", proc=self.proc,
                      log=self.log_path)
        return self

    def stop(self) -> None:
        if self.proc:
            terminate(self.proc)
        unregister(self)

    def cleanup(self) -> None:
        self.stop()
        remove_workdir(self.workdir)

    def log(self) -> str:
        return tail(self.log_path, max_chars=20000)
