"""The proxy's timeouts: client_idle_timeout, idle_transaction_timeout, query_timeout and
server_connect_timeout, with short values so each test takes a few seconds."""
import select
import socket
import threading
import time

import psycopg2
import psycopg2.errors
import pytest

from conftest import APP_DB, APP_USER, one_row_table

TABLE = "timeouts_rows"


def one(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def wait_closed_by_proxy(conn, timeout: float) -> float | None:
    """Seconds until the proxy closes the (idle) connection's socket, or None if it is still
    open after `timeout`. An idle client receives nothing else, so readable means closed."""
    started = time.monotonic()
    readable, _, _ = select.select([conn.fileno()], [], [], timeout)
    if not readable:
        return None
    with socket.socket(fileno=conn.fileno()) as sock:
        try:
            data = sock.recv(8192, socket.MSG_PEEK)
        except ConnectionResetError:
            data = b""
        finally:
            sock.detach()  # the descriptor stays libpq's
    elapsed = time.monotonic() - started
    # Nothing but an ErrorResponse may precede the close.
    assert data == b"" or data[:1] == b"E", f"unexpected bytes from the proxy: {data[:40]!r}"
    return elapsed


class Pinger(threading.Thread):
    """Keeps a proxy connection busy with a query every 200 ms until stopped."""

    def __init__(self, conn):
        super().__init__(daemon=True)
        self.conn = conn
        self.error = None
        self.queries = 0
        self._done = threading.Event()

    def run(self):
        try:
            while not self._done.is_set():
                one(self.conn, "SELECT 1")
                self.queries += 1
                self._done.wait(0.2)
        except Exception as exc:  # reported by the test
            self.error = exc

    def stop(self):
        self._done.set()
        self.join(10)


@pytest.fixture
def rows_table(pg):
    return one_row_table(pg, TABLE)


# -- client_idle_timeout -----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_client_idle_timeout_closes_idle_clients(sluice, mode):
    proxy = sluice({"pool": {"client_idle_timeout": "1s"}}, pool_mode=mode, pool_size=4)
    idle = proxy.connect(user=APP_USER, dbname=APP_DB)
    busy = proxy.connect(user=APP_USER, dbname=APP_DB)
    pinger = Pinger(busy)
    try:
        assert one(idle, "SELECT 1") == (1,)
        pinger.start()
        closed_after = wait_closed_by_proxy(idle, timeout=5)
        assert closed_after is not None, "an idle client is still connected after 5 s"
        assert 0.8 <= closed_after < 3.5, f"closed after {closed_after:.2f}s (timeout 1s)"
        with pytest.raises(psycopg2.Error):
            one(idle, "SELECT 2")
        pinger.stop()
        # A client that keeps sending queries is not idle.
        assert pinger.error is None, f"a busy client was cut off: {pinger.error}"
        assert pinger.queries >= 5
        assert one(busy, "SELECT 3") == (3,)
    finally:
        pinger.stop()
        idle.close()
        busy.close()


def test_client_idle_timeout_closes_a_parked_client(sluice):
    # Clients idle for 5 s park (no coroutine waits for them); the timeout still applies.
    proxy = sluice({"pool": {"client_idle_timeout": "7s"}}, pool_mode="transaction",
                   pool_size=2)
    idle = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        assert one(idle, "SELECT 1") == (1,)
        closed_after = wait_closed_by_proxy(idle, timeout=12)
        assert closed_after is not None, "a parked idle client is still connected after 12 s"
        assert 6.5 <= closed_after < 10, f"closed after {closed_after:.2f}s (timeout 7s)"
    finally:
        idle.close()


# -- idle_transaction_timeout ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_idle_transaction_timeout_disconnects_and_rolls_back(pg, sluice, rows_table, mode):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice({"pool": {"idle_transaction_timeout": "1s"}}, pool_mode=mode, pool_size=4)
    in_tx = proxy.connect(user=APP_USER, dbname=APP_DB, autocommit=False)
    idle = proxy.connect(user=APP_USER, dbname=APP_DB)  # idle outside a transaction
    try:
        assert one(idle, "SELECT 1") == (1,)
        with in_tx.cursor() as cur:
            cur.execute(f"UPDATE {rows_table} SET v = v + 1 WHERE id = 1")  # row lock held
        assert pg.server_connections(APP_USER, APP_DB, state="idle in transaction") == 1
        closed_after = wait_closed_by_proxy(in_tx, timeout=5)
        assert closed_after is not None, "idle in transaction for 5 s and still connected"
        assert 0.8 <= closed_after < 3.5, f"closed after {closed_after:.2f}s (timeout 1s)"
        left = pg.wait_for_connections(APP_USER, APP_DB, 0, timeout=3,
                                       state="idle in transaction")
        assert left == 0, "the server session is still idle in transaction"
        # The client idle outside a transaction is not affected.
        assert one(idle, "SELECT 2") == (2,)
        # The lock is gone and the update was rolled back.
        other = proxy.connect(user=APP_USER, dbname=APP_DB, autocommit=False)
        try:
            with other.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '1s'")
                cur.execute(f"UPDATE {rows_table} SET v = v + 10 WHERE id = 1 RETURNING v")
                assert cur.fetchone() == (10,)
            other.commit()
        finally:
            other.close()
    finally:
        in_tx.close()
        idle.close()


# -- query_timeout -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_query_timeout_cancels_long_queries(sluice, mode):
    proxy = sluice({"pool": {"query_timeout": "1s"}}, pool_mode=mode, pool_size=2)
    conn = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        assert one(conn, "SELECT pg_sleep(0.3), 1")[1] == 1  # shorter than the timeout
        for attempt in range(2):  # every long query is cancelled, not only the first
            started = time.monotonic()
            with pytest.raises(psycopg2.errors.QueryCanceled) as cancelled:
                one(conn, "SELECT pg_sleep(10)")
            elapsed = time.monotonic() - started
            assert cancelled.value.pgcode == "57014"
            assert 0.9 <= elapsed < 4, f"attempt {attempt}: cancelled after {elapsed:.2f}s"
            assert one(conn, "SELECT 42") == (42,), "the connection is unusable after a cancel"
    finally:
        conn.close()


# -- server_connect_timeout --------------------------------------------------------------------

@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (the kernel completes the handshake) but never
    reads or answers anything."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_server_connect_timeout(pg, sluice, silent_server):
    proxy = sluice({
        # One timed-out attempt opens the breaker, which then fails the client at once
        # (rather than retrying until query_wait_timeout); the next login probes again.
        "pool": {"server_connect_timeout": "1s", "pool_size": 1, "breaker_failures": 1,
                 "breaker_open_time": "10ms"},
        "databases": {
            APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB, "user": APP_USER},
            "silent": {"host": "127.0.0.1", "port": silent_server, "dbname": APP_DB,
                       "user": APP_USER},
        }})
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
    for attempt in range(2):  # the failed attempt gave its pool slot back
        outcome = {}

        def login_to_silent():
            started = time.monotonic()
            outcome["result"] = proxy.run_psql("SELECT 1", user=APP_USER, dbname="silent",
                                               timeout=30)
            outcome["elapsed"] = time.monotonic() - started

        worker = threading.Thread(target=login_to_silent, daemon=True)
        worker.start()
        # While that login hangs, the other database is served at once.
        time.sleep(0.2)
        started = time.monotonic()
        assert proxy.psql("SELECT 2", user=APP_USER, dbname=APP_DB) == "2"
        assert time.monotonic() - started < 0.8
        worker.join(15)
        assert not worker.is_alive(), "the login to the silent server did not end"
        result, elapsed = outcome["result"], outcome["elapsed"]
        assert result.returncode != 0, f"attempt {attempt}: logged in to a silent server?"
        message = result.stderr.lower()
        assert "timeout" in message or "timed out" in message, result.stderr
        assert 0.9 <= elapsed < 4, f"attempt {attempt}: failed after {elapsed:.2f}s"
        assert_still_serving(proxy)


def assert_still_serving(proxy):
    deadline = time.monotonic() + 0.5  # a crash right after the failed login shows by then
    while proxy.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxy.alive(), (f"the proxy exited (code {proxy.proc.returncode}) after a failed "
                           f"server login; its log:\n{proxy.log()}")
    assert proxy.psql("SELECT 3", user=APP_USER, dbname=APP_DB) == "3"
