"""Priority classes: clients classed by application_name, user or their own
`-c sluice.class=NAME` share one budget of server connections; higher classes are served
first, aging keeps lower ones from starving, admin keeps a reserved connection and a class
past max_waiting_clients sheds load with 53300. Each saturating test prints its figures
(run with -s)."""
from __future__ import annotations

import contextlib
import statistics
import threading
import time

import psycopg2
import pytest

from conftest import APP_DB, APP_USER
from harness import wire

SLEEP_S = 0.5  # what each saturating query holds its connection for


def config(pg, *, pool_size: int, classes: dict, **pool) -> dict:
    return {"pool": {"pool_mode": "transaction", "pool_size": pool_size,
                     "query_wait_timeout": "60s", **pool},
            "databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB}},
            "classes": classes,
            "admin": {"users": ["admin"]}}


def show_classes(proxy) -> dict[str, dict]:
    with contextlib.closing(proxy.connect(user="admin", dbname="sluice")) as admin:
        with admin.cursor() as cur:
            cur.execute("SHOW CLASSES")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row)) for row in cur.fetchall()]
    return {r["class"]: r for r in rows if r["database"] == APP_DB}


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class Load:
    """`n` clients of one application_name, each running pg_sleep(sleep_s) in a loop."""

    def __init__(self, proxy, n: int, application_name: str, sleep_s: float = SLEEP_S):
        self.stop, self.errors, self.done = threading.Event(), [], 0
        self.threads = [threading.Thread(target=self._run,
                                         args=(proxy, application_name, sleep_s), daemon=True)
                        for _ in range(n)]

    def _run(self, proxy, application_name, sleep_s):
        try:
            conn = proxy.connect(user=APP_USER, dbname=APP_DB, application_name=application_name,
                                 autocommit=True)
            with contextlib.closing(conn), conn.cursor() as cur:
                while not self.stop.is_set():
                    cur.execute("SELECT pg_sleep(%s)", (sleep_s,))
                    self.done += 1
        except psycopg2.Error as exc:
            self.errors.append(exc)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def timed_select(proxy, application_name: str, times: int = 1) -> list[float]:
    conn = proxy.connect(user=APP_USER, dbname=APP_DB, application_name=application_name,
                         autocommit=True)
    latencies = []
    with contextlib.closing(conn), conn.cursor() as cur:
        for _ in range(times):
            started = time.monotonic()
            cur.execute("SELECT 1")
            assert cur.fetchall() == [(1,)]
            latencies.append(time.monotonic() - started)
    return latencies


def test_high_is_served_first_and_admin_always_gets_in(pg, sluice):
    """pool_size 4: admin keeps 1, low and high share 3. 24 low clients queue about
    7 rounds of 0.5 s deep; a high client must only wait for the next free connection."""
    proxy = sluice(config(pg, pool_size=4, classes={
        "low": {"application_names": ["batch*"]},
        "high": {"application_names": ["web"]},
        "admin": {"application_names": ["ops"]},
    }))
    with Load(proxy, 24, "batch-nightly") as low:
        # Saturated for a while: the oldest low client has waited 4 rounds.
        assert wait_until(lambda: show_classes(proxy)["low"]["max_wait_ms"] >= 4 * SLEEP_S * 1000,
                          20), show_classes(proxy)
        high = timed_select(proxy, "web", times=5)
        admin = timed_select(proxy, "ops", times=3)
        classes = show_classes(proxy)
    assert not low.errors, low.errors[:3]
    print(f"\nPRIORITY low x24 saturating: high SELECT 1 max={max(high):.3f}s "
          f"median={statistics.median(high):.3f}s; admin max={max(admin):.3f}s; "
          f"low waiting={classes['low']['waiting']} max_wait={classes['low']['max_wait_ms']}ms")
    # FIFO would put each high query behind ~20 waiting low ones (~3.5 s).
    assert max(high) < SLEEP_S + 1.0, high
    assert classes["low"]["max_wait_ms"] > 4 * SLEEP_S * 1000, classes["low"]
    # The reserved connection: no waiting behind anyone.
    assert max(admin) < 0.4, admin
    assert classes["low"]["active"] <= 3, classes["low"]


