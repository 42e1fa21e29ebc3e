"""`sluice serve --takeover` (docs/operations.md#binary-upgrade-and-restart---takeover): a new
process takes the listening sockets of the running one, which stops accepting, lets its
clients finish and exits 0. Under a new connection per transaction (pgbench -C) no connection
attempt and no transaction fails, on both event-loop backends, through two takeovers in a
row and with worker counts that differ."""
import re
import socket
import subprocess
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER, one_row_table, server_url
from harness import free_port, sluice_bin, start_pgbench
from harness.http import request
from test_pgbench import bank_invariants

CLIENTS = 8
OLD_EXIT_TIMEOUT = 15  # the old process's clients leave at their transaction's end


def connection_per_transaction(port: int, seconds: int, *, select_only: bool):
    """pgbench -C (a new connection for every transaction) in the background, with a
    progress line every second."""
    args = ["-n", "-C", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds), "-P", "1"]
    return start_pgbench(port, args + (["-S"] if select_only else []), user=APP_USER,
                         dbname=APP_DB)


def finish(load, seconds: int) -> dict:
    """Waits for pgbench; asserts nothing failed and returns its figures."""
    try:
        out, err = load.communicate(timeout=seconds + 60)
    finally:
        if load.poll() is None:
            load.kill()
            load.communicate()
    output = out + err
    assert load.returncode == 0, output
    assert "number of failed transactions: 0 " in output, output
    assert "aborted" not in output and "error" not in output.lower(), output
    processed = int(re.search(r"number of transactions actually processed: (\d+)", output)[1])
    # Every second served transactions: the handover left no gap.
    per_second = [float(t) for t in re.findall(r"progress: [\d.]+ s, ([\d.]+) tps", err)]
    assert len(per_second) >= seconds - 1 and min(per_second) > 0, err
    return {"transactions": processed, "failed": 0, "min_tps": min(per_second)}


def take_over(sluice, old, args=()):
    """Starts the successor and waits for the old process to exit 0."""
    new = sluice.takeover(old, args=args)
    assert old.proc.wait(timeout=OLD_EXIT_TIMEOUT) == 0, old.log()
    assert "takeover: pid" in old.log()
    return new


# auto = io_uring where the kernel allows it; the last pair switches backends on the way.
@pytest.mark.parametrize("old_backend,new_backend",
                         [("epoll", "epoll"), ("auto", "auto"), ("epoll", "auto")])
def test_takeover_under_connection_per_transaction_load(pgbench_db, sluice, old_backend,
                                                        new_backend):
    seconds = 12
    old = sluice(io_backend=old_backend, pool_mode="transaction", pool_size=4, workers=2)
    load = connection_per_transaction(old.port, seconds, select_only=True)
    started = time.monotonic()
    try:
        time.sleep(3)
        assert load.poll() is None
        new = take_over(sluice, old, args=["--workers", "3", "--io-backend", new_backend])
        assert time.monotonic() - started < seconds - 3, "too little load left on the new one"
    finally:
        figures = finish(load, seconds)
    print(f"\nTAKEOVER {old_backend} -> {new_backend} pgbench -C -S c{CLIENTS}: {figures}")
    assert new.alive()
    assert new.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


def test_second_takeover_tpcb_and_admin_endpoint(pgbench_db, sluice):
    """old -> new -> newer under TPC-B with a connection per transaction; the admin HTTP
    socket is handed over too. Every transaction ran once: the balances add up."""
    seconds = 14
    admin_port = free_port()
    history_before = bank_invariants(pgbench_db)[4]
    old = sluice({"admin": {"admin_listen": f"127.0.0.1:{admin_port}"}},
                 pool_mode="transaction", pool_size=4, workers=2)
    load = connection_per_transaction(old.port, seconds, select_only=False)
    try:
        time.sleep(3)
        new = take_over(sluice, old, args=["--workers", "1"])
        time.sleep(3)
        newer = take_over(sluice, new, args=["--workers", "3"])
        assert request(f"http://127.0.0.1:{admin_port}/health").status == 200
    finally:
        figures = finish(load, seconds)
    print(f"\nTAKEOVER twice, pgbench -C TPC-B c{CLIENTS}: {figures}")
    delta, accounts, tellers, branches, history = bank_invariants(pgbench_db)
    assert history - history_before == figures["transactions"]
    assert accounts == tellers == branches == delta
    assert newer.alive()


