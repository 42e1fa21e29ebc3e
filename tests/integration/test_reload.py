"""RELOAD (admin console) and SIGHUP while clients work: a new pool_size takes effect under
pgbench load, growing and shrinking the pool without failing a transaction; a broken file
is refused with its reason in one log line (and in RELOAD's error), and the running
configuration carries on. (test_admin.py checks a plain RELOAD without load.)"""
import contextlib
import csv
import io
import re
import signal
import threading
import time

import pytest

from conftest import APP_DB, APP_USER
from harness import PostgresServer, run_pgbench
from harness.clients import client_env

ADMIN = PostgresServer.SUPERUSER
RELOADED = "configuration reloaded"
REFUSED = "reload failed, keeping the running configuration"
PHASE_S = 3.0  # load at each pool size
SAMPLE_INTERVAL_S = 0.05
SETTLE_S = 1.0  # a new size must show in pg_stat_activity within this


def proxy_config(pg, pool_size: int) -> dict:
    return {"databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB,
                                   "user": APP_USER}},
            "pool": {"pool_mode": "transaction", "pool_size": pool_size,
                     "query_wait_timeout": "30s"},
            "admin": {"users": [ADMIN]}}


def admin(proxy, command: str) -> list[dict]:
    result = proxy.run_psql(command, user=ADMIN, dbname="sluice", args=("--csv",))
    assert result.returncode == 0, f"{command}: {result.stderr}"
    return list(csv.DictReader(io.StringIO(result.stdout)))


def shown_pool_size(proxy) -> tuple[str, str]:
    """pool_size as SHOW DATABASES (for `app`) and SHOW CONFIG report it."""
    db = [r["pool_size"] for r in admin(proxy, "SHOW DATABASES") if r["name"] == APP_DB]
    cfg = [r["value"] for r in admin(proxy, "SHOW CONFIG") if r["key"] == "pool_size"]
    return db[0], cfg[0]


def log_count(proxy, text: str) -> int:
    return proxy.log().count(text)


