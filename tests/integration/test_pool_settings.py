"""[pool] settings a user tunes (min_pool_size, reserve pool, max_db_connections,
max_client_conn, query_wait_timeout, server_idle_timeout, server_lifetime), what a pooled
server connection carries from one client to the next, and a few protocol corners
(GSSENCRequest, LISTEN/NOTIFY, PAUSE with a connected client)."""
import contextlib
import select
import socket
import struct
import threading
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER
from harness import PostgresServer, wire, write_userlist

ADMIN = PostgresServer.SUPERUSER
OTHER_USER = "scram_user"  # logs in to the server with a password (pg_hba scram-sha-256)
GSSENC_REQUEST_CODE = 80877104
SAMPLE_INTERVAL_S = 0.05

BACKENDS_SQL = ("SELECT pid FROM pg_stat_activity WHERE usename = %s AND datname = %s"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY pid")


def app_database(pg, **extra) -> dict:
    """[databases.app] pointing at the test cluster, every client logged in as app_user."""
    return {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB, "user": APP_USER,
                     **extra}}


def backend_pids(pg, user=APP_USER, dbname=APP_DB) -> list[int]:
    return [row[0] for row in pg.query(BACKENDS_SQL, (user, dbname))]


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def one(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


class Sampler(threading.Thread):
    """Runs `sql` (one row of integers) directly on the server every 50 ms and keeps the
    largest value seen in each column."""

    def __init__(self, pg, sql, params=()):
        super().__init__(daemon=True)
        self.pg, self.sql, self.params = pg, sql, params
        self.max_seen: list[int] = []
        self.samples = 0
        self._done = threading.Event()

    def run(self):
        with contextlib.closing(self.pg.connect()) as conn:
            while not self._done.is_set():
                row = one(conn, self.sql, self.params)
                self.max_seen = [max(a, b) for a, b in zip(self.max_seen or [0] * len(row), row)]
                self.samples += 1
                self._done.wait(SAMPLE_INTERVAL_S)

    def stop(self):
        self._done.set()
        self.join(10)


def sleepers_sampler(pg, users=(APP_USER,)) -> Sampler:
    """Columns: server connections of `users` to `app`, and how many of them run pg_sleep."""
    return Sampler(pg, "SELECT count(*), count(*) FILTER (WHERE state = 'active' AND query"
                       " LIKE '%%pg_sleep%%') FROM pg_stat_activity WHERE usename = ANY(%s)"
                       " AND datname = %s AND backend_type = 'client backend'"
                       " AND pid <> pg_backend_pid()", (list(users), APP_DB))


def run_concurrently(count, work, timeout):
    """Runs work(i) in `count` threads started together. Returns (results, errors)."""
    results, errors = {}, []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def run(i):
        try:
            result = work(i, barrier)
            with lock:
                results[i] = result
        except Exception as exc:  # every failure is reported by the test
            with lock:
                errors.append(f"client {i}: {type(exc).__name__}: {exc}")
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        errors.append(f"{sum(t.is_alive() for t in threads)} clients still running "
                      f"after {timeout}s")
    return results, errors


def transaction_holder(proxy, seconds, user=APP_USER):
    """work(i, barrier) for run_concurrently: connect, wait for the others, then
    BEGIN; SELECT pg_sleep(seconds); COMMIT. Returns how long BEGIN waited (the wait for a
    server connection)."""
    def work(_i, barrier):
        conn = proxy.connect(user=user, dbname=APP_DB, connect_timeout=30)
        try:
            barrier.wait(30)
            with conn.cursor() as cur:
                started = time.monotonic()
                cur.execute("BEGIN")
                waited = time.monotonic() - started
                cur.execute("SELECT pg_sleep(%s)", (seconds,))
                cur.execute("COMMIT")
            return waited
        finally:
            conn.close()
    return work


# -- min_pool_size -----------------------------------------------------------------------------

def test_min_pool_size_opens_and_keeps_connections(pg, sluice):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    # server_idle_timeout is short so that "they stay open" means min_pool_size holds them.
    proxy = sluice({"pool": {"pool_size": 5, "min_pool_size": 3, "server_idle_timeout": "1s"},
                    "databases": app_database(pg)})
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
    started = time.monotonic()
    count = pg.wait_for_connections(APP_USER, APP_DB, 3, timeout=6)
    assert count == 3, f"{count} server connections 6 s after the first login, expected 3"
    assert time.monotonic() - started < 4, "min_pool_size took more than 4 s to fill"
    pids = backend_pids(pg)
    time.sleep(2.5)  # > server_idle_timeout, and two maintenance rounds
    assert backend_pids(pg) == pids, "min_pool_size connections were closed or replaced"


# -- reserve pool ------------------------------------------------------------------------------

def test_reserve_pool_lets_waiting_clients_run(pg, sluice):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice({"pool": {"pool_mode": "transaction", "pool_size": 2, "reserve_pool_size": 2,
                             "reserve_pool_timeout": "500ms"}})
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)  # the pool knows the server now
    sampler = sleepers_sampler(pg)
    sampler.start()
    try:
        waits, errors = run_concurrently(4, transaction_holder(proxy, 2), timeout=30)
    finally:
        sampler.stop()
    assert not errors, "\n".join(errors)
    total, sleeping = sampler.max_seen
    assert sampler.samples > 10
    assert total <= 4, f"saw {total} server connections with pool_size 2 + reserve 2"
    assert sleeping == 4, f"at most {sleeping} of 4 transactions ran at the same time"
    waits = sorted(waits.values())
    # Two clients had to wait: at least reserve_pool_timeout, but not for the first two
    # transactions (2 s) to end.
    assert waits[2] >= 0.45, f"reserve used before reserve_pool_timeout: waits {waits}"
    assert waits[3] < 1.8, f"waiting clients did not get the reserve: waits {waits}"


