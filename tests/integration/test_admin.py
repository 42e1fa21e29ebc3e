"""The admin console: database `sluice` (alias `pgbouncer`), PgBouncer's commands and
column names."""
import contextlib
import csv
import io
import threading
import time

import pytest

from conftest import APP_DB, APP_USER
from harness import PostgresServer, SluiceProxy, wire

ADMIN = PostgresServer.SUPERUSER
ADMIN_DB = "sluice"

POOLS_COLUMNS = {"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle",
                 "sv_used", "sv_tested", "sv_login", "maxwait", "pool_mode"}
# A few of PgBouncer's columns per command that any client of its console relies on.
COLUMNS = {
    "CLIENTS": {"type", "user", "database", "state", "addr", "port"},
    "SERVERS": {"type", "user", "database", "state", "addr", "port"},
    "DATABASES": {"name", "host", "port", "database", "pool_size", "pool_mode"},
    "STATS": {"database", "total_xact_count", "total_query_count"},
    "CONFIG": {"key", "value"},
}


def app_config(pg, pool_size: int) -> dict:
    return {"databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB,
                                   "user": APP_USER, "pool_size": pool_size}},
            "pool": {"pool_mode": "transaction"},
            "admin": {"users": [ADMIN]}}


@pytest.fixture
def proxy(pg, sluice):
    return sluice(app_config(pg, pool_size=3))


def show(proxy, command: str, dbname: str = ADMIN_DB) -> list[dict]:
    """Runs an admin command with psql --csv; returns rows as dicts."""
    result = proxy.run_psql(command, user=ADMIN, dbname=dbname, args=("--csv",))
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def admin_command(proxy, command: str) -> None:
    result = proxy.run_psql(command, user=ADMIN, dbname=ADMIN_DB)
    assert result.returncode == 0, f"{command}: {result.stderr}"


def test_show_pools(proxy):
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)
    rows = show(proxy, "SHOW POOLS")
    assert rows, "SHOW POOLS returned no rows"
    assert POOLS_COLUMNS <= set(rows[0]), f"missing: {POOLS_COLUMNS - set(rows[0])}"
    app = [r for r in rows if r["database"] == APP_DB and r["user"] == APP_USER]
    assert len(app) == 1, rows
    assert app[0]["pool_mode"] == "transaction"


@pytest.mark.parametrize("command", sorted(COLUMNS))
def test_show_commands(proxy, command):
    client = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        with client.cursor() as cur:
            cur.execute("SELECT 1")
        rows = show(proxy, f"SHOW {command}")
    finally:
        client.close()
    assert rows, f"SHOW {command} returned no rows"
    assert COLUMNS[command] <= set(rows[0]), f"missing: {COLUMNS[command] - set(rows[0])}"
    if command == "CLIENTS":
        assert any(r["user"] == APP_USER and r["database"] == APP_DB for r in rows), rows
    if command == "DATABASES":
        app = [r for r in rows if r["name"] == APP_DB]
        assert len(app) == 1 and app[0]["pool_size"] == "3", rows


class WildcardListenProxy(SluiceProxy):
    """Listens on 0.0.0.0 (clients still connect to 127.0.0.1)."""

    @property
    def command(self) -> list[str]:
        cmd = super().command
        cmd[cmd.index("--listen") + 1] = f"0.0.0.0:{self.port}"
        return cmd


@pytest.mark.parametrize("proxy_class", [SluiceProxy, WildcardListenProxy],
                         ids=["listen-127.0.0.1", "listen-0.0.0.0"])
def test_show_clients_gives_each_clients_own_addresses(pg, proxy_class):
    # The client's address comes from accept(); the proxy's own side from the listener,
    # or from the socket when the listener is bound to a wildcard address.
    proxy = proxy_class(config=app_config(pg, pool_size=3)).start()
    try:
        with contextlib.closing(wire.login(proxy.host, proxy.port, user=APP_USER,
                                           dbname=APP_DB)) as sock:
            client_addr, client_port = sock.getsockname()
            rows = [r for r in show(proxy, "SHOW CLIENTS") if r["port"] == str(client_port)]
        assert len(rows) == 1, rows
        assert rows[0]["addr"] == client_addr == "127.0.0.1"
        assert rows[0]["local_addr"] == "127.0.0.1"
        assert rows[0]["local_port"] == str(proxy.port)
        assert rows[0]["user"] == APP_USER and rows[0]["database"] == APP_DB
    finally:
        proxy.stop()


def test_pgbouncer_alias(proxy):
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)
    rows = show(proxy, "SHOW POOLS", dbname="pgbouncer")
    assert any(r["database"] == APP_DB for r in rows), rows
    assert POOLS_COLUMNS <= set(rows[0])


def test_pause_and_resume(proxy):
    admin_command(proxy, "PAUSE")
    done = threading.Event()
    result = {}

    def query():
        result["out"] = proxy.run_psql("SELECT 'ran'", user=APP_USER, dbname=APP_DB)
        done.set()

    worker = threading.Thread(target=query, daemon=True)
    worker.start()
    try:
        assert not done.wait(1.5), "a query ran while the proxy was paused"
    finally:
        admin_command(proxy, "RESUME")
    assert done.wait(10), "the query did not run after RESUME"
    assert result["out"].returncode == 0, result["out"].stderr
    assert result["out"].stdout.strip() == "ran"


def test_reload_rereads_the_config_file(pg, proxy):
    proxy.write_config(app_config(pg, pool_size=5))
    admin_command(proxy, "RELOAD")
    app = [r for r in show(proxy, "SHOW DATABASES") if r["name"] == APP_DB]
    assert len(app) == 1 and app[0]["pool_size"] == "5", app
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"


def test_non_admin_is_refused(proxy):
    result = proxy.run_psql("SHOW POOLS", user=APP_USER, dbname=ADMIN_DB)
    assert result.returncode != 0
    assert result.stderr.strip(), "refused without an error message"


def test_shutdown_stops_the_process(proxy):
    proxy.run_psql("SHUTDOWN", user=ADMIN, dbname=ADMIN_DB)  # may lose the connection
    deadline = time.monotonic() + 10
    while proxy.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not proxy.alive(), "the proxy is still running 10 s after SHUTDOWN"
