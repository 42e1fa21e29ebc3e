"""Server faults under load, against a PostgreSQL cluster of their own (they kill, stop and
freeze it): SIGKILL mid-load and restart, a 5 s stop while clients wait, and a SIGSTOP
freeze that query_timeout must end. Each prints its figures (run with -s to see them):
transactions attempted, failed and recovered, and the recovery time."""
from __future__ import annotations

import contextlib
import signal
import threading
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER
from harness import PostgresServer, wire
from harness.fault_load import LoadClient, figures

TABLE = "fault_rows"
RECOVERY_BOUND_S = 30  # generous: the machine is shared


@pytest.fixture(scope="module")
def fault_pg():
    """A cluster these tests may kill; always stopped (and thawed) at the end."""
    server = PostgresServer(max_connections=100)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_table(fault_pg):
    fault_pg.psql(f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (client int, seq int,"
                  f" PRIMARY KEY (client, seq)); ALTER TABLE {TABLE} OWNER TO {APP_USER}",
                  dbname=APP_DB)
    return TABLE


def proxy_config(pg, **pool) -> dict:
    settings = {"pool_mode": "transaction", "pool_size": 6}
    settings.update(pool)
    return {"pool": settings,
            "databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB}},
            "admin": {"users": ["admin"]}}


def breaker_state(proxy) -> str:
    with contextlib.closing(proxy.connect(user="admin", dbname="sluice")) as admin:
        with admin.cursor() as cur:
            cur.execute("SHOW DATABASES")
            names = [d[0] for d in cur.description]
            for row in cur.fetchall():
                record = dict(zip(names, row))
                if record["name"] == APP_DB:
                    return record["breaker"]
    raise AssertionError("no SHOW DATABASES row for the app database")


class BreakerWatch(threading.Thread):
    """Records every distinct breaker state SHOW DATABASES reports, in order."""

    def __init__(self, proxy):
        super().__init__(daemon=True)
        self.proxy, self.states, self.done = proxy, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            with contextlib.suppress(psycopg2.Error):
                state = breaker_state(self.proxy)
                if not self.states or self.states[-1] != state:
                    self.states.append(state)
            self.done.wait(0.05)

    def stop(self):
        self.done.set()
        self.join(10)


def wait_until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.mark.parametrize("fail_fast", [True, False], ids=["fail-fast", "wait"])
def test_sigkill_mid_load_then_restart(fault_pg, fault_table, sluice, fail_fast):
    """With fail-fast, clients get quick errors while the breaker is open; without, they
    wait through the outage (query_wait_timeout 10 s) and only work in flight fails."""
    proxy = sluice(proxy_config(fault_pg, query_wait_timeout="10s", connect_retry_base="50ms",
                                connect_retry_max="500ms", breaker_failures=3,
                                breaker_open_time="1s", breaker_fail_fast=fail_fast),
                   log_level="info")
    proxy_pid = proxy.proc.pid
    stop = threading.Event()
    clients = [LoadClient(proxy, cid, "tx" if cid % 2 else "select", user=APP_USER,
                          dbname=APP_DB, table=fault_table, stop=stop) for cid in range(1, 9)]
    # One client sits inside a transaction across the crash: it must get an error.
    in_tx = proxy.connect(user=APP_USER, dbname=APP_DB, autocommit=False)
    watch = BreakerWatch(proxy)
    try:
        with in_tx.cursor() as cur:
            cur.execute(f"INSERT INTO {fault_table} VALUES (1000, 1)")
        for c in clients:
            c.start()
        watch.start()
        assert wait_until(lambda: all(any(o.ok for o in c.outcomes) for c in clients), 15), \
            "the load did not get going"
        time.sleep(1.0)

        fault_at = fault_pg.kill9()
        time.sleep(2.0)  # down for a while: retries, then the breaker opens
        fault_pg.start_again()
        back_at = time.monotonic()

        assert wait_until(lambda: all(c.first_success_after(back_at) for c in clients),
                          RECOVERY_BOUND_S), "some clients never recovered"
        time.sleep(1.0)  # steady again
        assert wait_until(lambda: breaker_state(proxy) == "closed", 10)
        # The transaction open across the crash is gone: its next statement must fail
        # (never be run on a new server connection outside the transaction).
        with pytest.raises(psycopg2.OperationalError):
            with in_tx.cursor() as cur:
                cur.execute("SELECT 1")
    finally:
        stop.set()
        for c in clients:
            c.join(15)
        watch.stop()
        with contextlib.suppress(psycopg2.Error):
            in_tx.close()

    f = figures(clients, fault_at, back_at)
    name = "sigkill+restart" + (" (breaker_fail_fast)" if fail_fast else " (clients wait)")
    print("\n" + f.line(name) + f" breaker={'->'.join(watch.states)}")

    mismatches = [m for c in clients for m in c.mismatches]
    assert not mismatches, f"clients got other clients' results: {mismatches[:5]}"
    assert proxy.alive() and proxy.proc.pid == proxy_pid, "the proxy was restarted or died"
    assert "open" in watch.states and watch.states[-1] == "closed", watch.states
    if fail_fast:
        assert f.failed > 0, "an open breaker with fail-fast that failed nothing?"
    if not fail_fast:
        assert f.recovered > 0, "no transaction waited through the outage"
    # Nothing was replayed: a replayed INSERT would have hit the primary key.
    assert "23505" not in f.errors, f.errors
    # Once every client has recovered, nothing fails any more.
    settled = max(c.first_success_after(back_at) for c in clients)
    late = [o for c in clients for o in c.outcomes if not o.ok and o.started > settled + 0.5]
    assert not late, f"failures after recovery: {late[:3]}"
    assert f.recovery_s < RECOVERY_BOUND_S


def wire_client(proxy):
    """A raw protocol client: unlike libpq, it shows a FATAL error's SQLSTATE and text."""
    sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
    sock.settimeout(60)
    return sock


def test_server_stopped_for_five_seconds_while_clients_wait(fault_pg, sluice):
    patient = sluice(proxy_config(fault_pg, query_wait_timeout="20s", breaker_fail_fast=False,
                                  connect_retry_max="500ms"))
    impatient = sluice(proxy_config(fault_pg, query_wait_timeout="2s", breaker_fail_fast=False,
                                    connect_retry_max="500ms"))
    socks = {}
    for name, proxy in (("patient", patient), ("impatient", impatient)):
        socks[name] = [wire_client(proxy) for _ in range(4)]
        for sock in socks[name]:
            assert wire.simple_query(sock, "SELECT 1") == [("1",)]
    results: dict[tuple[str, int], tuple] = {}

    def run(name: str, i: int, sock) -> None:
        started = time.monotonic()
        try:
            rows = wire.simple_query(sock, f"SELECT {i}")
            results[(name, i)] = ("ok", rows, started, time.monotonic())
        except (wire.ServerError, OSError) as exc:
            results[(name, i)] = ("error", exc, started, time.monotonic())

    threads = []
    try:
        fault_at = time.monotonic()
        fault_pg.stop_fast()
        for name, group in socks.items():
            for i, sock in enumerate(group):
                threads.append(threading.Thread(target=run, args=(name, i, sock), daemon=True))
                threads[-1].start()
        time.sleep(max(0.0, 5.0 - (time.monotonic() - fault_at)))
        fault_pg.start_again()
        back_at = time.monotonic()
        for t in threads:
            t.join(30)
    finally:
        if not fault_pg.pids():
            fault_pg.start_again()
        for group in socks.values():
            for sock in group:
                sock.close()

    served = {k: v for k, v in results.items() if k[0] == "patient"}
    failed = {k: v for k, v in results.items() if k[0] == "impatient"}
    assert len(results) == 8, "a waiting client never got an answer"
    for (name, i), (status, value, started, ended) in served.items():
        assert status == "ok", f"{name} client {i} (query_wait_timeout 20s) failed: {value}"
        assert value == [(str(i),)]
        assert ended >= back_at - 0.5, "served while the server was stopped?"
    for (name, i), (status, value, started, ended) in failed.items():
        assert status == "error", f"{name} client {i} (query_wait_timeout 2s) was served"
        assert isinstance(value, wire.ServerError), repr(value)
        assert value.sqlstate in ("08006", "57P03"), value.fields
        assert "query_wait_timeout" in value.fields["M"], value.fields
        assert 1.5 <= ended - started < 8, f"failed after {ended - started:.2f}s"
    recovery = max(v[3] for v in served.values()) - back_at
    error = next(iter(failed.values()))[1]
    print(f"\nFAULT stop-5s: attempted={len(results)} failed={len(failed)} "
          f"recovered={len(served)} outage={back_at - fault_at:.2f}s recovery={recovery:.2f}s "
          f"error=[{error.sqlstate}: {error.fields['M']}]")
    # Both proxies serve normally afterwards, without a restart.
    for proxy in (patient, impatient):
        assert proxy.psql("SELECT 7", user=APP_USER, dbname=APP_DB) == "7"


def test_frozen_server_query_timeout_closes_the_connection(fault_pg, sluice):
    proxy = sluice(proxy_config(fault_pg, query_timeout="1s", pool_size=1))
    sock = wire_client(proxy)
    try:
        frozen_pid = wire.simple_query(sock, "SELECT pg_backend_pid()")[0][0]
        started = time.monotonic()
        fault_pg.signal_all(signal.SIGSTOP)
        try:
            with pytest.raises(wire.ServerError) as failure:
                wire.simple_query(sock, "SELECT 1")
            ended = time.monotonic()
        finally:
            fault_pg.thaw()
        elapsed = ended - started
        fields = failure.value.fields
        print(f"\nFAULT sigstop: attempted=1 failed=1 recovered=0 error after {elapsed:.2f}s "
              f"(query_timeout 1s): {fields.get('C')}: {fields.get('M')}")
        assert failure.value.sqlstate == "57014", fields
        assert "query_timeout" in fields["M"], fields
        assert 1.0 <= elapsed < 10, f"the frozen query ended after {elapsed:.2f}s"
        # The next client gets a new server connection, not the frozen one.
        fresh = wire_client(proxy)
        try:
            assert wire.simple_query(fresh, "SELECT pg_backend_pid()")[0][0] != frozen_pid, \
                "the frozen connection was reused"
        finally:
            fresh.close()
        assert "cancelling its query" in proxy.log(), "no cancel was sent"
    finally:
        fault_pg.thaw()
        sock.close()
