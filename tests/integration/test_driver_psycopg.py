"""Real Python drivers through transaction mode with fewer server connections than clients.

psycopg 3 (Debian's python3-psycopg) with prepare_threshold=0 prepares every query as a named
protocol-level statement (_pg3_N) on first use and only sends Bind/Execute afterwards, so the
proxy must prepare those statements on whichever server connection the client gets next.
psycopg 3 also sends SQL the proxy has to honour: `DEALLOCATE ALL` after every ROLLBACK (and
DROP) once it has prepared something, and `DEALLOCATE _pg3_N` when its own cache
(prepared_max) overflows.
psycopg2 does not prepare; it runs the same kind of mix with its implicit transactions.

Each client thread runs: parametrized queries with expected values computed here, explicit
transactions that write and read back their own rows, session-level SET of reported
parameters (application_name, TimeZone, DateStyle) checked with current_setting, and errors
inside transactions (division by zero, then a statement in the failed transaction, then
ROLLBACK; an undefined table, whose Parse fails) after which the client carries on."""
from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field

import psycopg
import psycopg2
import psycopg2.errors
import pytest

from conftest import APP_DB, APP_USER

POOL_SIZE = 2
CLIENTS = 8
ROUNDS = 24  # per client; the prepared queries run at least once per round
TIMEZONES = ["UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York", "Australia/Sydney",
             "America/Sao_Paulo", "Asia/Kolkata", "Africa/Cairo"]
DATESTYLES = ["ISO, MDY", "SQL, DMY", "Postgres, MDY", "German, DMY"]

ARITH_SQL = "SELECT %s::int * 2 + %s::int, pg_backend_pid()"
CONCAT_SQL = "SELECT %s::text || '-' || %s::text, length(%s::text)"
SETTINGS_SQL = ("SELECT current_setting('application_name'), current_setting('TimeZone'),"
                " current_setting('DateStyle')")


@pytest.fixture
def mix_table(pg):
    """A fresh table the clients write to: (client, round, value)."""
    pg.psql(f"""
        DROP TABLE IF EXISTS driver_mix;
        CREATE TABLE driver_mix (client int NOT NULL, round int NOT NULL, v bigint NOT NULL,
                                 PRIMARY KEY (client, round));
        ALTER TABLE driver_mix OWNER TO {APP_USER};
        """, dbname=APP_DB)
    yield "driver_mix"
    pg.psql("DROP TABLE IF EXISTS driver_mix", dbname=APP_DB)


@dataclass
class ClientResult:
    client: int
    pids: set = field(default_factory=set)
    prepared_runs: int = 0
    commits: int = 0
    rollbacks: int = 0
    expected_errors: dict = field(default_factory=dict)  # exception class name -> count
    failures: list = field(default_factory=list)  # assertion messages and unexpected errors

    def check(self, what: str, got, expected) -> None:
        if got != expected:
            self.failures.append(f"client {self.client}: {what}: got {got!r}, "
                                 f"expected {expected!r}")

    def expected_error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.expected_errors[name] = self.expected_errors.get(name, 0) + 1


def value_of(client: int, rnd: int) -> int:
    return client * 1000 + rnd


def run_clients(worker, count: int) -> list[ClientResult]:
    """Runs worker(client, result, barrier) in `count` threads; collects results."""
    barrier = threading.Barrier(count, timeout=30)
    results = [ClientResult(i) for i in range(count)]

    def body(i):
        try:
            worker(i, results[i], barrier)
        except Exception as exc:  # an unexpected exception ends this client; report it
            here = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == __file__]
            where = f"line {here[-1].lineno}: {here[-1].line}" if here else "?"
            results[i].failures.append(f"client {i} died at {where}: {exc!r}")
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,), name=f"client{i}", daemon=True)
               for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"clients still running after 90 s: {hung}"
    return results


def assert_clean(results: list[ClientResult], proxy) -> None:
    failures = [f for r in results for f in r.failures]
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} failures)"
    assert proxy.alive(), "the proxy exited"


def table_totals(pg) -> dict[int, tuple[int, int]]:
    rows = pg.query("SELECT client, count(*), sum(v) FROM driver_mix GROUP BY client",
                    dbname=APP_DB)
    return {client: (n, int(total)) for client, n, total in rows}


def expected_totals(clients: int, committed_rounds) -> dict[int, tuple[int, int]]:
    out = {}
    for c in range(clients):
        rounds = [r for r in range(ROUNDS) if committed_rounds(r)]
        out[c] = (len(rounds), sum(value_of(c, r) for r in rounds))
    return out


# -- psycopg 3 ----------------------------------------------------------------------------

def committed_psycopg(rnd: int) -> bool:
    """Rounds whose insert commits; the others roll back on purpose."""
    return rnd % 4 != 2


