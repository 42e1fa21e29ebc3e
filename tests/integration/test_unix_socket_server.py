"""A server given as a Unix-socket directory (host = "/dir", as in libpq): the proxy's
pooled connections, cancel requests and errors go through DIR/.s.PGSQL.PORT."""
import threading
import time
from urllib.parse import quote

import psycopg2
import pytest

from conftest import APP_DB, APP_USER
from harness import run_pgbench

CLIENTS = 8
TRANSACTIONS = 100  # per client


def socket_url(pg, dbname: str = APP_DB) -> str:
    return f"postgresql://{APP_USER}@{quote(str(pg.socket_dir), safe='')}:{pg.port}/{dbname}"


def proxy_backends(pg) -> dict[str, int]:
    """The application user's server backends, counted by how they connected."""
    rows = pg.query("SELECT client_addr IS NULL, count(*) FROM pg_stat_activity"
                    " WHERE usename = %s AND backend_type = 'client backend'"
                    " GROUP BY 1", [APP_USER])
    return {("unix" if local else "tcp"): n for local, n in rows}


def test_pgbench_through_a_unix_socket_server(pgbench_db, sluice):
    # Two workers and fewer connections than clients: connections move between workers.
    proxy = sluice(args=["--server", socket_url(pgbench_db)], server=False,
                   pool_mode="transaction", pool_size=3, workers=2)
    result = run_pgbench(proxy.port, ["-n", "-c", str(CLIENTS), "-j", "2",
                                      "-t", str(TRANSACTIONS)], user=APP_USER, dbname=APP_DB)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"actually processed: {CLIENTS * TRANSACTIONS}/" in output, output
    assert "number of failed transactions: 0 " in output, output
    # The pool's connections, idle now, all came in through the socket.
    assert proxy_backends(pgbench_db).get("unix") == 3


def test_tls_settings_do_not_apply_to_a_unix_socket(pg, sluice):
    # As in libpq, sslmode is ignored on a Unix socket, where PostgreSQL offers no TLS.
    proxy = sluice(config={"tls": {"server_sslmode": "require"},
                           "databases": {APP_DB: {"url": socket_url(pg)}}})
    assert proxy.psql("SELECT current_user", user=APP_USER, dbname=APP_DB).strip() == APP_USER
    assert proxy_backends(pg).get("unix", 0) >= 1


def test_cancel_reaches_the_backend_through_the_socket(pg, sluice):
    proxy = sluice(args=["--server", socket_url(pg)], server=False, pool_mode="transaction")
    conn = proxy.connect(user=APP_USER, dbname=APP_DB)
    error = []

    def sleep():
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(30)")
        except psycopg2.Error as exc:
            error.append(exc)

    try:
        query = threading.Thread(target=sleep, daemon=True)
        query.start()
        deadline = time.monotonic() + 10
        while not pg.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active'"
                           " AND query = 'SELECT pg_sleep(30)'"):
            assert time.monotonic() < deadline, "the query never started on the server"
            time.sleep(0.05)
        conn.cancel()
        query.join(5)
        assert not query.is_alive(), "the cancel did not reach the server"
        assert error and error[0].pgcode == "57014", error
    finally:
        conn.close()


def test_a_missing_socket_is_a_connection_error_naming_it(sluice, tmp_path):
    missing = tmp_path / "no-server-here"
    proxy = sluice(args=["--server", f"postgresql://{APP_USER}@{quote(str(missing), safe='')}"
                                     f"/{APP_DB}"], server=False)
    with pytest.raises(psycopg2.OperationalError) as failed:
        proxy.connect(user=APP_USER, dbname=APP_DB).cursor().execute("SELECT 1")
    assert f"{missing}/.s.PGSQL.5432" in str(failed.value)
    assert "No such file or directory" in str(failed.value)
