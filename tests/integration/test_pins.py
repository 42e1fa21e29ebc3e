"""Transaction mode: what cannot move between server connections (LISTEN, session
advisory locks, temporary tables, WITH HOLD cursors) pins the client to its server
connection until released; SHOW PINS counts them per reason."""
import contextlib
import select
import time

import pytest

from conftest import APP_DB, APP_USER
from harness import wire
from test_admin import app_config, show

NOTIFY_TIMEOUT_S = 5


@pytest.fixture
def proxy(pg, sluice):
    return sluice(app_config(pg, pool_size=2))


def connect(proxy):
    conn = proxy.connect(user=APP_USER, dbname=APP_DB)
    conn.autocommit = True
    return conn


def one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0] if cur.description else None


def pinned(proxy, reason: str) -> int:
    rows = {r["reason"]: r for r in show(proxy, "SHOW PINS")}
    return int(rows[reason]["clients"])


def churn(proxy, times: int = 6) -> None:
    """Other clients' transactions, so an unpinned connection would change hands."""
    other = connect(proxy)
    try:
        for _ in range(times):
            one(other, "SELECT pg_backend_pid()")
    finally:
        other.close()


def test_listen_pins_and_delivers_notifications(proxy):
    listener, sender = connect(proxy), connect(proxy)
    try:
        one(listener, "LISTEN sluice_events")
        assert pinned(proxy, "listen") == 1
        pid = one(listener, "SELECT pg_backend_pid()")
        churn(proxy)
        assert one(listener, "SELECT pg_backend_pid()") == pid
        one(sender, "NOTIFY sluice_events, 'hello'")
        deadline = time.monotonic() + NOTIFY_TIMEOUT_S
        while not listener.notifies and time.monotonic() < deadline:
            select.select([listener], [], [], 0.2)
            listener.poll()
        assert [n.payload for n in listener.notifies] == ["hello"]
        one(listener, "UNLISTEN *")
        assert pinned(proxy, "listen") == 0
    finally:
        listener.close()
        sender.close()


def test_extended_protocol_lock_pins_after_repeated_texts(proxy):
    """A driver on the extended protocol repeats a harmless text (the proxy remembers it
    needs no look), then takes a lock with another: that one pins, and the remembered text
    sent again does not undo it."""
    with contextlib.closing(wire.login(proxy.host, proxy.port, user=APP_USER,
                                       dbname=APP_DB)) as sock:
        for _ in range(3):
            assert wire.extended_query(sock, "SELECT 1") == [("1",)]
        assert pinned(proxy, "advisory_lock") == 0
        wire.extended_query(sock, "SELECT pg_advisory_lock(4245)")
        assert pinned(proxy, "advisory_lock") == 1
        pid = wire.extended_query(sock, "SELECT pg_backend_pid()")
        wire.extended_query(sock, "SELECT 1")
        churn(proxy)
        assert wire.extended_query(sock, "SELECT pg_backend_pid()") == pid
        assert pinned(proxy, "advisory_lock") == 1
        wire.extended_query(sock, "SELECT pg_advisory_unlock_all()")
        assert pinned(proxy, "advisory_lock") == 0


def test_simple_protocol_lock_pins_after_same_shaped_queries(proxy):
    """A driver on the simple protocol sends one query shape with other constants each
    time (the proxy remembers that shape needs no look), then takes a lock with a text of
    another shape: that one pins, and the remembered shape sent again does not undo it. The
    lock function's name inside a constant of a remembered shape pins nothing."""
    conn = connect(proxy)
    try:
        for i in range(3):
            assert one(conn, "SELECT %s::int", (i,)) == i
        assert pinned(proxy, "advisory_lock") == 0
        one(conn, "SELECT pg_advisory_lock(%s)", (4246,))
        assert pinned(proxy, "advisory_lock") == 1
        pid = one(conn, "SELECT pg_backend_pid()")
        assert one(conn, "SELECT %s::int", (7,)) == 7
        churn(proxy)
        assert one(conn, "SELECT pg_backend_pid()") == pid
        assert pinned(proxy, "advisory_lock") == 1
        one(conn, "SELECT pg_advisory_unlock_all()")
        assert pinned(proxy, "advisory_lock") == 0
        one(conn, "SELECT %s::text", ("a",))
        one(conn, "SELECT %s::text", ("pg_advisory_lock(1)",))
        assert pinned(proxy, "advisory_lock") == 0
    finally:
        conn.close()


def test_session_advisory_lock_pins_until_unlock_all(proxy):
    holder, other = connect(proxy), connect(proxy)
    try:
        one(holder, "SELECT pg_advisory_lock(4242)")
        assert pinned(proxy, "advisory_lock") == 1
        churn(proxy)
        # A try_lock pins too, even when it fails: whether it got the lock is not checked.
        assert one(other, "SELECT pg_try_advisory_lock(4242)") is False
        assert pinned(proxy, "advisory_lock") == 2
        one(holder, "SELECT pg_advisory_unlock_all()")
        assert pinned(proxy, "advisory_lock") == 1
        assert one(other, "SELECT pg_try_advisory_lock(4242)") is True
        one(other, "SELECT pg_advisory_unlock_all()")
        assert pinned(proxy, "advisory_lock") == 0
    finally:
        holder.close()
        other.close()


def test_temp_table_pins_until_discard_temp(proxy):
    conn = connect(proxy)
    try:
        one(conn, "CREATE TEMP TABLE scratch (x int)")
        assert pinned(proxy, "temp_table") == 1
        for i in range(5):
            one(conn, "INSERT INTO scratch VALUES (%s)", (i,))
            churn(proxy, times=2)
        assert one(conn, "SELECT count(*) FROM scratch") == 5
        one(conn, "DISCARD TEMP")
        assert pinned(proxy, "temp_table") == 0
    finally:
        conn.close()


def test_hold_cursor_pins_until_close_all(proxy):
    conn = connect(proxy)
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("DECLARE c CURSOR WITH HOLD FOR SELECT generate_series(1, 10)")
            cur.execute("COMMIT")
        assert pinned(proxy, "hold_cursor") == 1
        churn(proxy)
        with conn.cursor() as cur:
            cur.execute("FETCH 3 FROM c")
            assert [r[0] for r in cur.fetchall()] == [1, 2, 3]
        one(conn, "CLOSE ALL")
        assert pinned(proxy, "hold_cursor") == 0
    finally:
        conn.close()


def test_pinned_connection_is_not_reused_after_the_client_leaves(pg, proxy):
    conn = connect(proxy)
    one(conn, "LISTEN left_behind")
    pid = one(conn, "SELECT pg_backend_pid()")
    conn.close()
    # Its LISTEN must not reach the next client: the connection was closed, not pooled.
    deadline = time.monotonic() + NOTIFY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not pg.psql(f"SELECT 1 FROM pg_stat_activity WHERE pid = {pid}"):
            break
        time.sleep(0.1)
    assert not pg.psql(f"SELECT 1 FROM pg_stat_activity WHERE pid = {pid}")
    assert pinned(proxy, "listen") == 0