def wait_for_log(proxy, text: str, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while log_count(proxy, text) < count:
        assert time.monotonic() < deadline, f"no {text!r} (#{count}) in the log:\n{proxy.log()}"
        time.sleep(0.02)


def reload(proxy, method: str) -> None:
    """Reloads by SIGHUP or by the console's RELOAD; returns once the reload is done."""
    done_before = log_count(proxy, RELOADED) + log_count(proxy, REFUSED)
    if method == "sighup":
        proxy.proc.send_signal(signal.SIGHUP)
    else:
        result = proxy.run_psql("RELOAD", user=ADMIN, dbname="sluice")
        assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 5
    while log_count(proxy, RELOADED) + log_count(proxy, REFUSED) <= done_before:
        assert time.monotonic() < deadline, f"the reload did not finish:\n{proxy.log()}"
        time.sleep(0.02)


class Sampler(threading.Thread):
    """Counts the proxy's server connections in pg_stat_activity every 50 ms, with times."""

    def __init__(self, pg):
        super().__init__(daemon=True)
        self.pg = pg
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()

    def run(self):
        with contextlib.closing(self.pg.connect()) as conn:
            while not self._done.is_set():
                n = self.pg.server_connections(APP_USER, APP_DB, conn=conn)
                self.samples.append((time.monotonic(), n))
                self._done.wait(SAMPLE_INTERVAL_S)

    def stop(self):
        self._done.set()
        self.join(10)

    def between(self, start: float, end: float) -> list[int]:
        return [n for t, n in self.samples if start <= t < end]


@pytest.mark.parametrize("method", ["sighup", "console"])
def test_pool_size_reload_under_pgbench(pgbench_db, sluice, method):
    pg = pgbench_db
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice(proxy_config(pg, pool_size=2))
    sampler = Sampler(pg)
    sampler.start()
    outcome = {}

    def bench():
        # TPC-B-like transactions from 8 clients through a pool of 2, then 6, then 2.
        outcome["result"] = run_pgbench(
            proxy.port, ["-n", "-c", "8", "-j", "2", "-T", str(int(3 * PHASE_S)), "-P", "1"],
            user=APP_USER, dbname=APP_DB, timeout=120)

    worker = threading.Thread(target=bench, daemon=True)
    try:
        started = time.monotonic()
        worker.start()
        time.sleep(PHASE_S)
        proxy.write_config(proxy_config(pg, pool_size=6))
        grown_at = time.monotonic()
        reload(proxy, method)
        assert shown_pool_size(proxy) == ("6", "6")
        time.sleep(max(0.0, grown_at + PHASE_S - time.monotonic()))
        proxy.write_config(proxy_config(pg, pool_size=2))
        shrunk_at = time.monotonic()
        reload(proxy, method)
        assert shown_pool_size(proxy) == ("2", "2")
        worker.join(60)
        ended = time.monotonic()
    finally:
        sampler.stop()
    assert not worker.is_alive(), "pgbench did not finish"
    result = outcome["result"]
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "number of failed transactions: 0 " in output, output
    assert "aborted" not in output, output
    processed = int(re.search(r"number of transactions actually processed: (\d+)", output)[1])
    assert processed > 0, output
    assert log_count(proxy, RELOADED) == 2
    assert log_count(proxy, REFUSED) == 0

    before = sampler.between(started, grown_at)
    grown = sampler.between(grown_at + SETTLE_S, shrunk_at)
    shrunk = sampler.between(shrunk_at + SETTLE_S, ended)
    reached_six = next((t - grown_at for t, n in sampler.samples if t >= grown_at and n == 6),
                       None)
    down_to_two = next((t - shrunk_at for t, n in sampler.samples if t >= shrunk_at and n <= 2),
                       None)
    def after(t):
        return "never" if t is None else f"{t:.2f}s after the reload"

    print(f"\nRELOAD {method}: pgbench {processed} transactions, 0 failed; server "
          f"connections: max {max(before, default=None)} at pool_size 2, "
          f"{min(grown, default=None)}..{max(grown, default=None)} after growing to 6 (6 "
          f"reached {after(reached_six)}), {min(shrunk, default=None)}.."
          f"{max(shrunk, default=None)} after shrinking to 2 (<= 2 {after(down_to_two)})\n"
          f"{result.stderr.strip()}")
    assert before and max(before) <= 2, before
    assert grown and min(grown) == max(grown) == 6, grown
    assert shrunk and max(shrunk) <= 2, shrunk


class Worker(threading.Thread):
    """One client that keeps running queries on its own connection until stopped."""

    def __init__(self, proxy):
        super().__init__(daemon=True)
        self.conn = proxy.connect(user=APP_USER, dbname=APP_DB)
        self.queries = 0
        self.errors: list[str] = []
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            try:
                with self.conn.cursor() as cur:
                    cur.execute("SELECT count(*) FROM pg_class")
                    cur.fetchone()
                self.queries += 1
            except Exception as exc:  # reported by the test
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            self._done.wait(0.01)

    def stop(self):
        self._done.set()
        self.join(10)
        self.conn.close()


BROKEN = {
    # (file text, what the one log line and RELOAD's error must say)
    "toml_syntax": ("[pool\npool_size = 5\n", ":1:"),
    "negative_pool_size": ("[pool]\npool_size = -1\n",
                           "pool.pool_size = -1 is not valid; allowed: 1..10000"),
    "unknown_key": ("[pool]\npool_sizee = 5\n", "unknown key pool.pool_sizee"),
}


@pytest.mark.parametrize("method", ["sighup", "console"])
def test_broken_config_is_refused_and_the_old_one_keeps_running(pg, sluice, method):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice(proxy_config(pg, pool_size=3))
    workers = [Worker(proxy) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for name, (text, reason) in BROKEN.items():
            refused_before = log_count(proxy, REFUSED)
            queries_before = sum(w.queries for w in workers)
            proxy.config_path.write_text(text)
            if method == "sighup":
                reload(proxy, method)
            else:
                result = proxy.run_psql("RELOAD", user=ADMIN, dbname="sluice",
                                        args=("-v", "VERBOSITY=verbose"))
                assert result.returncode != 0, f"{name}: RELOAD succeeded"
                error = result.stderr.strip()
                assert "F0000" in error and reason in error, f"{name}: {error}"
                assert str(proxy.config_path) in error, f"{name}: {error}"
            wait_for_log(proxy, REFUSED, refused_before + 1)
            lines = [line for line in proxy.log().splitlines() if REFUSED in line]
            assert len(lines) == refused_before + 1, lines
            assert reason in lines[-1] and str(proxy.config_path) in lines[-1], lines[-1]
            # The running configuration is untouched and serving.
            assert shown_pool_size(proxy) == ("3", "3"), name
            assert proxy.psql("SELECT 'still serving'", user=APP_USER, dbname=APP_DB) == \
                "still serving"
            deadline = time.monotonic() + 5
            while sum(w.queries for w in workers) < queries_before + 10:
                assert time.monotonic() < deadline, f"{name}: the clients stopped"
                time.sleep(0.02)
            assert all(not w.errors for w in workers), [w.errors for w in workers]
        assert log_count(proxy, RELOADED) == 0
        # Fixed again: the next reload applies it.
        proxy.write_config(proxy_config(pg, pool_size=5))
        reload(proxy, method)
        assert log_count(proxy, RELOADED) == 1
        assert shown_pool_size(proxy) == ("5", "5")
    finally:
        for w in workers:
            w.stop()
    assert all(not w.errors for w in workers), [w.errors for w in workers]
    assert proxy.alive()


def test_reload_adds_and_removes_a_database_and_classes(pg, sluice):
    """SIGHUP with a second database and priority classes: the new database serves, SHOW
    CLASSES lists the classes and a client connected before keeps working; a reload without
    them refuses new logins to the removed database with 3D000 and leaves the connected
    clients alone."""
    config = proxy_config(pg, 3)
    proxy = sluice(config)
    before = proxy.connect(user=APP_USER, dbname=APP_DB, autocommit=True)
    try:
        config["databases"]["app2"] = dict(config["databases"][APP_DB])
        config["classes"] = {"low": {"application_names": ["batch"], "max_waiting_clients": 5}}
        proxy.write_config(config)
        reload(proxy, "sighup")
        assert proxy.psql("SELECT current_database()", user=APP_USER, dbname="app2") == APP_DB
        assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB,
                          env=client_env(PGAPPNAME="batch")) == "1"
        classes = {(r["database"], r["class"]): r for r in admin(proxy, "SHOW CLASSES")}
        assert classes[(APP_DB, "low")]["max_waiting_clients"] == "5"
        assert int(classes[(APP_DB, "low")]["served"]) >= 1, classes
        assert {"admin", "high", "normal", "low"} <= {c for _, c in classes}
        with before.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)

        del config["databases"]["app2"], config["classes"]
        proxy.write_config(config)
        reload(proxy, "sighup")
        refused = proxy.run_psql("SELECT 1", user=APP_USER, dbname="app2")
        assert refused.returncode != 0 and "no such database: app2" in refused.stderr
        assert admin(proxy, "SHOW CLASSES") == []
        with before.cursor() as cur:
            cur.execute("SELECT 3")
            assert cur.fetchone() == (3,)
    finally:
        before.close()
    assert log_count(proxy, RELOADED) == 2


