"""psql through the proxy, in session and transaction mode."""
import pytest

from conftest import APP_DB, APP_USER

MODES = ["session", "transaction"]


@pytest.fixture(params=MODES)
def proxy(request, sluice):
    return sluice(pool_mode=request.param, pool_size=2)


def test_select(proxy):
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB) == "1"
    assert proxy.psql("SELECT current_user || '@' || current_database()", user=APP_USER,
                      dbname=APP_DB) == f"{APP_USER}@{APP_DB}"


def test_multi_statement_query_string(proxy):
    # One Query message holding several statements: one implicit transaction on the server.
    out = proxy.psql("CREATE TEMP TABLE t(x int); INSERT INTO t VALUES (1), (2), (3);"
                     " SELECT sum(x) FROM t;", user=APP_USER, dbname=APP_DB)
    assert out.splitlines()[-1] == "6"


def test_script_with_explicit_transaction(proxy):
    # Statements of one transaction must run on one server connection, in any pool mode.
    out = proxy.psql(script="BEGIN;\n"
                            "SELECT pg_backend_pid();\n"
                            "SELECT pg_backend_pid();\n"
                            "SELECT txid_current() = txid_current();\n"
                            "COMMIT;\n",
                     user=APP_USER, dbname=APP_DB)
    pid1, pid2, same = out.splitlines()
    assert pid1 == pid2
    assert same == "t"


def test_error_then_recovery(proxy):
    result = proxy.run_psql(script="SELECT 1/0;\n"
                                   "SELECT 'after error';\n"
                                   "BEGIN;\n"
                                   "SELECT 1/0;\n"
                                   "SELECT 'inside aborted transaction';\n"
                                   "ROLLBACK;\n"
                                   "SELECT 'recovered';\n",
                            user=APP_USER, dbname=APP_DB, on_error_stop=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("division by zero") == 2
    assert "current transaction is aborted" in result.stderr
    assert result.stdout.splitlines() == ["after error", "recovered"]


def test_session_state_survives_in_session_mode(sluice):
    proxy = sluice(pool_mode="session", pool_size=2)
    out = proxy.psql(script="SET application_name = 'sluice_psql_test';\n"
                            "CREATE TEMP TABLE kept(x int);\n"
                            "INSERT INTO kept VALUES (42);\n"
                            "SELECT current_setting('application_name'), x FROM kept;\n",
                     user=APP_USER, dbname=APP_DB)
    assert out == "sluice_psql_test|42"


def test_many_sequential_sessions_reuse_pool(sluice, pg):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice(pool_mode="transaction", pool_size=2)
    for i in range(20):
        assert proxy.psql(f"SELECT {i}", user=APP_USER, dbname=APP_DB) == str(i)
    assert pg.server_connections(APP_USER, APP_DB) <= 2