def test_clients_of_the_old_process(pg, sluice):
    """A transaction open at the takeover commits through the old process; idle clients are
    served by it until shutdown_timeout, then closed when it exits. New ones reach the new
    process."""
    table = one_row_table(pg, "takeover_tx")
    old = sluice({"server": {"shutdown_timeout": "3s"}}, pool_mode="transaction", pool_size=2)
    idle = old.connect(user=APP_USER, dbname=APP_DB)
    tx = old.connect(user=APP_USER, dbname=APP_DB, autocommit=False)
    tx.cursor().execute(f"UPDATE {table} SET v = 1 WHERE id = 1")
    started = time.monotonic()
    new = sluice.takeover(old)
    fresh = new.connect(user=APP_USER, dbname=APP_DB)
    tx.commit()
    idle.cursor().execute("SELECT 1")  # still served while the old one drains
    assert old.alive()
    assert old.proc.wait(timeout=10) == 0, old.log()
    assert time.monotonic() - started > 2.5, "did not wait for its clients"
    assert "shutdown_timeout: closing 2 client connections (0 inside a transaction)" in old.log()
    for conn in (idle, tx):
        with pytest.raises(psycopg2.OperationalError):
            conn.cursor().execute("SELECT 1")
        conn.close()
    cur = fresh.cursor()
    cur.execute(f"SELECT v FROM {table}")
    assert cur.fetchone() == (1,)
    fresh.close()


def test_long_lived_pgbench_clients_are_cut_at_shutdown_timeout(pgbench_db, sluice):
    """What plain pgbench (one connection per client for the whole run) sees: its clients
    keep running transactions through the old process until shutdown_timeout, then every
    one of them loses its connection (pgbench aborts it) when the old process exits. What
    had committed stays committed, what was open is rolled back."""
    clients = 4
    history_before = bank_invariants(pgbench_db)[4]
    old = sluice({"server": {"shutdown_timeout": "2s"}}, pool_mode="transaction", pool_size=4)
    load = start_pgbench(old.port, ["-n", "-c", str(clients), "-j", "2", "-T", "30"],
                         user=APP_USER, dbname=APP_DB)
    try:
        time.sleep(2)
        take_over(sluice, old)
        out, err = load.communicate(timeout=30)  # ends early: every client aborted
    finally:
        if load.poll() is None:
            load.kill()
            load.communicate()
    print(f"\nTAKEOVER plain pgbench c{clients}: {err.strip()}")
    assert load.returncode == 2, out + err
    assert len(re.findall(r"client \d+ aborted", err)) == clients, err
    assert f"shutdown_timeout: closing {clients} client connections" in old.log()
    processed = int(re.search(r"number of transactions actually processed: (\d+)", out)[1])
    delta, accounts, tellers, branches, history = bank_invariants(pgbench_db)
    # A client cut while its COMMIT was on the way may not have heard that it committed.
    assert processed <= history - history_before <= processed + clients
    assert accounts == tellers == branches == delta


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(sluice_bin()), "serve", *args], capture_output=True, text=True,
                          timeout=30)


def test_takeover_with_nothing_running(pg, tmp_path):
    port = free_port()
    result = serve("--takeover", "--listen", f"127.0.0.1:{port}", "--server", server_url(pg))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (f"sluice: --takeover: no running sluice on "
                             f"/tmp/.s.SLUICE.{port}.takeover (No such file or directory): "
                             f"start without --takeover\n")
    # A file left by a process that died: nobody answers on it.
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.bind(str(stale))
    result = serve("--takeover", "--takeover-socket", str(stale), "--listen",
                   f"127.0.0.1:{port}", "--server", server_url(pg))
    assert result.returncode == 2
    assert result.stderr == (f"sluice: --takeover: no running sluice on {stale} (Connection "
                             f"refused): start without --takeover\n")


