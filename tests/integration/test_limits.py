"""Server-connection limits hold under load: 500 clients through a pool of 10."""
import contextlib
import threading
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER

SAMPLE_INTERVAL_S = 0.05


class ConnectionSampler(threading.Thread):
    """Polls pg_stat_activity directly and keeps the largest count of the proxy's
    server connections (user/db) it has seen."""

    def __init__(self, pg, user=APP_USER, dbname=APP_DB):
        super().__init__(daemon=True)
        self.pg, self.user, self.dbname = pg, user, dbname
        self.max_seen = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self):
        with contextlib.closing(self.pg.connect()) as conn:
            while not self._done.is_set():
                n = self.pg.server_connections(self.user, self.dbname, conn=conn)
                self.max_seen = max(self.max_seen, n)
                self.samples += 1
                self._done.wait(SAMPLE_INTERVAL_S)

    def stop(self):
        self._done.set()
        self.join(10)


def run_clients(proxy, count, work, timeout):
    """Runs `work(conn)` in `count` threads, each on its own proxy connection.
    Returns (successes, errors)."""
    errors, successes = [], []
    lock = threading.Lock()

    def client(i):
        try:
            conn = proxy.connect(user=APP_USER, dbname=APP_DB, connect_timeout=60)
            try:
                work(conn)
            finally:
                conn.close()
            with lock:
                successes.append(i)
        except Exception as exc:  # every failure is reported by the test
            with lock:
                errors.append(f"client {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    if hung:
        errors.append(f"{hung} clients still running after {timeout}s")
    return successes, errors


def sleep_queries(times, seconds):
    def work(conn):
        with conn.cursor() as cur:
            for _ in range(times):
                cur.execute("SELECT pg_sleep(%s)", (seconds,))
    return work


def test_500_clients_through_pool_of_10(pg, sluice):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice({"server": {"max_client_conn": 1000}}, pool_mode="transaction",
                   pool_size=10)
    sampler = ConnectionSampler(pg)
    sampler.start()
    try:
        successes, errors = run_clients(proxy, 500, sleep_queries(3, 0.05), timeout=120)
    finally:
        sampler.stop()
    assert not errors, f"{len(errors)} clients failed, e.g.:\n" + "\n".join(errors[:10])
    assert len(successes) == 500
    assert sampler.samples > 10
    assert 1 <= sampler.max_seen <= 10, f"saw {sampler.max_seen} server connections"


def test_session_mode_clients_wait_for_a_free_connection(pg, sluice):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice({"pool": {"query_wait_timeout": "30s"}}, pool_mode="session", pool_size=4)
    sampler = ConnectionSampler(pg)
    sampler.start()
    started = time.monotonic()
    try:
        successes, errors = run_clients(proxy, 12, sleep_queries(1, 0.5), timeout=60)
    finally:
        sampler.stop()
    elapsed = time.monotonic() - started
    assert not errors, "\n".join(errors)
    assert len(successes) == 12
    assert 1 <= sampler.max_seen <= 4, f"saw {sampler.max_seen} server connections"
    # 12 sessions of 0.5 s on 4 connections take at least 3 rounds: clients queued.
    assert elapsed >= 1.5


def test_query_wait_timeout_expires(pg, sluice):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice({"pool": {"query_wait_timeout": "1s"}}, pool_mode="session", pool_size=1)
    holder = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1")  # the only server connection is now this session's
        started = time.monotonic()
        with pytest.raises(psycopg2.OperationalError):
            waiter = proxy.connect(user=APP_USER, dbname=APP_DB)
            try:
                with waiter.cursor() as cur:
                    cur.execute("SELECT 1")
            finally:
                waiter.close()
        assert time.monotonic() - started < 10
        assert pg.server_connections(APP_USER, APP_DB) == 1
        with holder.cursor() as cur:  # the session holding the connection is unaffected
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
    finally:
        holder.close()
