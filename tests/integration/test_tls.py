"""TLS between clients and the proxy ([tls] client_cert/client_key/client_require) and
between the proxy and the server ([tls] server_sslmode)."""
import psycopg2
import pytest

from conftest import APP_DB, APP_USER
from harness import client_env, make_self_signed_cert, run_psql

SSL_OF_PROXY_BACKENDS = """
SELECT bool_and(s.ssl), bool_or(s.ssl), count(*)
FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
WHERE a.usename = %s AND a.datname = %s AND a.backend_type = 'client backend'
"""


@pytest.fixture
def tls_proxy(sluice, tmp_path):
    cert, key = make_self_signed_cert(tmp_path / "tls", "proxy")
    proxy = sluice({"tls": {"client_cert": str(cert), "client_key": str(key)}},
                   pool_mode="transaction", pool_size=2)
    proxy.cert = cert
    return proxy


def test_psycopg2_sslmode_require(tls_proxy):
    conn = tls_proxy.connect(user=APP_USER, dbname=APP_DB, sslmode="require")
    try:
        assert conn.info.ssl_in_use
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_verify_full_against_the_configured_certificate(tls_proxy):
    conn = tls_proxy.connect(user=APP_USER, dbname=APP_DB, sslmode="verify-full",
                             sslrootcert=str(tls_proxy.cert))
    try:
        assert conn.info.ssl_in_use
        assert conn.info.ssl_attribute("protocol") in ("TLSv1.2", "TLSv1.3")
    finally:
        conn.close()


def test_psql_sslmode_require(tls_proxy):
    result = run_psql(tls_proxy.port, "SELECT 1", user=APP_USER, dbname=APP_DB,
                      env=client_env(PGSSLMODE="require"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_client_require_refuses_plain_connections(sluice, tmp_path):
    cert, key = make_self_signed_cert(tmp_path / "tls", "proxy")
    proxy = sluice({"tls": {"client_cert": str(cert), "client_key": str(key),
                            "client_require": True}})
    with pytest.raises(psycopg2.OperationalError):
        proxy.connect(user=APP_USER, dbname=APP_DB, sslmode="disable").close()
    conn = proxy.connect(user=APP_USER, dbname=APP_DB, sslmode="require")
    conn.close()


@pytest.mark.parametrize("sslmode, expect_ssl", [("require", True), ("disable", False)])
def test_server_side_sslmode(pg, sluice, sslmode, expect_ssl):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice({"tls": {"server_sslmode": sslmode}}, pool_mode="session", pool_size=2)
    conn = proxy.connect(user=APP_USER, dbname=APP_DB, sslmode="disable")
    try:
        with conn.cursor() as cur:  # a session-mode client holds its server connection
            cur.execute("SELECT 1")
        all_ssl, any_ssl, backends = pg.query(SSL_OF_PROXY_BACKENDS, [APP_USER, APP_DB])[0]
        assert backends >= 1
        assert (all_ssl if expect_ssl else any_ssl) is expect_ssl
    finally:
        conn.close()