def test_takeover_socket_off_or_not_creatable(sluice, pg, tmp_path):
    result = serve("--takeover", "--takeover-socket", "", "--listen", f"127.0.0.1:{free_port()}",
                   "--server", server_url(pg))
    assert result.returncode == 2
    assert result.stderr.startswith('sluice: --takeover: server.takeover_socket is "" (none)')
    # A proxy started afresh serves without one it cannot create.
    proxy = sluice(args=["--takeover-socket", str(tmp_path / "missing" / "t.sock")])
    assert "cannot create the takeover socket" in proxy.log()
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


def test_takeover_refuses_to_drop_an_address(sluice, pg):
    """A configuration without one of the old process's addresses is refused; the old one
    carries on untouched."""
    old = sluice()
    result = serve("--takeover", "--takeover-socket", f"/tmp/.s.SLUICE.{old.port}.takeover",
                   "--listen", f"127.0.0.1:{free_port()}", "--server", server_url(pg))
    assert result.returncode == 2
    assert f"listens on 127.0.0.1:{old.port}, which this configuration does not" in \
        result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert old.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
    # And a later takeover still works.
    new = sluice.takeover(old)
    assert old.proc.wait(timeout=OLD_EXIT_TIMEOUT) == 0, old.log()
    assert new.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


def test_second_proxy_on_the_same_takeover_socket_is_refused(sluice, pg):
    old = sluice()
    result = serve("--listen", f"127.0.0.1:{old.port}", "--server", server_url(pg))
    assert result.returncode == 2
    assert f"another sluice is running with takeover socket /tmp/.s.SLUICE.{old.port}" \
        ".takeover" in result.stderr, result.stderr
    assert old.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


def test_second_proxy_with_its_takeover_socket_off_is_refused(sluice, pg):
    """Without a takeover socket to find, the port itself tells: a second proxy would
    otherwise join the first one's SO_REUSEPORT group and take part of its clients."""
    old = sluice(args=["--takeover-socket", ""])
    result = serve("--takeover-socket", "", "--listen", f"127.0.0.1:{old.port}",
                   "--server", server_url(pg))
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"sluice: cannot listen on 127.0.0.1:{old.port}: another process listens there (a "
        "sluice, PgBouncer or PostgreSQL): stop it, replace a running sluice with `sluice "
        "serve --takeover`, or pick another address with --listen\n")
    # Every connection still reaches the first proxy.
    for _ in range(20):
        assert old.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


def test_a_port_shared_with_so_reuseport_is_refused(pg):
    # Another program of this user that listens with SO_REUSEPORT, as PgBouncer does with
    # so_reuseport = 1: binding alone would succeed and split the connections.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = serve("--takeover-socket", "", "--listen", f"127.0.0.1:{port}",
                       "--server", server_url(pg))
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"sluice: cannot listen on 127.0.0.1:{port}: another "
                                    "process listens there"), result.stderr


def test_second_proxy_sharing_the_unix_socket_hears_of_takeover(sluice, pg, tmp_path):
    """The takeover socket is asked first, so the message names --takeover rather than
    the Unix socket both would use."""
    old = sluice(args=["--unix-socket-dir", str(tmp_path)])
    result = serve("--unix-socket-dir", str(tmp_path), "--listen", f"127.0.0.1:{old.port}",
                   "--server", server_url(pg))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"sluice: another sluice is running with takeover socket /tmp/.s.SLUICE.{old.port}"
        ".takeover: replace it with `sluice serve --takeover`"), result.stderr
    assert (tmp_path / f".s.PGSQL.{old.port}").is_socket()
    assert old.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
