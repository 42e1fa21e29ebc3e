"""COPY of 100,000 rows in and out through the proxy, byte-identical to the source."""
import contextlib
import io

import psycopg2
import pytest

from conftest import APP_DB, APP_USER

ROWS = 100_000
TABLE = "copy_rows"
COPY_OUT = f"COPY (SELECT * FROM {TABLE} ORDER BY id) TO STDOUT"


def make_rows() -> bytes:
    """COPY text format in its canonical escaping, so COPY TO reproduces it exactly:
    NULLs, escaped tabs/backslashes/newlines and multi-byte UTF-8 included."""
    lines = []
    for i in range(1, ROWS + 1):
        if i % 7 == 0:
            payload = "\\N"
        elif i % 5 == 0:
            payload = f"tab\\there\\\\back\\nline {i}"
        else:
            payload = f"café ✓ {i * 7919 % 100_003:06d} " + "x" * (i % 40)
        lines.append(f"{i}\tname-{i}\t{payload}\n")
    return "".join(lines).encode()


@pytest.fixture(scope="module")
def source(pg, tmp_path_factory):
    data = make_rows()
    path = tmp_path_factory.mktemp("copy") / "rows.tsv"
    path.write_bytes(data)
    pg.psql(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, name text NOT NULL, payload text);"
            f" ALTER TABLE {TABLE} OWNER TO {APP_USER}", dbname=APP_DB)
    return path


def copy_out(conn) -> bytes:
    buf = io.BytesIO()
    with conn.cursor() as cur:
        cur.copy_expert(COPY_OUT, buf)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_copy_in_and_out_through_proxy(pg, sluice, source, mode):
    pg.psql(f"TRUNCATE {TABLE}", dbname=APP_DB)
    proxy = sluice(pool_mode=mode, pool_size=2)
    conn = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        with conn.cursor() as cur, open(source, "rb") as f:
            cur.copy_expert(f"COPY {TABLE} FROM STDIN", f)
            assert cur.rowcount == ROWS
        assert pg.psql(f"SELECT count(*) FROM {TABLE}", dbname=APP_DB) == str(ROWS)
        through_proxy = copy_out(conn)
    finally:
        conn.close()
    with contextlib.closing(pg.connect(dbname=APP_DB)) as direct_conn:
        direct = copy_out(direct_conn)
    assert direct == source.read_bytes()
    assert through_proxy == direct


def test_psql_copy_out_through_proxy(pg, sluice, source, tmp_path):
    pg.psql(f"TRUNCATE {TABLE}", dbname=APP_DB)
    pg.psql(f"\\copy {TABLE} FROM '{source}'", dbname=APP_DB)
    proxy = sluice(pool_mode="transaction", pool_size=2)
    out = tmp_path / "out.tsv"
    proxy.psql(f"\\copy (SELECT * FROM {TABLE} ORDER BY id) TO '{out}'", user=APP_USER,
               dbname=APP_DB)
    assert out.read_bytes() == source.read_bytes()


def test_failed_copy_leaves_connection_usable(pg, sluice):
    pg.psql(f"TRUNCATE {TABLE}", dbname=APP_DB)
    proxy = sluice(pool_mode="transaction", pool_size=1)
    conn = proxy.connect(user=APP_USER, dbname=APP_DB)
    try:
        bad = io.BytesIO(b"1\tok\tfine\nnot-a-number\tbad\trow\n")
        with pytest.raises(psycopg2.errors.InvalidTextRepresentation):
            with conn.cursor() as cur:
                cur.copy_expert(f"COPY {TABLE} FROM STDIN", bad)
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {TABLE}")
            assert cur.fetchone()[0] == 0  # the failed COPY was rolled back
    finally:
        conn.close()
