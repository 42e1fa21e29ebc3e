"""Connection retries, the circuit breaker, health checks of pooled connections, and the
rule that nothing that may have run is re-run; against the shared cluster (nothing here
kills it: an unreachable server is a closed port). Faults that stop the server itself are
in test_faults.py."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.request

import pytest

from conftest import APP_DB, APP_USER, one_row_table
from harness import PostgresServer, free_port, wire

ADMIN = PostgresServer.SUPERUSER


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(pg, *, down_port: int | None = None, **pool) -> dict:
    databases = {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB, "user": APP_USER}}
    if down_port is not None:
        databases["down"] = {"host": "127.0.0.1", "port": down_port, "dbname": APP_DB,
                             "user": APP_USER}
    return {"pool": {"pool_mode": "transaction", "pool_size": 2, **pool},
            "databases": databases, "admin": {"users": ["admin"]}}


def show(proxy, command: str) -> list[dict]:
    with contextlib.closing(proxy.connect(user="admin", dbname="sluice")) as admin:
        with admin.cursor() as cur:
            cur.execute(command)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]


def login_error(proxy, dbname: str) -> tuple[wire.ServerError, float]:
    started = time.monotonic()
    with pytest.raises(wire.ServerError) as failure:
        wire.login(proxy.host, proxy.port, user=APP_USER, dbname=dbname, timeout=30).close()
    return failure.value, time.monotonic() - started


def test_unreachable_server_is_retried_until_query_wait_timeout(pg, sluice):
    proxy = sluice(config(pg, down_port=closed_port(), query_wait_timeout="2s",
                          connect_retry_base="20ms", connect_retry_max="200ms",
                          breaker_failures=0))
    error, elapsed = login_error(proxy, "down")
    assert error.sqlstate == "08006", error.fields
    assert "query_wait_timeout" in error.fields["M"] and "refused" in error.fields["M"], \
        error.fields
    assert 1.8 <= elapsed < 6, f"failed after {elapsed:.2f}s, not after query_wait_timeout"
    attempts = proxy.log().count("could not connect")
    assert attempts >= 4, f"only {attempts} connection attempts in 2 s: not retried"
    assert attempts < 100, f"{attempts} attempts in 2 s: no backoff"
    # The healthy database on the same proxy is not affected.
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


def metric(http_port: int, name: str, host: str) -> float:
    """One sample of /metrics (admin_listen), by its host label."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read()
    for line in text.decode().splitlines():
        if line.startswith(f'{name}{{host="{host}"}} '):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} for {host} in /metrics")


def test_breaker_opens_fails_fast_and_shows_in_show_databases(pg, sluice):
    down_port, http_port = closed_port(), free_port()
    cfg = config(pg, down_port=down_port, query_wait_timeout="20s",
                 connect_retry_base="10ms", connect_retry_max="50ms",
                 breaker_failures=3, breaker_open_time="30s")
    cfg["admin"]["admin_listen"] = f"127.0.0.1:{http_port}"
    proxy = sluice(cfg)
    down_host, up_host = f"127.0.0.1:{down_port}", f"{pg.host}:{pg.port}"
    assert metric(http_port, "sluice_breaker_open", down_host) == 0
    error, elapsed = login_error(proxy, "down")
    assert error.sqlstate == "08006", error.fields
    assert "circuit breaker open" in error.fields["M"], error.fields
    assert elapsed < 5, f"the breaker did not fail the client fast ({elapsed:.2f}s)"
    # While open, the next client fails at once, without a connection attempt.
    attempts = proxy.log().count("could not connect")
    error, elapsed = login_error(proxy, "down")
    assert "failing fast" in error.fields["M"], error.fields
    assert elapsed < 1, f"fail-fast took {elapsed:.2f}s"
    assert proxy.log().count("could not connect") == attempts
    rows = {r["name"]: r for r in show(proxy, "SHOW DATABASES")}
    assert rows["down"]["breaker"] == "open"
    assert rows[APP_DB]["breaker"] == "closed"
    hosts = {r["port"]: r for r in show(proxy, "SHOW HOSTS")}
    down = hosts[rows["down"]["port"]]
    assert down["breaker"] == "open" and down["breaker_opened"] == 1
    assert down["consecutive_failures"] >= 3 and down["failed_attempts"] >= 3
    assert 0 < down["next_attempt_ms"] <= 30000
    assert "refused" in down["last_error"]
    # The same in /metrics, for alerts (deploy/prometheus/alerts.yml: SluiceBreakerOpen).
    assert metric(http_port, "sluice_breaker_open", down_host) == 1
    assert metric(http_port, "sluice_breaker_openings_total", down_host) == 1
    assert metric(http_port, "sluice_server_connect_failures_total", down_host) >= 3
    assert metric(http_port, "sluice_breaker_open", up_host) == 0


