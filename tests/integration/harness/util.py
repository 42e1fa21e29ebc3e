"""Process, port and cleanup helpers shared by the harness modules.

Every server the harness starts registers here; `stop_all()` runs at interpreter exit
(and on SIGTERM/SIGHUP, which are turned into KeyboardInterrupt) so nothing outlives a run.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
IS_ROOT = os.geteuid() == 0
PG_OS_USER = "postgres"  # initdb, postgres and pgbouncer refuse to run as root

_handed_out_ports: set[int] = set()
_running: dict[int, object] = {}


class StartupError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now and that this process has not handed out before."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port
    raise RuntimeError("no free TCP port found")


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path | None, max_chars: int = 6000) -> str:
    if path is None or not Path(path).exists():
        return "(no log)"
    text = Path(path).read_text(errors="replace")
    return text if len(text) <= max_chars else "...\n" + text[-max_chars:]


def wait_for_port(host: str, port: int, *, timeout: float, name: str,
                  proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Waits until host:port accepts TCP connections; fails early if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StartupError(f"{name} exited with code {proc.returncode} before listening on "
                               f"{host}:{port}; its output:\n{tail(log)}")
        if port_open(host, port):
            return
        time.sleep(0.05)
    raise StartupError(f"{name} did not accept connections on {host}:{port} within "
                       f"{timeout:.0f}s; its output:\n{tail(log)}")


def as_postgres(cmd: list[str]) -> list[str]:
    """Prefixes a command so it runs as the `postgres` OS user when we are root."""
    return ["runuser", "-u", PG_OS_USER, "--", *cmd] if IS_ROOT else list(cmd)


def chown_postgres(path: Path) -> None:
    if IS_ROOT:
        shutil.chown(path, user=PG_OS_USER, group=PG_OS_USER)


def server_workdir(prefix: str) -> Path:
    """A new temporary directory a server run as the `postgres` user can write to."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    chown_postgres(path)
    return path


def remove_workdir(path: Path) -> None:
    """Deletes a server's directory, unless SLUICE_KEEP_TMP asks to keep it for a look."""
    if not os.environ.get("SLUICE_KEEP_TMP"):
        shutil.rmtree(path, ignore_errors=True)


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: a SIGKILLed test run takes its servers along.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(cmd: list[str], *, log: Path, cwd: Path | None = None,
          env: dict[str, str] | None = None, as_postgres_user: bool = False) -> subprocess.Popen:
    """Starts a long-running server with stdout+stderr appended to `log`.

    as_postgres_user: when root, the process itself runs as `postgres` (no runuser in
    between, whose SIGTERM handling adds a 2 s pause). Call from the main thread: the child
    is signalled when the thread that forked it exits.
    """
    user = {}
    if as_postgres_user and IS_ROOT:
        user = {"user": PG_OS_USER, "group": PG_OS_USER, "extra_groups": []}
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                start_new_session=True, preexec_fn=_die_with_parent, **user)


def terminate(proc: subprocess.Popen, grace: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    return proc.returncode


def register(server: object) -> None:
    _running[id(server)] = server


def unregister(server: object) -> None:
    _running.pop(id(server), None)


@atexit.register
def stop_all() -> None:
    """Stops every server still registered (newest first: proxies before PostgreSQL)."""
    for server in reversed(list(_running.values())):
        try:
            server.stop()
        except Exception as exc:  # keep stopping the others
            print(f"harness: failed to stop {server!r}: {exc}")


def install_signal_handlers() -> None:
    """Turns SIGTERM/SIGHUP into KeyboardInterrupt so fixtures' finalizers run."""
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def vm_rss_kb(pid: int) -> int:
    """A process's resident memory (VmRSS), in kB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")