def psycopg_client(proxy, i: int, res: ClientResult, barrier) -> None:
    conn = psycopg.connect(host=proxy.host, port=proxy.port, user=APP_USER, dbname=APP_DB,
                           autocommit=True, prepare_threshold=0, connect_timeout=10)
    with conn:
        app_name, tz, datestyle = f"psycopg-client-{i}", TIMEZONES[i % len(TIMEZONES)], \
            DATESTYLES[i % len(DATESTYLES)]
        conn.execute(f"SET application_name = '{app_name}'")
        conn.execute(f"SET TimeZone = '{tz}'")
        conn.execute(f"SET DateStyle = '{datestyle}'")
        barrier.wait()
        running_total = 0
        for rnd in range(ROUNDS):
            # Prepared query outside a transaction: its own little transaction.
            a, b = rnd * 7 + i, i - rnd
            value, pid = conn.execute(ARITH_SQL, (a, b)).fetchone()
            res.check(f"round {rnd} arithmetic", value, a * 2 + b)
            res.pids.add(pid)
            res.prepared_runs += 1

            got = conn.execute(CONCAT_SQL, (f"c{i}", f"r{rnd}", f"c{i}r{rnd}")).fetchone()
            res.check(f"round {rnd} concat", got, (f"c{i}-r{rnd}", len(f"c{i}r{rnd}")))

            # A transaction that writes, reads back its own rows and commits or rolls back.
            v = value_of(i, rnd)
            commit = committed_psycopg(rnd)
            try:
                with conn.transaction():
                    conn.execute("INSERT INTO driver_mix (client, round, v) VALUES (%s, %s, %s)",
                                 (i, rnd, v))
                    n, total = conn.execute(
                        "SELECT count(*), coalesce(sum(v), 0) FROM driver_mix WHERE client = %s",
                        (i,)).fetchone()
                    res.check(f"round {rnd} in-transaction total", int(total), running_total + v)
                    # The same prepared query inside a transaction: one server connection.
                    value, pid_in_tx = conn.execute(ARITH_SQL, (rnd, i)).fetchone()
                    res.check(f"round {rnd} arithmetic in transaction", value, rnd * 2 + i)
                    pid2 = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                    res.check(f"round {rnd} backend stays within a transaction", pid2, pid_in_tx)
                    res.pids.add(pid_in_tx)
                    res.prepared_runs += 1
                    if not commit:
                        raise psycopg.Rollback()
            except psycopg.Error as exc:
                res.failures.append(f"client {i} round {rnd} transaction: {exc!r}")
                continue
            if commit:
                running_total += v
                res.commits += 1
            else:
                res.rollbacks += 1

            # Session settings are this client's own, whatever server connection it got.
            settings = conn.execute(SETTINGS_SQL).fetchone()
            res.check(f"round {rnd} settings", settings, (app_name, tz, datestyle))

            if rnd % 3 == 1:
                # Division by zero inside a transaction: the transaction is failed until
                # ROLLBACK, then the client carries on.
                conn.execute("BEGIN")
                conn.execute("SELECT %s::int + 1", (rnd,))
                try:
                    conn.execute("SELECT %s::int / %s::int", (rnd, 0))
                    res.failures.append(f"client {i} round {rnd}: no division by zero")
                except psycopg.errors.DivisionByZero as exc:
                    res.expected_error(exc)
                try:
                    conn.execute(ARITH_SQL, (1, 1))
                    res.failures.append(f"client {i} round {rnd}: failed transaction ran")
                except psycopg.errors.InFailedSqlTransaction as exc:
                    res.expected_error(exc)
                res.check(f"round {rnd} status after error", conn.info.transaction_status,
                          psycopg.pq.TransactionStatus.INERROR)
                conn.execute("ROLLBACK")
                res.check(f"round {rnd} status after rollback", conn.info.transaction_status,
                          psycopg.pq.TransactionStatus.IDLE)
            if rnd % 6 == 4:
                # A statement whose Parse fails (undefined table) inside a transaction.
                try:
                    with conn.transaction():
                        conn.execute("SELECT v FROM no_such_table_%s WHERE v = %%s" % i, (rnd,))
                    res.failures.append(f"client {i} round {rnd}: no undefined-table error")
                except psycopg.errors.UndefinedTable as exc:
                    res.expected_error(exc)
            if rnd == ROUNDS // 2:
                # Change settings midway; the new values must follow the client too.
                tz = TIMEZONES[(i + 3) % len(TIMEZONES)]
                app_name = f"psycopg-client-{i}-b"
                conn.execute(f"SET TimeZone = '{tz}'")
                conn.execute(f"SET application_name = '{app_name}'")

        # The prepared query really is a server-side, protocol-level prepared statement on
        # the server connection that runs it.
        with conn.transaction():
            conn.execute(ARITH_SQL, (0, 0))
            n = conn.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s"
                             " AND NOT from_sql", (ARITH_SQL.replace("%s", "$1", 1)
                                                   .replace("%s", "$2", 1),)).fetchone()[0]
            res.check("ARITH_SQL prepared on the server connection", n >= 1, True)
        res.check("final settings", conn.execute(SETTINGS_SQL).fetchone(),
                  (app_name, tz, datestyle))