def test_breaker_closes_when_the_server_comes_back(pg, sluice):
    """A listener that refuses (closed port), then a proxy-side view of the real server on
    that port: the half-open probe succeeds and the breaker closes."""
    port = closed_port()
    proxy = sluice(config(pg, down_port=port, connect_retry_base="10ms",
                          connect_retry_max="50ms", breaker_failures=2,
                          breaker_open_time="500ms"))
    error, _ = login_error(proxy, "down")
    assert "circuit breaker" in error.fields["M"]
    assert {r["name"]: r["breaker"] for r in show(proxy, "SHOW DATABASES")}["down"] == "open"
    # Bring "the server" back: forward the port to the real one.
    relay = PortForward(port, pg.port)
    try:
        time.sleep(0.6)  # past breaker_open_time: half-open
        states = {r["name"]: r["breaker"] for r in show(proxy, "SHOW DATABASES")}
        assert states["down"] == "half-open"
        sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname="down")
        try:
            assert wire.simple_query(sock, "SELECT 5") == [("5",)]
        finally:
            sock.close()
        assert {r["name"]: r["breaker"] for r in show(proxy, "SHOW DATABASES")}["down"] == \
            "closed"
        servers = show(proxy, "SHOW SERVERS")
        assert servers and all(s["breaker"] == "closed" for s in servers)
    finally:
        relay.stop()


class PortForward(threading.Thread):
    """Accepts on `port` and pipes each connection to `target` (a server that 'comes back'
    on the port the proxy was refused on)."""

    def __init__(self, port: int, target: int):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.2)
        self.target, self.done = target, threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def stop(self):
        self.done.set()
        self.join(5)
        self.listener.close()


def backend_pid(sock) -> str:
    return wire.simple_query(sock, "SELECT pg_backend_pid()")[0][0]


@pytest.mark.parametrize("check_query,reused", [("SELECT 1", True), ("SELECT 1/0", False)])
def test_server_check_query_runs_before_reuse(pg, sluice, check_query, reused):
    proxy = sluice(config(pg, pool_size=1, server_check_query=check_query,
                          server_check_delay=0))
    sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
    try:
        pids = [backend_pid(sock) for _ in range(3)]
    finally:
        sock.close()
    if reused:
        assert len(set(pids)) == 1, f"a passing check dropped the connection: {pids}"
    else:
        assert len(set(pids)) == 3, f"a connection that failed its check was reused: {pids}"
        assert "failed its check" in proxy.log()


def test_terminated_backends_are_not_handed_out(pg, sluice):
    """The server ends every pooled connection (as a restart would): the next clients get
    fresh connections, never a dead one, and see no error."""
    proxy = sluice(config(pg, pool_size=4))
    socks = [wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB) for _ in range(4)]
    try:
        for s in socks:
            wire.simple_query(s, "SELECT pg_sleep(0.1)")
        pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s"
                 " AND datname = %s AND pid <> pg_backend_pid()", (APP_USER, APP_DB))
        assert pg.wait_for_connections(APP_USER, APP_DB, 0) == 0  # their FATALs are sent
        time.sleep(0.15)  # idle past the 100 ms under which reuse skips the peek
        for s in socks:
            assert wire.simple_query(s, "SELECT 2") == [("2",)]
    finally:
        for s in socks:
            s.close()


