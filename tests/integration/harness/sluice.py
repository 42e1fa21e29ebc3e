"""Starts `$SLUICE_BIN serve` on a free port with a TOML file and/or flags."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from . import clients, toml_writer
from .util import (REPO_ROOT, free_port, register, remove_workdir, spawn, tail, terminate,
                   unregister, wait_for_port)

STARTUP_TIMEOUT = 15.0


def sluice_bin() -> Path:
    """$SLUICE_BIN (relative paths are taken from the repository root), else build/sluice."""
    path = Path(os.environ.get("SLUICE_BIN", "build/sluice"))
    return path if path.is_absolute() else REPO_ROOT / path


class SluiceProxy:
    """One proxy process. `config` is written to sluice.toml and passed with -c."""

    def __init__(self, *, config: dict | None = None, args: list[str] | tuple = (),
                 workdir: Path | None = None, name: str = "sluice"):
        self.name = name
        self.host = "127.0.0.1"
        self.port = free_port()
        self.config = config
        self.extra_args = list(args)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sluice-proxy-"))
        self.log_path = self.workdir / f"{name}.log"
        self.config_path = self.workdir / f"{name}.toml"
        self.proc: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"SluiceProxy(port={self.port}, dir={self.workdir})"

    @property
    def command(self) -> list[str]:
        cmd = [str(sluice_bin()), "serve"]
        if self.config is not None:
            cmd += ["-c", str(self.config_path)]
        return cmd + ["--listen", f"{self.host}:{self.port}", *self.extra_args]

    def write_config(self, config: dict | None = None) -> None:
        """(Re)writes the TOML file, e.g. before an admin RELOAD."""
        if config is not None:
            self.config = config
        self.config_path.write_text(toml_writer.dumps(self.config))

    def start(self, timeout: float = STARTUP_TIMEOUT) -> "SluiceProxy":
        binary = sluice_bin()
        if not binary.exists():
            raise FileNotFoundError(f"{binary} not found: build it (make build) or set SLUICE_BIN")
        if self.config is not None:
            self.write_config()
        register(self)
        self.proc = spawn(self.command, log=self.log_path, cwd=self.workdir)
        wait_for_port(self.host, self.port, timeout=timeout, name=" ".join(self.command),
                      proc=self.proc, log=self.log_path)
        return self

    def stop(self) -> int | None:
        code = terminate(self.proc) if self.proc else None
        unregister(self)
        return code

    def cleanup(self) -> None:
        self.stop()
        if self._own_workdir:
            remove_workdir(self.workdir)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return tail(self.log_path, max_chars=20000)

    # -- clients pointed at the proxy ----------------------------------------------------------
    def connect(self, *, user: str, dbname: str, **kwargs):
        return clients.connect(self.port, user=user, dbname=dbname, host=self.host, **kwargs)

    def psql(self, sql: str | None = None, *, user: str, dbname: str, **kwargs) -> str:
        return clients.psql(self.port, sql, user=user, dbname=dbname, host=self.host, **kwargs)

    def run_psql(self, sql: str | None = None, *, user: str, dbname: str, **kwargs):
        return clients.run_psql(self.port, sql, user=user, dbname=dbname, host=self.host,
                                **kwargs)
