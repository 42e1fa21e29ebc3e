"""The two event-loop backends (io_backend, docs/architecture.md#io-backends) serve the same
workload with the same results: epoll everywhere, io_uring where the kernel allows it, and
`auto` picks io_uring exactly there."""
import ctypes
import os
import signal
import time

import pytest

from conftest import APP_DB, APP_USER
from test_pgbench import run_tpcb

CLIENTS = 8
TRANSACTIONS = 40  # per client
SYS_IO_URING_SETUP = 425  # x86-64 and arm64 alike


def kernel_allows_io_uring() -> bool:
    """Asks the kernel directly (not through the proxy) for a small io_uring."""
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
    fd = libc.syscall(SYS_IO_URING_SETUP, 4, params)
    if fd < 0:
        return False
    os.close(fd)
    return True


@pytest.mark.parametrize("protocol", ["simple", "prepared"])
@pytest.mark.parametrize("backend", ["epoll", "io_uring"])
def test_backend_serves_pgbench(pgbench_db, sluice, backend, protocol):
    if backend == "io_uring" and not kernel_allows_io_uring():
        pytest.skip("this kernel refuses io_uring")
    proxy = sluice(io_backend=backend, pool_mode="transaction", pool_size=4, workers=2)
    assert f"with 2 workers on {backend}" in proxy.log()
    run_tpcb(pgbench_db, proxy.port, protocol, CLIENTS, TRANSACTIONS)


def test_auto_picks_io_uring_where_allowed(sluice):
    proxy = sluice(io_backend="auto")
    expected = "io_uring" if kernel_allows_io_uring() else "epoll"
    assert f"workers on {expected}" in proxy.log()
    assert proxy.psql("SELECT 41 + 1", user=APP_USER, dbname=APP_DB) == "42"


@pytest.mark.parametrize("backend", ["epoll", "io_uring"])
def test_signals_on_each_backend(sluice, backend):
    """SIGHUP reloads and SIGTERM stops cleanly on both backends (signals reach the main loop
    through a sigwait thread, not through asio)."""
    if backend == "io_uring" and not kernel_allows_io_uring():
        pytest.skip("this kernel refuses io_uring")
    proxy = sluice(io_backend=backend)
    proxy.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "configuration reloaded" not in proxy.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "configuration reloaded" in proxy.log()
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
    started = time.monotonic()
    proxy.proc.send_signal(signal.SIGTERM)
    assert proxy.proc.wait(timeout=5) == 0, proxy.log()
    assert time.monotonic() - started < 5
    assert "stopped" in proxy.log()