@pytest.mark.parametrize("max_prepared", [200, 3], ids=["default-cache", "tiny-cache"])
def test_psycopg3_prepared_mix(pg, sluice, mix_table, max_prepared):
    """8 psycopg 3 clients, every query prepared, 2 server connections. With a cache of 3
    statements per server connection the proxy keeps evicting and re-preparing."""
    proxy = sluice({"pool": {"pool_mode": "transaction", "pool_size": POOL_SIZE,
                             "max_prepared_statements": max_prepared}})
    results = run_clients(lambda i, res, barrier: psycopg_client(proxy, i, res, barrier),
                          CLIENTS)
    assert_clean(results, proxy)
    for r in results:
        assert r.prepared_runs == 2 * ROUNDS, r
        assert r.commits == sum(committed_psycopg(x) for x in range(ROUNDS)), r
        div_rounds = sum(1 for x in range(ROUNDS) if x % 3 == 1)
        parse_rounds = sum(1 for x in range(ROUNDS) if x % 6 == 4)
        assert r.expected_errors == {"DivisionByZero": div_rounds,
                                     "InFailedSqlTransaction": div_rounds,
                                     "UndefinedTable": parse_rounds}, r
    # Clients moved between server connections while reusing their prepared statements.
    moved = [r.client for r in results if len(r.pids) > 1]
    assert moved, f"no client saw more than one server connection: {[r.pids for r in results]}"
    all_pids = set().union(*(r.pids for r in results))
    assert len(all_pids) <= POOL_SIZE, f"more server connections than pool_size: {all_pids}"
    assert table_totals(pg) == expected_totals(CLIENTS, committed_psycopg)


def test_psycopg3_rollback_deallocate_all(pg, sluice):
    """After a ROLLBACK, psycopg 3 forgets its prepared statements and sends a simple-query
    `DEALLOCATE ALL` (it also does after any DROP). With one server connection shared by
    two clients, neither may lose the statements the proxy prepared for it."""
    proxy = sluice({"pool": {"pool_mode": "transaction", "pool_size": 1}})
    conns = [psycopg.connect(host=proxy.host, port=proxy.port, user=APP_USER, dbname=APP_DB,
                             autocommit=True, prepare_threshold=0, connect_timeout=10)
             for _ in range(2)]
    try:
        a, b = conns
        for k, c in enumerate(conns):
            assert c.execute(ARITH_SQL, (k, 1)).fetchone()[0] == 2 * k + 1
        a.execute("BEGIN")
        with pytest.raises(psycopg.errors.DivisionByZero):
            a.execute("SELECT %s::int / %s::int", (1, 0))
        a.execute("ROLLBACK")  # psycopg follows it with DEALLOCATE ALL
        for rnd in range(3):
            for k, c in enumerate(conns):
                assert c.execute(ARITH_SQL, (k, rnd)).fetchone()[0] == 2 * k + rnd, (rnd, k)
                assert c.execute("SELECT %s::int / %s::int", (6, 2)).fetchone()[0] == 3
    finally:
        for c in conns:
            c.close()


def test_psycopg3_cache_rotation_deallocate(pg, sluice):
    """psycopg 3 keeps at most `prepared_max` statements (100 by default) and, past that,
    sends a simple-query `DEALLOCATE _pg3_N` for the oldest one before its next query. The
    proxy must honour it for the client's own statement name."""
    proxy = sluice({"pool": {"pool_mode": "transaction", "pool_size": 1}})
    conns = [psycopg.connect(host=proxy.host, port=proxy.port, user=APP_USER, dbname=APP_DB,
                             autocommit=True, prepare_threshold=0, connect_timeout=10)
             for _ in range(2)]
    try:
        conns[0].prepared_max = 2
        errors = []
        for rnd in range(4):
            for n, c in enumerate(conns):
                for j in range(3):  # three distinct queries: one past prepared_max
                    try:
                        got = c.execute(f"SELECT %s::int + {j}", (rnd,)).fetchone()[0]
                        if got != rnd + j:
                            errors.append(f"client {n} round {rnd} query {j}: got {got}")
                    except psycopg.Error as exc:
                        errors.append(f"client {n} round {rnd} query {j}: {exc!r}")
        assert not errors, "\n".join(errors)
    finally:
        for c in conns:
            c.close()


