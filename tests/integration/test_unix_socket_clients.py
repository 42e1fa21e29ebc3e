"""Clients on the proxy's Unix-domain socket (server.unix_socket_dir, --unix-socket-dir): the
file DIR/.s.PGSQL.PORT that libpq opens for host=DIR, with PORT the first listen port.
Unix clients show as addr "unix" with the listen port, as in PgBouncer."""
import csv
import grp
import io
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER, server_url
from harness import (PostgresServer, SluiceProxy, connect, free_port, make_self_signed_cert,
                     run_pgbench, run_psql, sluice_bin, start_pgbench, write_userlist)
from harness.http import request
from test_takeover import finish

ADMIN = PostgresServer.SUPERUSER
CLIENTS = 8
TRANSACTIONS = 100  # per client


def socket_file(proxy, directory) -> str:
    return os.path.join(directory, f".s.PGSQL.{proxy.port}")


def unix_psql(proxy, directory, sql: str, *, user: str = APP_USER, dbname: str = APP_DB,
              args=(), os_user: str | None = None) -> subprocess.CompletedProcess:
    return run_psql(proxy.port, sql, user=user, dbname=dbname, host=str(directory), args=args,
                    os_user=os_user)


def unix_connect(proxy, directory, *, user: str = APP_USER, **kwargs):
    return connect(proxy.port, user=user, dbname=APP_DB, host=str(directory), **kwargs)


def show_clients(proxy, directory) -> list[dict]:
    result = unix_psql(proxy, directory, "SHOW CLIENTS", user=ADMIN, dbname="sluice",
                       args=("--csv",))
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(sluice_bin()), "serve", *args], capture_output=True, text=True,
                          timeout=30)


