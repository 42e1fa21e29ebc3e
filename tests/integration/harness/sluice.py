"""Starts `$SLUICE_BIN serve` on a free port with a TOML file and/or flags."""
from __future__ import annotations

import copy
import os
import subprocess
import tempfile
import time
from pathlib import Path

from . import clients, toml_writer
from .util import (REPO_ROOT, StartupError, free_port, register, remove_workdir, spawn, tail,
                   terminate, unregister, wait_for_port)

STARTUP_TIMEOUT = 15.0
TAKEOVER_FLAG = "--takeover"
# Logged by `serve --takeover` once the old process was told to stop accepting.
TAKEOVER_DONE = "took over the listening sockets of pid"


def sluice_bin() -> Path:
    """$SLUICE_BIN (relative paths are taken from the repository root), else build/sluice."""
    path = Path(os.environ.get("SLUICE_BIN", "build/sluice"))
    return path if path.is_absolute() else REPO_ROOT / path


class SluiceProxy:
    """One proxy process. `config` is written to sluice.toml and passed with -c."""

    def __init__(self, *, config: dict | None = None, args: list[str] | tuple = (),
                 workdir: Path | None = None, name: str = "sluice", port: int | None = None):
        self.name = name
        self.host = "127.0.0.1"
        self.port = port or free_port()
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
        if TAKEOVER_FLAG in self.extra_args:
            # The port is open all along (the old process): wait for the handover instead.
            self._wait_for_log(TAKEOVER_DONE, timeout)
        else:
            wait_for_port(self.host, self.port, timeout=timeout, name=" ".join(self.command),
                          proc=self.proc, log=self.log_path)
        return self

    def successor(self, *, args: list[str] | tuple = (), name: str) -> "SluiceProxy":
        """An unstarted `sluice serve --takeover` in place of this proxy: same port, config and
        flags, except the flags `args` gives again (e.g. ["--workers", "3"])."""
        flags = _without_flags(self.extra_args, {a for a in args if a.startswith("--")})
        flags = [f for f in flags if f != TAKEOVER_FLAG] + [TAKEOVER_FLAG, *args]
        return SluiceProxy(config=copy.deepcopy(self.config), args=flags, workdir=self.workdir,
                           name=name, port=self.port)

    def _wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in tail(self.log_path, max_chars=1 << 20):
            if self.proc.poll() is not None:
                raise StartupError(f"{' '.join(self.command)} exited with code "
                                   f"{self.proc.returncode}; its output:\n{self.log()}")
            if time.monotonic() > deadline:
                raise StartupError(f"{' '.join(self.command)} did not log {text!r} within "
                                   f"{timeout:.0f}s; its output:\n{self.log()}")
            time.sleep(0.05)

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


def _without_flags(args: list[str], flags: set[str]) -> list[str]:
    """`args` without the given flags and their values."""
    out: list[str] = []
    skip_value = False
    for arg in args:
        if skip_value and not arg.startswith("--"):
            skip_value = False
            continue
        skip_value = arg in flags
        if not skip_value:
            out.append(arg)
    return out