# -- psycopg2 -----------------------------------------------------------------------------

def committed_psycopg2(rnd: int) -> bool:
    return rnd % 5 != 3


def psycopg2_client(proxy, i: int, res: ClientResult, barrier) -> None:
    conn = psycopg2.connect(host=proxy.host, port=proxy.port, user=APP_USER, dbname=APP_DB,
                            connect_timeout=10)
    try:
        app_name, tz = f"psycopg2-client-{i}", TIMEZONES[-1 - i % len(TIMEZONES)]
        conn.autocommit = True  # SET outside a transaction: session level
        with conn.cursor() as cur:
            cur.execute("SET application_name = %s", (app_name,))
            cur.execute("SET TimeZone = %s", (tz,))
        barrier.wait()
        running_total = 0
        for rnd in range(ROUNDS):
            conn.autocommit = True
            with conn.cursor() as cur:
                a, b = rnd * 3 + i, i * 11 - rnd
                cur.execute(ARITH_SQL, (a, b))
                value, pid = cur.fetchone()
                res.check(f"round {rnd} arithmetic", value, a * 2 + b)
                res.pids.add(pid)
                cur.execute(SETTINGS_SQL)
                got = cur.fetchone()[:2]
                res.check(f"round {rnd} settings", got, (app_name, tz))

            # psycopg2's own transactions: BEGIN is implicit, commit()/rollback() end them.
            conn.autocommit = False
            v = value_of(i, rnd)
            with conn.cursor() as cur:
                cur.execute("INSERT INTO driver_mix (client, round, v) VALUES (%s, %s, %s)",
                            (i, rnd, v))
                cur.execute("SELECT coalesce(sum(v), 0), pg_backend_pid() FROM driver_mix"
                            " WHERE client = %s", (i,))
                total, pid_a = cur.fetchone()
                res.check(f"round {rnd} in-transaction total", int(total), running_total + v)
                cur.execute("SELECT pg_backend_pid(), current_setting('TimeZone')")
                pid_b, tz_in_tx = cur.fetchone()
                res.check(f"round {rnd} backend stays within a transaction", pid_b, pid_a)
                res.check(f"round {rnd} TimeZone in transaction", tz_in_tx, tz)
            if committed_psycopg2(rnd):
                conn.commit()
                running_total += v
                res.commits += 1
            else:
                conn.rollback()
                res.rollbacks += 1

            if rnd % 4 == 1:
                with conn.cursor() as cur:
                    cur.execute("SELECT %s::int + 1", (rnd,))
                    res.check(f"round {rnd} before error", cur.fetchone()[0], rnd + 1)
                    try:
                        cur.execute("SELECT %s / %s", (rnd, 0))
                        res.failures.append(f"client {i} round {rnd}: no division by zero")
                    except psycopg2.errors.DivisionByZero as exc:
                        res.expected_error(exc)
                    try:
                        cur.execute("SELECT 1")
                        res.failures.append(f"client {i} round {rnd}: failed transaction ran")
                    except psycopg2.errors.InFailedSqlTransaction as exc:
                        res.expected_error(exc)
                conn.rollback()
            if rnd == ROUNDS // 2:
                conn.autocommit = True
                tz = TIMEZONES[(i + 5) % len(TIMEZONES)]
                app_name = f"psycopg2-client-{i}-b"
                with conn.cursor() as cur:
                    cur.execute("SET TimeZone = %s", (tz,))
                    cur.execute("SET application_name = %s", (app_name,))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(SETTINGS_SQL)
            res.check("final settings", cur.fetchone()[:2], (app_name, tz))
    finally:
        conn.close()


def test_psycopg2_mix(pg, sluice, mix_table):
    """6 psycopg2 clients, 2 server connections: queries, implicit transactions, SET,
    errors inside transactions."""
    clients = 6
    proxy = sluice(pool_mode="transaction", pool_size=POOL_SIZE)
    results = run_clients(lambda i, res, barrier: psycopg2_client(proxy, i, res, barrier),
                          clients)
    assert_clean(results, proxy)
    err_rounds = sum(1 for x in range(ROUNDS) if x % 4 == 1)
    for r in results:
        assert r.commits == sum(committed_psycopg2(x) for x in range(ROUNDS)), r
        assert r.expected_errors == {"DivisionByZero": err_rounds,
                                     "InFailedSqlTransaction": err_rounds}, r
    assert any(len(r.pids) > 1 for r in results), [r.pids for r in results]
    assert len(set().union(*(r.pids for r in results))) <= POOL_SIZE
    assert table_totals(pg) == expected_totals(clients, committed_psycopg2)
