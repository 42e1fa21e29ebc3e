"""Query cancellation (CancelRequest) through the proxy reaches the right backend."""
import threading
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER

CANCEL_DEADLINE_S = 5.0


class QueryThread(threading.Thread):
    """Runs one statement on `conn` and records how it ended."""

    def __init__(self, conn, sql):
        super().__init__(daemon=True)
        self.conn, self.sql = conn, sql
        self.error = None
        self.finished_at = None

    def run(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.sql)
        except Exception as exc:  # recorded for the main thread to assert on
            self.error = exc
        self.finished_at = time.monotonic()


def wait_until_running(pg, sql_fragment, count=1, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = pg.query("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                        " AND query LIKE %s AND pid <> pg_backend_pid()",
                        [f"%{sql_fragment}%"])
        if rows[0][0] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"query {sql_fragment!r} never showed up as active on the server")


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_cancel_long_query(pg, sluice, mode):
    proxy = sluice(pool_mode=mode, pool_size=4)
    victim = proxy.connect(user=APP_USER, dbname=APP_DB)
    bystander = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        long_query = QueryThread(victim, "SELECT pg_sleep(30)")
        other_query = QueryThread(bystander, "SELECT pg_sleep(2.5)")
        long_query.start()
        other_query.start()
        wait_until_running(pg, "pg_sleep(30)")
        wait_until_running(pg, "pg_sleep(2.5)")

        cancelled_at = time.monotonic()
        victim.cancel()
        long_query.join(CANCEL_DEADLINE_S)
        assert not long_query.is_alive(), "the cancelled query is still running"
        assert isinstance(long_query.error, psycopg2.errors.QueryCanceled), long_query.error
        assert long_query.error.pgcode == "57014"
        assert long_query.finished_at - cancelled_at < CANCEL_DEADLINE_S

        # The cancel hit only the victim's backend: the other client's query completes.
        other_query.join(10)
        assert not other_query.is_alive()
        assert other_query.error is None, other_query.error

        # Both connections remain usable.
        with victim.cursor() as cur:
            cur.execute("SELECT 'still usable'")
            assert cur.fetchone() == ("still usable",)
        with bystander.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
    finally:
        victim.close()
        bystander.close()


def test_cancel_when_idle_is_harmless(sluice):
    proxy = sluice(pool_mode="transaction", pool_size=1)
    conn = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        conn.cancel()  # nothing is running: must not break this or later queries
        time.sleep(0.2)
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()
