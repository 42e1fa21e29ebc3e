"""SIGTERM drains (docs/operations.md#shutdown): the proxy stops accepting at once, lets a
transaction under way finish within shutdown_timeout, then exits cleanly; past the timeout
the transaction is cut and PostgreSQL rolls it back."""
import signal
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER, one_row_table


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def refuses_connections(proxy) -> bool:
    try:
        proxy.connect(user=APP_USER, dbname=APP_DB, connect_timeout=2).close()
        return False
    except psycopg2.OperationalError:
        return True


def start_draining(sluice, pg, timeout: str, table: str):
    """A proxy with one client inside a transaction that updated `table`, then SIGTERM."""
    one_row_table(pg, table)
    proxy = sluice({"server": {"shutdown_timeout": timeout}}, pool_mode="transaction",
                   pool_size=2)
    conn = proxy.connect(user=APP_USER, dbname=APP_DB, autocommit=False)
    conn.cursor().execute(f"UPDATE {table} SET v = 1 WHERE id = 1")
    proxy.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "shutting down" in proxy.log(), 5, "the drain to start")
    return proxy, conn


def test_sigterm_lets_the_transaction_finish(pg, sluice):
    proxy, conn = start_draining(sluice, pg, "20s", "shutdown_finish")
    wait_for(lambda: refuses_connections(proxy), 5, "new connections to be refused")
    assert proxy.proc.poll() is None, "exited while a transaction was under way"
    conn.commit()  # the transaction finishes through the draining proxy
    started = time.monotonic()
    assert proxy.proc.wait(timeout=10) == 0, proxy.log()
    assert time.monotonic() - started < 5, "did not exit once the transaction ended"
    conn.close()
    assert pg.psql("SELECT v FROM shutdown_finish", dbname=APP_DB) == "1"


def test_shutdown_timeout_cuts_the_transaction(pg, sluice):
    started = time.monotonic()
    proxy, conn = start_draining(sluice, pg, "1s", "shutdown_cut")
    assert proxy.proc.wait(timeout=10) == 0, proxy.log()
    assert time.monotonic() - started < 8
    assert "shutdown_timeout" in proxy.log()
    with pytest.raises(psycopg2.Error):
        conn.commit()
    conn.close()
    # The server rolled the cut transaction back.
    wait_for(lambda: pg.psql("SELECT v FROM shutdown_cut", dbname=APP_DB) == "0", 5,
             "the rollback")