def test_max_waiting_clients_sheds_with_53300(pg, sluice):
    """pool_size 2: admin keeps 1, so one open transaction fills low's share."""
    proxy = sluice(config(pg, pool_size=2, classes={
        "low": {"application_names": ["batch"], "max_waiting_clients": 2}}))
    holder = proxy.connect(user=APP_USER, dbname=APP_DB, application_name="batch",
                           autocommit=False)
    waiting, results = [], {}
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1")  # BEGIN + a statement: the slot is held until COMMIT
        for i in range(2):
            sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB,
                              params={"application_name": "batch"}, timeout=30)
            waiting.append(sock)

            def run(i=i, sock=sock):
                results[i] = wire.simple_query(sock, f"SELECT {i}")
            threading.Thread(target=run, daemon=True).start()
        assert wait_until(lambda: show_classes(proxy)["low"]["waiting"] == 2, 10)

        third = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB,
                           params={"application_name": "batch"}, timeout=30)
        started = time.monotonic()
        with contextlib.closing(third), pytest.raises(wire.ServerError) as shed:
            wire.simple_query(third, "SELECT 3")
        shed_after = time.monotonic() - started
        assert shed.value.sqlstate == "53300", shed.value.fields
        assert "max_waiting_clients" in shed.value.fields.get("M", "")
        assert shed_after < 1.0, shed_after
        assert show_classes(proxy)["low"]["shed"] == 1
    finally:
        holder.commit()
        holder.close()
    assert wait_until(lambda: len(results) == 2, 10), results
    assert results == {0: [("0",)], 1: [("1",)]}
    for sock in waiting:
        sock.close()


@pytest.mark.parametrize("aging", ["200ms", 0], ids=["aging", "no-aging"])
def test_aging_keeps_low_from_starving(pg, sluice, aging):
    """pool_size 3: admin keeps 1, 2 shared. 6 high clients keep 4 waiting all the time;
    with aging a low client gets in within a few rounds, without it only when they stop."""
    high_load_s = 6.0
    proxy = sluice(config(pg, pool_size=3, class_aging=aging, classes={
        "low": {"application_names": ["batch"]},
        "high": {"application_names": ["web"]}}))
    latency, high_waiting = [], []

    def low_client():
        latency.extend(timed_select(proxy, "batch"))
        high_waiting.append(show_classes(proxy)["high"]["waiting"])

    with Load(proxy, 6, "web", sleep_s=0.3) as high:
        started = time.monotonic()
        assert wait_until(lambda: show_classes(proxy)["high"]["waiting"] >= 3, 10)
        low = threading.Thread(target=low_client, daemon=True)
        low.start()
        time.sleep(max(0.0, high_load_s - (time.monotonic() - started)))
    low.join(30)
    assert latency, "the low client was never served"
    low_latency, high_still_waiting = latency[0], high_waiting[0]
    assert not high.errors, high.errors[:3]
    print(f"\nAGING {aging}: low SELECT 1 under 6 high clients took {low_latency:.2f}s "
          f"(high waiting afterwards: {high_still_waiting})")
    if aging == 0:
        assert low_latency > 3.0, "without aging low should wait for the high load to stop"
    else:
        assert low_latency < 3.0, low_latency
        assert high_still_waiting > 0, "high load ended before low was served: no contest"


def test_class_from_startup_option(pg, sluice):
    proxy = sluice(config(pg, pool_size=3, classes={"low": {"application_names": ["batch"]}}))
    before = show_classes(proxy)["low"]["served"]
    conn = proxy.connect(user=APP_USER, dbname=APP_DB, options="-c sluice.class=low",
                         autocommit=True)
    with contextlib.closing(conn), conn.cursor() as cur:
        # The option is the proxy's: the server never hears of it.
        cur.execute("SELECT current_setting('sluice.class', true)")
        assert cur.fetchone()[0] in (None, "")
    assert show_classes(proxy)["low"]["served"] == before + 1

    with pytest.raises(wire.ServerError) as refused:
        wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB,
                   params={"options": "-c sluice.class=vip"}, timeout=10).close()
    assert refused.value.sqlstate == "22023"
    assert "vip" in refused.value.fields["M"] and "normal" in refused.value.fields["M"]
