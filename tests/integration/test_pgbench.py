"""pgbench through the proxy in transaction mode with 4x more clients than server
connections, in simple, extended and prepared protocol; results must match a direct run."""
import pytest

from conftest import APP_DB, APP_USER
from harness import run_pgbench

POOL_SIZE = 4
CLIENTS = 16
TRANSACTIONS = 50  # per client

# Deterministic workload: client c adds 1 to counter row c+1 and logs it, once per
# transaction. The final table depends only on CLIENTS and TRANSACTIONS.
COUNTER_SCRIPT = """\
\\set id :client_id + 1
BEGIN;
UPDATE bench_counter SET n = n + 1, touched = touched + :id WHERE id = :id;
INSERT INTO bench_log (id, n) SELECT id, n FROM bench_counter WHERE id = :id;
END;
"""

CHECKSUM_SQL = """
SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM bench_counter t;
SELECT md5(string_agg(l::text, ',' ORDER BY l.id, l.n)) FROM bench_log l;
"""


def check_pgbench_output(result, expected_transactions):
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "number of failed transactions: 0 " in output, output
    assert f"number of transactions actually processed: {expected_transactions}/" \
           f"{expected_transactions}" in output, output
    assert "error" not in output.lower(), output
    assert "aborted" not in output, output


def bank_invariants(pg):
    """For any set of committed tpcb-like transactions: each table's balance total equals
    the sum of the history deltas."""
    return pg.query("""
            SELECT (SELECT sum(delta) FROM pgbench_history),
                   (SELECT sum(abalance) FROM pgbench_accounts),
                   (SELECT sum(tbalance) FROM pgbench_tellers),
                   (SELECT sum(bbalance) FROM pgbench_branches),
                   (SELECT count(*) FROM pgbench_history)""", dbname=APP_DB)[0]


def run_tpcb(pg, port: int, protocol: str, clients: int = CLIENTS,
             transactions: int = TRANSACTIONS) -> None:
    """pgbench's TPC-B-like script through `port`: every transaction ran, once, and the
    balances add up."""
    history_before = bank_invariants(pg)[4]
    result = run_pgbench(port, ["-n", "-c", str(clients), "-j", "2", "-t", str(transactions),
                                "-M", protocol], user=APP_USER, dbname=APP_DB)
    check_pgbench_output(result, clients * transactions)
    delta, accounts, tellers, branches, history = bank_invariants(pg)
    assert history - history_before == clients * transactions
    assert accounts == tellers == branches == delta


@pytest.mark.parametrize("protocol", ["simple", "extended", "prepared"])
def test_tpcb_through_proxy(pgbench_db, sluice, protocol):
    proxy = sluice(pool_mode="transaction", pool_size=POOL_SIZE)
    run_tpcb(pgbench_db, proxy.port, protocol)


def reset_counters(pg):
    pg.psql(script=f"""
        DROP TABLE IF EXISTS bench_counter, bench_log;
        CREATE TABLE bench_counter (id int PRIMARY KEY, n int NOT NULL, touched bigint NOT NULL);
        INSERT INTO bench_counter SELECT g, 0, 0 FROM generate_series(1, {CLIENTS * 2}) g;
        CREATE TABLE bench_log (id int NOT NULL, n int NOT NULL);
        ALTER TABLE bench_counter OWNER TO {APP_USER};
        ALTER TABLE bench_log OWNER TO {APP_USER};
        """, dbname=APP_DB)


def run_counters(pg, port, protocol, script_path):
    reset_counters(pg)
    result = run_pgbench(port, ["-n", "-f", str(script_path), "-c", str(CLIENTS), "-j", "2",
                                "-t", str(TRANSACTIONS), "-M", protocol],
                         user=APP_USER, dbname=APP_DB)
    check_pgbench_output(result, CLIENTS * TRANSACTIONS)
    return pg.psql(CHECKSUM_SQL, dbname=APP_DB)


@pytest.mark.parametrize("protocol", ["simple", "extended", "prepared"])
def test_same_results_as_direct(pg, sluice, tmp_path, protocol):
    script = tmp_path / "counter.sql"
    script.write_text(COUNTER_SCRIPT)
    direct = run_counters(pg, pg.port, protocol, script)
    proxy = sluice(pool_mode="transaction", pool_size=POOL_SIZE)
    proxied = run_counters(pg, proxy.port, protocol, script)
    assert proxied == direct
    # And the direct result is the one the workload defines.
    totals = pg.psql("SELECT count(*), sum(n) FROM bench_counter WHERE n > 0", dbname=APP_DB)
    assert totals == f"{CLIENTS}|{CLIENTS * TRANSACTIONS}"
    assert pg.psql("SELECT count(*) FROM bench_log", dbname=APP_DB) == \
        str(CLIENTS * TRANSACTIONS)