def test_psql_gets_results_over_the_socket(sluice, tmp_path):
    proxy = sluice(unix_socket_dir=str(tmp_path))
    result = unix_psql(proxy, tmp_path, "SELECT current_user, 40 + 2", args=("-A", "-t"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{APP_USER}|42"
    mode = os.stat(socket_file(proxy, tmp_path)).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o777  # PgBouncer's default
    # TCP goes on as before.
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


# auto = io_uring where the kernel allows it.
@pytest.mark.parametrize("io_backend", ["epoll", "auto"])
def test_pgbench_in_transaction_mode(pgbench_db, sluice, tmp_path, io_backend):
    # Two workers accept on the one socket; fewer server connections than clients.
    proxy = sluice(unix_socket_dir=str(tmp_path), pool_mode="transaction", pool_size=3,
                   workers=2, io_backend=io_backend)
    result = run_pgbench(proxy.port, ["-n", "-c", str(CLIENTS), "-j", "2",
                                      "-t", str(TRANSACTIONS)],
                         user=APP_USER, dbname=APP_DB, host=str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"actually processed: {CLIENTS * TRANSACTIONS}/" in output, output
    assert "number of failed transactions: 0 " in output, output


def test_show_clients_and_the_http_api_show_unix_clients(sluice, tmp_path):
    admin_port = free_port()
    proxy = sluice({"admin": {"users": [ADMIN], "admin_listen": f"127.0.0.1:{admin_port}"}},
                   unix_socket_dir=str(tmp_path))
    local = unix_connect(proxy, tmp_path, application_name="over_unix")
    remote = proxy.connect(user=APP_USER, dbname=APP_DB, application_name="over_tcp")
    try:
        rows = {r["application_name"]: r for r in show_clients(proxy, tmp_path)}
        port = str(proxy.port)
        assert (rows["over_unix"]["addr"], rows["over_unix"]["port"]) == ("unix", port)
        assert (rows["over_unix"]["local_addr"], rows["over_unix"]["local_port"]) == \
            ("unix", port)
        assert rows["over_tcp"]["addr"] == "127.0.0.1"
        assert rows["over_tcp"]["local_addr"] == "127.0.0.1"
        assert rows["over_tcp"]["local_port"] == port
        # The console's own client came over the socket too.
        assert rows["psql"]["addr"] == "unix"
        api = {c["application_name"]: c for c in
               request(f"http://127.0.0.1:{admin_port}/api/v1/clients").json()}
        assert (api["over_unix"]["addr"], api["over_unix"]["port"]) == ("unix", proxy.port)
        assert api["over_tcp"]["addr"] == "127.0.0.1"
    finally:
        local.close()
        remote.close()


def test_passwords_are_checked_as_over_tcp(pg, sluice, tmp_path):
    user = "scram_user"
    userlist = write_userlist(tmp_path / "userlist.txt", {user: pg.secret(user)})
    proxy = sluice({"auth": {"type": "scram-sha-256", "file": str(userlist)},
                    "databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB}}},
                   unix_socket_dir=str(tmp_path))
    conn = unix_connect(proxy, tmp_path, user=user, password=PostgresServer.PASSWORDS[user])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == (user,)
    finally:
        conn.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        unix_connect(proxy, tmp_path, user=user, password="wrong").close()


def test_a_parked_client_comes_back(sluice, tmp_path):
    """An idle client's socket goes to the worker's parking lot (after 5 s idle) and its
    session resumes on its next query."""
    proxy = sluice(unix_socket_dir=str(tmp_path), pool_mode="transaction")
    conn = unix_connect(proxy, tmp_path)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            time.sleep(7)
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
    finally:
        conn.close()


def test_tls_is_neither_offered_nor_required_on_the_socket(sluice, tmp_path):
    # As PostgreSQL does on a Unix socket: it is local, not on the network.
    cert, key = make_self_signed_cert(tmp_path / "tls", "proxy")
    sock_dir = tmp_path / "sock"
    sock_dir.mkdir()
    proxy = sluice({"tls": {"client_cert": str(cert), "client_key": str(key),
                            "client_require": True}}, unix_socket_dir=str(sock_dir))
    conn = unix_connect(proxy, sock_dir)
    try:
        assert not conn.info.ssl_in_use
    finally:
        conn.close()
    with pytest.raises(psycopg2.OperationalError, match="SSL required"):
        proxy.connect(user=APP_USER, dbname=APP_DB, sslmode="disable").close()


def test_the_socket_file_goes_when_the_proxy_stops(sluice, tmp_path):
    proxy = sluice(unix_socket_dir=str(tmp_path))
    path = socket_file(proxy, tmp_path)
    assert os.path.exists(path)
    assert proxy.stop() == 0
    assert not os.path.exists(path)


def test_a_second_proxy_on_the_same_socket_is_refused(sluice, pg, tmp_path):
    first = sluice(unix_socket_dir=str(tmp_path))
    path = socket_file(first, tmp_path)
    # Its own takeover socket, so that only the Unix socket is in the way.
    result = serve("--listen", f"127.0.0.1:{first.port}", "--server", server_url(pg),
                   "--takeover-socket", str(tmp_path / "other.takeover"),
                   "--unix-socket-dir", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"sluice: another server is listening on the Unix socket {path} (a sluice, PgBouncer "
        f"or PostgreSQL with the same directory and port): stop it, or set another "
        f"server.unix_socket_dir (--unix-socket-dir) or listen port\n")
    # The first one's socket is untouched.
    result = unix_psql(first, tmp_path, "SELECT 1", args=("-A", "-t"))
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr


def test_a_stale_socket_file_is_replaced(sluice, pg, tmp_path):
    dead = sluice(unix_socket_dir=str(tmp_path))
    dead.proc.kill()  # no chance to remove its file
    dead.proc.wait()
    path = socket_file(dead, tmp_path)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    proxy = SluiceProxy(args=["--server", server_url(pg), "--unix-socket-dir", str(tmp_path)],
                        workdir=tmp_path, name="revived", port=dead.port)
    try:
        proxy.start()
        assert f"removed the stale Unix socket {path}" in proxy.log()
        result = unix_psql(proxy, tmp_path, "SELECT 1", args=("-A", "-t"))
        assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr
    finally:
        proxy.stop()


def test_takeover_keeps_the_socket_serving(pgbench_db, sluice, tmp_path):
    """A new connection per transaction on the Unix socket through a takeover: the socket is
    handed over, so no connection attempt fails; the old process leaves the file to the new
    one, which removes it when it stops."""
    seconds = 10
    old = sluice(unix_socket_dir=str(tmp_path), pool_mode="transaction", pool_size=4, workers=2)
    path = socket_file(old, tmp_path)
    load = start_pgbench(old.port, ["-n", "-C", "-S", "-c", str(CLIENTS), "-j", "2",
                                    "-T", str(seconds), "-P", "1"],
                         user=APP_USER, dbname=APP_DB, host=str(tmp_path))
    try:
        time.sleep(3)
        assert load.poll() is None
        new = sluice.takeover(old, args=["--workers", "3"])
        assert old.proc.wait(timeout=15) == 0, old.log()
    except BaseException:
        load.kill()
        load.communicate()
        raise
    finish(load, seconds)  # no failed transaction, and some in every second
    assert f"taking over the Unix socket {path} from pid {old.proc.pid}" in new.log()
    assert "removed the stale" not in new.log()
    # The old process exited without removing the file the new one serves.
    assert os.path.exists(path)
    result = unix_psql(new, tmp_path, "SELECT 1", args=("-A", "-t"))
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr
    assert new.stop() == 0
    assert not os.path.exists(path)


def test_takeover_refuses_to_drop_the_socket(sluice, pg, tmp_path):
    """A successor without the old process's Unix socket would close it: refused, and the
    old process carries on."""
    old = sluice(unix_socket_dir=str(tmp_path))
    result = serve("--takeover", "--listen", f"127.0.0.1:{old.port}", "--server", server_url(pg))
    assert result.returncode == 2, result.stderr
    assert (f"accepts clients on the Unix socket {socket_file(old, tmp_path)}, which this "
            f"configuration does not") in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = unix_psql(old, tmp_path, "SELECT 1", args=("-A", "-t"))
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr


def test_reload_does_not_move_the_socket(sluice, tmp_path):
    """unix_socket_dir is set at start: RELOAD keeps the socket where it is and says so."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    proxy = sluice({"server": {"unix_socket_dir": str(first)}})
    proxy.write_config({"server": {"unix_socket_dir": str(second)}})
    proxy.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "configuration reloaded" not in proxy.log():
        assert time.monotonic() < deadline, proxy.log()
        time.sleep(0.02)
    assert (f'reload: unix_socket_dir = "{second}" is not applied: it is set at start '
            f'(still "{first}"); restart to change it') in proxy.log()
    assert not os.path.exists(socket_file(proxy, second))
    result = unix_psql(proxy, first, "SELECT 1", args=("-A", "-t"))
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr


@pytest.fixture
def shared_dir():
    """A directory other users may reach (pytest's tmp_path is its owner's alone)."""
    path = tempfile.mkdtemp(prefix="sluice-socket-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def psql_as(os_user: str, proxy, directory) -> subprocess.CompletedProcess:
    return unix_psql(proxy, directory, "SELECT 1", args=("-A", "-t"), os_user=os_user)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file another group needs root here")
def test_mode_and_group_decide_who_may_connect(sluice, shared_dir):
    """unix_socket_mode 0770 with unix_socket_group: members of the group connect, other
    users are refused by the kernel before any login, as with PgBouncer's settings."""
    proxy = sluice({"server": {"unix_socket_dir": shared_dir, "unix_socket_mode": "0770",
                               "unix_socket_group": "postgres"}})
    st = os.stat(socket_file(proxy, shared_dir))
    assert stat.S_IMODE(st.st_mode) == 0o770
    assert st.st_gid == grp.getgrnam("postgres").gr_gid
    member = psql_as("postgres", proxy, shared_dir)
    assert member.returncode == 0 and member.stdout.strip() == "1", member.stderr
    other = psql_as("nobody", proxy, shared_dir)
    assert other.returncode != 0
    assert "Permission denied" in other.stderr, other.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file another group needs root here")
def test_takeover_gives_the_socket_the_new_mode_and_group(sluice, shared_dir):
    """The socket is handed over, not bound anew: the successor still applies its own
    configuration's mode and group to the file."""
    old = sluice({"server": {"unix_socket_dir": shared_dir}})
    path = socket_file(old, shared_dir)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o777
    assert psql_as("nobody", old, shared_dir).returncode == 0
    old.config["server"] |= {"unix_socket_mode": "0770", "unix_socket_group": "postgres"}
    new = sluice.takeover(old)
    assert old.proc.wait(timeout=15) == 0, old.log()
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o770
    assert st.st_gid == grp.getgrnam("postgres").gr_gid
    assert "Permission denied" in psql_as("nobody", new, shared_dir).stderr
    member = psql_as("postgres", new, shared_dir)
    assert member.returncode == 0 and member.stdout.strip() == "1", member.stderr
