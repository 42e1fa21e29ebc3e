"""Transaction mode: a client's session settings follow it from one server connection to
the next, and never leak to the other clients of a connection."""
import pytest

from conftest import APP_DB, APP_USER
from test_admin import app_config


@pytest.fixture
def proxy(pg, sluice):
    # One server connection: every client shares it, so a leak would show at once. One
    # worker: clients that logged in alike share one parameter map until one changes a
    # setting, so a change leaking through that sharing would show too.
    config = app_config(pg, pool_size=1)
    config["server"] = {"workers": 1}
    return sluice(config)


def connect(proxy, **kwargs):
    conn = proxy.connect(user=APP_USER, dbname=APP_DB, **kwargs)
    conn.autocommit = True
    return conn


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0] if cur.description else None


def settings(conn):
    return (one(conn, "SHOW search_path"), one(conn, "SHOW TimeZone"),
            one(conn, "SHOW statement_timeout"))


def test_search_path_and_timezone_do_not_leak(proxy):
    a, b = connect(proxy), connect(proxy)
    try:
        default = settings(b)
        one(a, "SET search_path TO pg_catalog, \"Odd Schema\"")
        one(a, "SET TimeZone = 'Asia/Tokyo'")
        one(a, "SET statement_timeout = '7s'")
        assert one(a, "SELECT pg_backend_pid()") == one(b, "SELECT pg_backend_pid()")
        assert settings(b) == default
        assert settings(a) == ('pg_catalog, "Odd Schema"', "Asia/Tokyo", "7s")
        assert settings(b) == default
        one(b, "SET search_path TO public")
        assert settings(a)[0] == 'pg_catalog, "Odd Schema"'
        assert one(b, "SHOW search_path") == "public"
        one(a, "RESET search_path")
        assert settings(a)[0] == default[0]
        one(a, "RESET ALL")
        assert settings(a)[2] == default[2]
        assert one(b, "SHOW search_path") == "public"
    finally:
        a.close()
        b.close()


def test_set_in_a_transaction_lasts_only_if_it_commits(proxy):
    a, b = connect(proxy), connect(proxy)
    try:
        default = one(b, "SHOW statement_timeout")
        with a.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SET statement_timeout = '3s'")
            cur.execute("ROLLBACK")
        assert one(b, "SHOW statement_timeout") == default
        assert one(a, "SHOW statement_timeout") == default
        with a.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SET statement_timeout = '4s'")
            cur.execute("COMMIT")
        assert one(b, "SHOW statement_timeout") == default
        assert one(a, "SHOW statement_timeout") == "4s"
        with a.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SET LOCAL statement_timeout = '5s'")
            cur.execute("COMMIT")
        assert one(a, "SHOW statement_timeout") == "4s"
        assert one(b, "SHOW statement_timeout") == default
    finally:
        a.close()
        b.close()


def test_failed_set_changes_nothing(proxy):
    a, b = connect(proxy), connect(proxy)
    try:
        default = one(b, "SHOW work_mem")
        with pytest.raises(Exception):
            one(a, "SET work_mem = 'not a size'")
        assert one(a, "SHOW work_mem") == default
        one(a, "SET work_mem = '8MB'")
        assert one(b, "SHOW work_mem") == default
        assert one(a, "SHOW work_mem") == "8MB"
    finally:
        a.close()
        b.close()


def test_client_idle_past_the_park_delay_keeps_its_session(proxy):
    # After 5 s idle a client parks: its coroutines end and a plain wait on its socket
    # brings it back. Its settings and prepared statements must come back with it.
    import time

    import psycopg

    conn = psycopg.connect(host=proxy.host, port=proxy.port, user=APP_USER, dbname=APP_DB,
                           autocommit=True, prepare_threshold=0, connect_timeout=10)
    fresh = connect(proxy)  # logs in and sends nothing for a while: parked within a second
    try:
        conn.execute("SET search_path TO pg_catalog")
        conn.execute("SET TimeZone = 'Asia/Tokyo'")
        query = "SELECT %s::int + 1, current_setting('search_path'), current_setting('TimeZone')"
        assert conn.execute(query, (1,), prepare=True).fetchone() == (2, "pg_catalog", "Asia/Tokyo")
        time.sleep(7)
        assert conn.execute(query, (2,), prepare=True).fetchone() == (3, "pg_catalog", "Asia/Tokyo")
        assert one(fresh, "SELECT 41 + 1") == 42
        with conn.transaction():
            assert conn.execute("SELECT 5", prepare=True).fetchone() == (5,)
    finally:
        conn.close()
        fresh.close()


def test_a_startup_packet_larger_than_the_login_buffer_logs_in_whole(proxy):
    # Logins read into a small buffer (512 bytes, src/net/read_buffer.cc) that grows for a
    # larger packet: nothing of the packet may be lost or cut on the way.
    schemas = [f"schema_{i:03d}" for i in range(80)]
    conn = connect(proxy, options="-c search_path=" + ",".join(schemas))
    try:
        assert len(",".join(schemas)) > 512
        assert one(conn, "SHOW search_path").replace(" ", "").split(",") == schemas
        assert one(conn, "SELECT 1") == 1
    finally:
        conn.close()
