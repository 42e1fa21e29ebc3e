"""Transaction mode: server-side prepared statements are shared between clients, so after DDL
changes a table's shape PostgreSQL would refuse the old statement ("cached plan must not
change result type", 0A000) — even for a client that prepared its statement after the DDL.
Sluice re-prepares the statement and sends the batch again when nothing of it can have run,
so clients see the new rows instead of the error. Also: clients under different search_paths
never share a server statement (the same text names other tables)."""
import contextlib
import struct

import psycopg
import pytest

from conftest import APP_DB, APP_USER
from harness import wire
from test_admin import app_config

QUERY = "SELECT * FROM shape ORDER BY id"


@pytest.fixture
def proxy(pg, sluice):
    # One server connection: every client's statements live on it.
    return sluice(app_config(pg, pool_size=1))


@pytest.fixture
def shape_table(pg):
    pg.psql(f"""
        DROP TABLE IF EXISTS shape;
        CREATE TABLE shape (id int PRIMARY KEY, a text);
        INSERT INTO shape VALUES (1, 'one'), (2, 'two');
        ALTER TABLE shape OWNER TO {APP_USER};
        """, dbname=APP_DB)
    yield
    pg.psql("DROP TABLE IF EXISTS shape", dbname=APP_DB)


def connect(proxy):
    # prepare_threshold=0: every query is a named protocol-level statement from its first run.
    return psycopg.connect(host=proxy.host, port=proxy.port, user=APP_USER, dbname=APP_DB,
                           autocommit=True, prepare_threshold=0, connect_timeout=10)


def rows(conn, sql=QUERY, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params, prepare=True)
        return cur.fetchall(), [d.name for d in cur.description]


def test_statement_prepared_before_ddl_is_reprepared_for_every_client(proxy, shape_table):
    a, b = connect(proxy), connect(proxy)
    try:
        assert rows(a) == ([(1, "one"), (2, "two")], ["id", "a"])
        with a.cursor() as cur:
            cur.execute("ALTER TABLE shape ADD COLUMN b int DEFAULT 7", prepare=False)
        # b prepares the same text after the DDL: on the server it is a's older statement.
        assert rows(b) == ([(1, "one", 7), (2, "two", 7)], ["id", "a", "b"])
        # a runs its own statement, prepared before the DDL, again.
        assert rows(a) == ([(1, "one", 7), (2, "two", 7)], ["id", "a", "b"])
        with a.cursor() as cur:
            cur.execute("ALTER TABLE shape ALTER COLUMN a TYPE varchar(20)", prepare=False)
        assert rows(a) == ([(1, "one", 7), (2, "two", 7)], ["id", "a", "b"])
        assert rows(b, QUERY + " LIMIT %s", (1,)) == ([(1, "one", 7)], ["id", "a", "b"])
    finally:
        a.close()
        b.close()


def parse(name: str, sql: str) -> bytes:
    return wire.message(b"P", name.encode() + b"\0" + sql.encode() + b"\0"
                        + struct.pack("!H", 0))


def bind_execute_sync(statement: str) -> bytes:
    return (wire.message(b"B", b"\0" + statement.encode() + b"\0" + struct.pack("!HHH", 0, 0, 0))
            + wire.message(b"E", b"\0" + struct.pack("!I", 0)) + wire.message(b"S", b""))


def test_batch_that_begins_with_the_unnamed_statement_gets_the_stale_error(
        proxy, pg, shape_table):
    """Only batches that begin with a named statement are kept to be sent again (the
    bytes of unnamed-statement batches are not copied): one that begins with a Parse of the
    unnamed statement and then binds a stale named one gets PostgreSQL's error. The next
    use of the statement prepares it afresh and runs."""
    with contextlib.closing(wire.login(proxy.host, proxy.port, user=APP_USER,
                                       dbname=APP_DB)) as sock:
        sock.sendall(parse("s1", QUERY) + bind_execute_sync("s1"))
        assert wire.read_results(sock) == [("1", "one"), ("2", "two")]
        pg.psql("ALTER TABLE shape ADD COLUMN b int DEFAULT 7", dbname=APP_DB)
        sock.sendall(parse("", "SELECT 1") + bind_execute_sync("s1"))
        with pytest.raises(wire.ServerError) as failed:
            wire.read_results(sock)
        assert failed.value.fields["C"] == "0A000", failed.value.fields
        assert "cached plan must not change result type" in failed.value.fields["M"]
        sock.sendall(bind_execute_sync("s1"))  # the next use prepares it afresh
        assert wire.read_results(sock) == [("1", "one", "7"), ("2", "two", "7")]


def test_inside_a_transaction_the_error_reaches_the_client_then_the_next_run_works(
        proxy, shape_table):
    a = connect(proxy)
    try:
        assert rows(a)[1] == ["id", "a"]
        with a.cursor() as cur:
            cur.execute("ALTER TABLE shape DROP COLUMN a", prepare=False)
        # In a transaction block something may already have run: never sent again.
        with pytest.raises(psycopg.errors.FeatureNotSupported,
                           match="cached plan must not change result type"):
            with a.transaction():
                with a.cursor() as cur:
                    cur.execute("INSERT INTO shape VALUES (3)", prepare=False)
                rows(a)
        assert rows(a) == ([(1,), (2,)], ["id"])  # the INSERT was rolled back
    finally:
        a.close()


def test_clients_under_different_search_paths_do_not_share_statements(proxy, pg):
    pg.psql(f"""
        DROP SCHEMA IF EXISTS left_side CASCADE; DROP SCHEMA IF EXISTS right_side CASCADE;
        CREATE SCHEMA left_side AUTHORIZATION {APP_USER};
        CREATE SCHEMA right_side AUTHORIZATION {APP_USER};
        CREATE TABLE left_side.t (side text);  INSERT INTO left_side.t VALUES ('left');
        CREATE TABLE right_side.t (n int, m int);  INSERT INTO right_side.t VALUES (1, 2);
        ALTER TABLE left_side.t OWNER TO {APP_USER}; ALTER TABLE right_side.t OWNER TO {APP_USER};
        """, dbname=APP_DB)
    a, b = connect(proxy), connect(proxy)
    try:
        for conn, schema in ((a, "left_side"), (b, "right_side")):
            with conn.cursor() as cur:
                cur.execute(f"SET search_path TO {schema}", prepare=False)
        for _ in range(2):
            assert rows(a, "SELECT * FROM t") == ([("left",)], ["side"])
            assert rows(b, "SELECT * FROM t") == ([(1, 2)], ["n", "m"])
        # One server connection, two server-side statements for the one text.
        assert rows(a, "SELECT count(*) FROM pg_prepared_statements"
                       " WHERE statement = 'SELECT * FROM t'")[0] == [(2,)]
    finally:
        a.close()
        b.close()
        pg.psql("DROP SCHEMA left_side CASCADE; DROP SCHEMA right_side CASCADE", dbname=APP_DB)