def test_without_reserve_the_third_client_waits(pg, sluice):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice(pool_mode="transaction", pool_size=2)
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)
    sampler = sleepers_sampler(pg)
    sampler.start()
    started = time.monotonic()
    try:
        waits, errors = run_concurrently(3, transaction_holder(proxy, 1), timeout=30)
    finally:
        sampler.stop()
    elapsed = time.monotonic() - started
    assert not errors, "\n".join(errors)
    total, sleeping = sampler.max_seen
    assert total <= 2 and sleeping == 2, f"max connections {total}, max running {sleeping}"
    assert max(waits.values()) >= 0.9, f"no client waited for a connection: {waits}"
    assert elapsed >= 1.9, f"3 transactions of 1 s on 2 connections took {elapsed:.2f}s"


# -- max_db_connections --------------------------------------------------------------------------

def two_user_proxy(pg, sluice, tmp_path, max_db_connections: int, query_wait_timeout: str):
    """A proxy in front of APP_DB used by APP_USER and OTHER_USER, one pool per user (no
    forced user). The userlist gives the proxy OTHER_USER's password for the server;
    clients log in to the proxy with trust."""
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    pg.wait_for_connections(OTHER_USER, APP_DB, 0)
    userlist = write_userlist(tmp_path / "userlist.txt",
                              {OTHER_USER: PostgresServer.PASSWORDS[OTHER_USER]})
    return sluice({"auth": {"type": "trust", "file": str(userlist)},
                   "pool": {"pool_mode": "transaction", "pool_size": 5,
                            "max_db_connections": max_db_connections,
                            "query_wait_timeout": query_wait_timeout},
                   "databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB}}})


def test_max_db_connections_caps_all_users_of_a_database(pg, sluice, tmp_path):
    proxy = two_user_proxy(pg, sluice, tmp_path, max_db_connections=3, query_wait_timeout="10s")
    users = [APP_USER, OTHER_USER]
    sampler = sleepers_sampler(pg, users)
    sampler.start()

    def work(i, barrier):
        user = users[i % 2]
        conn = proxy.connect(user=user, dbname=APP_DB, connect_timeout=30)
        try:
            barrier.wait(30)
            with conn.cursor() as cur:
                for _ in range(3):
                    cur.execute("BEGIN")
                    cur.execute("SELECT current_user, pg_sleep(0.2)")
                    assert cur.fetchone()[0] == user
                    cur.execute("COMMIT")
        finally:
            conn.close()

    try:
        _, errors = run_concurrently(10, work, timeout=40)
    finally:
        sampler.stop()
    assert not errors, f"{len(errors)} clients failed:\n" + "\n".join(errors)
    total, _ = sampler.max_seen
    assert sampler.samples > 5
    assert 1 <= total <= 3, f"saw {total} server connections to {APP_DB}, max_db_connections 3"


def test_max_db_connections_reclaims_another_users_idle_connection(pg, sluice, tmp_path):
    """max_db_connections 2: OTHER_USER's idle pooled connection takes one slot while an
    app_user transaction holds the other. A second app_user client must still be served
    (PgBouncer closes the other pool's idle connection for it) instead of waiting until
    server_idle_timeout (600 s) or failing with query_wait_timeout."""
    proxy = two_user_proxy(pg, sluice, tmp_path, max_db_connections=2, query_wait_timeout="4s")
    assert proxy.psql("SELECT current_user", user=OTHER_USER, dbname=APP_DB) == OTHER_USER
    assert pg.server_connections(OTHER_USER, APP_DB) == 1  # idle in OTHER_USER's pool
    holder = proxy.connect(user=APP_USER, dbname=APP_DB)
    second = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT 1")  # the second and last slot of the database
        started = time.monotonic()
        try:
            row = one(second, "SELECT current_user")
        except psycopg2.Error as exc:
            pytest.fail(f"app_user's second client was not served after "
                        f"{time.monotonic() - started:.2f}s: {exc}")
        assert row == (APP_USER,)
        assert time.monotonic() - started < 3
        total = (pg.server_connections(APP_USER, APP_DB)
                 + pg.server_connections(OTHER_USER, APP_DB))
        assert total <= 2, f"{total} server connections to {APP_DB}, max_db_connections 2"
        with holder.cursor() as cur:
            cur.execute("COMMIT")
    finally:
        holder.close()
        second.close()


# -- max_client_conn -----------------------------------------------------------------------------

def test_max_client_conn_refuses_the_fourth_client(sluice):
    proxy = sluice({"server": {"max_client_conn": 3}})
    clients = [proxy.connect(user=APP_USER, dbname=APP_DB) for _ in range(3)]
    try:
        for conn in clients:
            assert one(conn, "SELECT 1") == (1,)
        with pytest.raises(wire.ServerError) as refused:
            wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB).close()
        assert refused.value.sqlstate == "53300", refused.value.fields
        with pytest.raises(psycopg2.OperationalError, match="no more connections allowed"):
            proxy.connect(user=APP_USER, dbname=APP_DB).close()
        for conn in clients:  # the three admitted clients are unaffected
            assert one(conn, "SELECT 2") == (2,)
    finally:
        clients.pop().close()
    try:
        # A slot is free again (the registry may take a moment to see the close).
        def fourth_gets_in():
            try:
                sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
            except wire.ServerError:
                return False
            with contextlib.closing(sock):
                return wire.simple_query(sock, "SELECT 4") == [("4",)]
        assert wait_until(fourth_gets_in, timeout=3, interval=0.1), \
            "still refused after a client left"
    finally:
        for conn in clients:
            conn.close()


# -- query_wait_timeout ----------------------------------------------------------------------

def test_query_wait_timeout_in_transaction_mode(sluice):
    proxy = sluice({"pool": {"query_wait_timeout": "1s"}}, pool_mode="transaction", pool_size=1)
    holder = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT 1")  # the only server connection stays with this transaction
        # psql rather than psycopg2: libpq keeps the FATAL's text for psql, while psycopg2
        # only reports "server closed the connection unexpectedly" (with PgBouncer too).
        started = time.monotonic()
        result = proxy.run_psql("SELECT 1", user=APP_USER, dbname=APP_DB, timeout=30)
        elapsed = time.monotonic() - started
        assert result.returncode != 0, f"the query ran: {result.stdout}"
        assert "query_wait_timeout" in result.stderr, result.stderr
        assert 0.9 <= elapsed < 5, f"the waiting query failed after {elapsed:.2f}s"
        with holder.cursor() as cur:  # the transaction holding the connection is unaffected
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
            cur.execute("COMMIT")
        with contextlib.closing(proxy.connect(user=APP_USER, dbname=APP_DB)) as later:
            assert one(later, "SELECT 3") == (3,)  # the pool still serves
    finally:
        holder.close()


# -- what a reused server connection carries ---------------------------------------------------

def test_session_mode_resets_the_connection_between_clients(pg, sluice):
    default_timeout = pg.query("SHOW statement_timeout", dbname=APP_DB)[0][0]
    proxy = sluice(pool_mode="session", pool_size=1)
    a = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        pid_a = one(a, "SELECT pg_backend_pid()")[0]
        with a.cursor() as cur:
            cur.execute("SET statement_timeout = '123s'")
            cur.execute("CREATE TEMP TABLE reset_probe (x int)")
        assert one(a, "SHOW statement_timeout") == ("123s",)
    finally:
        a.close()
    b = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        assert one(b, "SELECT pg_backend_pid()")[0] == pid_a, "not the same server connection"
        assert one(b, "SHOW statement_timeout") == (default_timeout,)
        assert one(b, "SELECT count(*) FROM pg_tables WHERE tablename = 'reset_probe'") == (0,)
    finally:
        b.close()


def test_transaction_mode_keeps_each_clients_parameters(pg, sluice):
    server_timezone = pg.query("SHOW TimeZone", dbname=APP_DB)[0][0]
    assert server_timezone != "Asia/Tokyo"
    proxy = sluice(pool_mode="transaction", pool_size=1)
    probe = ("SELECT pg_backend_pid(), current_setting('application_name'),"
             " current_setting('TimeZone')")
    a = proxy.connect(user=APP_USER, dbname=APP_DB, application_name="alpha")
    b = proxy.connect(user=APP_USER, dbname=APP_DB, application_name="beta")
    try:
        with a.cursor() as cur:
            cur.execute("SET TimeZone = 'Asia/Tokyo'")  # outside a transaction
        pid, app_name, tz = one(a, probe)
        assert (app_name, tz) == ("alpha", "Asia/Tokyo")
        assert one(b, probe) == (pid, "beta", server_timezone)
        assert one(a, probe) == (pid, "alpha", "Asia/Tokyo")
        assert one(b, probe) == (pid, "beta", server_timezone)
    finally:
        a.close()
        b.close()


def test_invalid_startup_parameter_fails_that_client_only(sluice):
    """A TimeZone the server rejects, sent in the startup packet (libpq lets a client send
    any value), must end in an ErrorResponse for that client, at login or at its first
    query, and leave the proxy serving everyone else."""
    proxy = sluice(pool_mode="transaction", pool_size=2)
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
        sock.sendall(wire.startup_message(APP_USER, APP_DB, TimeZone="No/Such_Zone"))
        with pytest.raises(wire.ServerError) as refused:
            while True:  # login (trust)
                kind, body = wire.read_message(sock)
                if kind == b"E":
                    raise wire.ServerError(wire.parse_error_fields(body))
                if kind == b"Z":
                    break
            wire.simple_query(sock, "SELECT 1")
        assert "timezone" in refused.value.fields.get("M", "").lower(), refused.value.fields
    time.sleep(0.3)  # a crash right after the error shows by then
    assert proxy.alive(), (f"the proxy exited (code {proxy.proc.returncode}); its log:\n"
                           f"{proxy.log()}")
    assert proxy.psql("SELECT 2", user=APP_USER, dbname=APP_DB) == "2"


# -- server_idle_timeout / server_lifetime -----------------------------------------------------

def test_server_idle_timeout_closes_idle_connections(pg, sluice):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice({"pool": {"server_idle_timeout": "1s", "min_pool_size": 0}},
                   pool_mode="session", pool_size=2)
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
    left = time.monotonic()
    assert pg.server_connections(APP_USER, APP_DB) == 1, "the server connection was not pooled"
    count = pg.wait_for_connections(APP_USER, APP_DB, 0, timeout=5)
    elapsed = time.monotonic() - left
    assert count == 0, "the idle server connection is still open 5 s later"
    assert elapsed < 3.5, f"closed only after {elapsed:.2f}s (server_idle_timeout 1s)"
    assert proxy.psql("SELECT 2", user=APP_USER, dbname=APP_DB) == "2"


def test_server_lifetime_replaces_old_connections(pg, sluice):
    proxy = sluice({"pool": {"server_lifetime": "1s"}}, pool_mode="transaction", pool_size=1)
    conn = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        first = one(conn, "SELECT pg_backend_pid()")[0]
        assert one(conn, "SELECT pg_backend_pid()")[0] == first  # reused while young
        # Idle past server_lifetime and a maintenance round (every second): replaced.
        time.sleep(2.2)
        assert one(conn, "SELECT pg_backend_pid()")[0] != first, \
            "a server connection older than server_lifetime was reused"
        # Busy: a connection is closed when it returns to the pool past its lifetime, so
        # none serves transactions for much longer than 1 s.
        seen: dict[int, list[float]] = {}
        until = time.monotonic() + 2.0
        while time.monotonic() < until:
            now = time.monotonic()
            pid = one(conn, "SELECT pg_backend_pid()")[0]
            seen.setdefault(pid, [now, now])[1] = now
            time.sleep(0.05)
        spans = {pid: round(last - start, 2) for pid, (start, last) in seen.items()}
        assert len(spans) >= 2, f"one server connection for 2 s of transactions: {spans}"
        assert max(spans.values()) < 1.6, f"used past server_lifetime (pid: seconds): {spans}"
    finally:
        conn.close()


# -- protocol corners --------------------------------------------------------------------------

def test_gssenc_request_is_declined(sluice):
    proxy = sluice()
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
        sock.sendall(struct.pack("!II", 8, GSSENC_REQUEST_CODE))
        assert wire.recv_exact(sock, 1) == b"N"
        sock.sendall(wire.startup_message(APP_USER, APP_DB))
        while True:  # trust: AuthenticationOk, ParameterStatus..., BackendKeyData, ready
            kind, body = wire.read_message(sock)
            if kind == b"E":
                raise wire.ServerError(wire.parse_error_fields(body))
            if kind == b"R":
                assert struct.unpack("!I", body[:4])[0] == wire.AUTH_OK
            if kind == b"Z":
                break
        assert wire.simple_query(sock, "SELECT current_user") == [(APP_USER,)]


def test_listen_notify_in_session_mode(sluice):
    proxy = sluice(pool_mode="session", pool_size=2)
    listener = proxy.connect(user=APP_USER, dbname=APP_DB)
    notifier = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        with listener.cursor() as cur:
            cur.execute("LISTEN sluice_events")
        assert one(notifier, "SELECT pg_backend_pid()") != one(listener, "SELECT pg_backend_pid()")
        with notifier.cursor() as cur:
            cur.execute("NOTIFY sluice_events, 'hello'")
        deadline = time.monotonic() + 5
        while not listener.notifies and time.monotonic() < deadline:
            select.select([listener], [], [], max(0.0, deadline - time.monotonic()))
            listener.poll()
        assert [(n.channel, n.payload) for n in listener.notifies] == [("sluice_events", "hello")]
    finally:
        listener.close()
        notifier.close()


def test_pause_holds_a_connected_clients_query_until_resume(pg, sluice):
    proxy = sluice({"pool": {"pool_mode": "transaction", "pool_size": 2},
                    "databases": app_database(pg), "admin": {"users": [ADMIN]}})
    client = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        assert one(client, "SELECT 1") == (1,)

        def admin(command):
            result = proxy.run_psql(command, user=ADMIN, dbname="sluice", timeout=15)
            assert result.returncode == 0, f"{command}: {result.stderr}"

        admin("PAUSE")
        done = threading.Event()
        result = {}

        def query():
            try:
                result["row"] = one(client, "SELECT 'ran'")
            except Exception as exc:
                result["error"] = exc
            done.set()

        worker = threading.Thread(target=query, daemon=True)
        worker.start()
        try:
            assert not done.wait(1.5), f"a query ran while the proxy was paused: {result}"
        finally:
            admin("RESUME")
        assert done.wait(10), "the query did not run after RESUME"
        assert result == {"row": ("ran",)}
    finally:
        client.close()