def test_a_shortened_query_wait_timeout_holds_behind_a_longer_one(pg, sluice):
    """Waiting clients' time limits are kept by one timer per pool, set for the earliest.
    After a RELOAD shortens query_wait_timeout from 30 s to 1 s, a client that queues
    behind one still under the 30 s limit fails at its own 1 s, while the one ahead keeps
    its place and runs once the connection is free."""
    config = proxy_config(pg, pool_size=1)
    proxy = sluice(config)
    holder = proxy.connect(user=APP_USER, dbname=APP_DB)
    patient_result: list = []
    try:
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT 1")  # the only server connection stays with this transaction
        patient = threading.Thread(target=lambda: patient_result.append(proxy.run_psql(
            "SELECT 'patient'", user=APP_USER, dbname=APP_DB, args=("-At",), timeout=60)))
        patient.start()
        deadline = time.monotonic() + 10
        while not [r for r in admin(proxy, "SHOW POOLS") if r["cl_waiting"] == "1"]:
            assert time.monotonic() < deadline, admin(proxy, "SHOW POOLS")
            time.sleep(0.05)
        config["pool"]["query_wait_timeout"] = "1s"
        proxy.write_config(config)
        reload(proxy, "console")
        started = time.monotonic()
        result = proxy.run_psql("SELECT 1", user=APP_USER, dbname=APP_DB, timeout=60)
        elapsed = time.monotonic() - started
        assert result.returncode != 0, f"the query ran: {result.stdout}"
        assert "query_wait_timeout" in result.stderr, result.stderr
        assert elapsed < 10, f"the 1 s limit took {elapsed:.1f} s (held to the 30 s one?)"
        assert patient.is_alive(), f"the client under the 30 s limit ended: {patient_result}"
        with holder.cursor() as cur:
            cur.execute("COMMIT")
        patient.join(timeout=30)
        assert patient_result and patient_result[0].stdout.strip() == "patient", patient_result
    finally:
        holder.close()