def test_connection_dying_while_taking_the_clients_settings_is_replaced(pg, sluice):
    """Client b's first statement gets the connection client a just released, within the
    100 ms that skip the liveness peek, and its backend was terminated meanwhile: the SET of
    b's application_name meets the dead connection before any of b's statements was sent,
    so b is served on another connection and sees no error."""
    proxy = sluice(config(pg, pool_size=2))
    a = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB,
                   params={"application_name": "a"})
    b = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB,
                   params={"application_name": "b"})
    try:
        [(pid,)] = wire.simple_query(a, "SELECT pg_backend_pid()")
        pg.query("SELECT pg_terminate_backend(%s)", (int(pid),))
        assert wire.simple_query(b, "SELECT current_setting('application_name'),"
                                    " pg_backend_pid()")[0][0] == "b"
    finally:
        a.close()
        b.close()
    assert "lost while applying session parameters; trying another" in proxy.log()


def test_statement_whose_server_dies_is_not_replayed(pg, sluice):
    """An INSERT in flight when its backend is terminated gets an error; it is not sent
    again on another connection (it is not in the table afterwards, nor twice), and the
    client's next work runs on a new connection."""
    table = one_row_table(pg, "resilience_replay")
    proxy = sluice(config(pg, pool_size=2))
    blocker = pg.connect(dbname=APP_DB, autocommit=False)
    sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
    try:
        with blocker.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        outcome = {}

        def insert():
            try:
                wire.simple_query(sock, f"INSERT INTO {table} VALUES (2, 2)")
                outcome["result"] = "ok"
            except (wire.ServerError, OSError) as exc:
                outcome["result"] = exc

        worker = threading.Thread(target=insert, daemon=True)
        worker.start()
        deadline = time.monotonic() + 10
        while not pg.query("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                           " AND usename = %s", (APP_USER,)):
            assert time.monotonic() < deadline, "the INSERT never waited for the lock"
            time.sleep(0.05)
        pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE wait_event_type = 'Lock' AND usename = %s", (APP_USER,))
        worker.join(10)
        blocker.rollback()
        assert isinstance(outcome.get("result"), wire.ServerError), outcome
        assert outcome["result"].sqlstate in ("57P01", "08006"), outcome["result"].fields
        time.sleep(0.5)  # a replay, if any, would have run by now
        assert pg.query(f"SELECT count(*) FROM {table} WHERE id = 2", dbname=APP_DB) == [(0,)]
        # Other clients carry on.
        assert proxy.psql("SELECT 3", user=APP_USER, dbname=APP_DB) == "3"
    finally:
        blocker.close()
        sock.close()


def test_query_timeout_cancels_each_pipelined_query_and_keeps_the_connection(pg, sluice):
    """Two long queries sent back to back: each is cancelled (57014 from the server) after
    its own query_timeout; the server answered, so the connection is kept, not closed as it
    would be for a server that ignores the cancel."""
    proxy = sluice(config(pg, query_timeout="1s"))
    sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
    try:
        sock.settimeout(30)
        query = wire.message(b"Q", b"SELECT pg_sleep(20)\0")
        sock.sendall(query + query)
        codes, ready = [], 0
        while ready < 2:
            kind, body = wire.read_message(sock)
            if kind == b"E":
                fields = wire.parse_error_fields(body)
                assert fields.get("S") == "ERROR", fields  # not FATAL: the session goes on
                codes.append(fields.get("C"))
            elif kind == b"Z":
                ready += 1
        assert codes == ["57014", "57014"]
        assert wire.simple_query(sock, "SELECT 4") == [("4",)]
        assert "ignored the cancel" not in proxy.log()
    finally:
        sock.close()
