"""Fresh logins (src/session/worker_sessions.h): a client that logged in and sent nothing yet
keeps its session ready for its first message instead of parking at once, as most clients
send one right away; silent ones park all the same, when more than kMaxFreshLogins logged
in after them on the worker or at the next sweep, and come back when they speak."""
from __future__ import annotations

import time

from conftest import APP_DB, APP_USER
from harness import run_pgbench
from harness.raw_clients import RawClient, drive, query_message

MAX_FRESH_LOGINS = 32  # WorkerSessions::kMaxFreshLogins
SILENT_CLIENTS = 4 * MAX_FRESH_LOGINS


def clients(n: int) -> list[RawClient]:
    return [RawClient(i, user=APP_USER, dbname=APP_DB) for i in range(n)]


def log_in_silently(proxy, n: int) -> list[RawClient]:
    """n clients that log in and send nothing."""
    group = clients(n)
    failures = drive((proxy.host, proxy.port), group, [None], concurrency=n, timeout=30)
    assert not failures, failures[:5]
    return group


def close_and_stop(proxy, group: list[RawClient]) -> None:
    for c in group:
        c.close()
    assert proxy.stop() == 0, proxy.log()


def query_everyone(proxy, group: list[RawClient], sql: str, expected: str) -> None:
    failures = drive((proxy.host, proxy.port), group, [query_message(sql)], concurrency=len(group),
                     timeout=30)
    assert not failures, failures[:5]
    wrong = [c.index for c in group if c.results != [[(expected,)]]]
    assert not wrong, f"clients {wrong[:10]} got {group[wrong[0]].results}"


def test_a_connection_per_transaction_runs_clean(sluice, tmp_path):
    # pgbench -C: every transaction is a login followed at once by its query, the case
    # fresh logins are for, with 8 at a time on one worker.
    proxy = sluice(pool_mode="transaction", pool_size=4, workers=1)
    script = tmp_path / "one.sql"
    script.write_text("SELECT 1;\n")
    out = run_pgbench(proxy.port, ["-n", "-C", "-f", str(script), "-c", "8", "-j", "2",
                                   "-T", "3"], user=APP_USER, dbname=APP_DB, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "number of failed transactions: 0 " in out.stdout, out.stdout
    processed = int(out.stdout.split("number of transactions actually processed: ")[1].split()[0])
    assert processed > 100, out.stdout
    assert proxy.alive()
    # Memory errors show when the process frees its memory at exit, if not before.
    assert proxy.stop() == 0, proxy.log()
    assert "error" not in proxy.log().lower(), proxy.log()


def test_silent_logins_beyond_the_limit_park_and_come_back(sluice):
    proxy = sluice(pool_mode="transaction", pool_size=4, workers=1)
    group = log_in_silently(proxy, SILENT_CLIENTS)
    # Most were parked when later ones logged in; the newest may still be fresh.
    query_everyone(proxy, group, "SELECT 'first'", "first")
    time.sleep(6.5)  # idle past the park delay: every one of them parks again
    query_everyone(proxy, group, "SELECT 'second'", "second")
    close_and_stop(proxy, group)


def test_silent_logins_park_at_the_sweep_and_come_back(sluice):
    # Fewer than the limit: they park at the next sweep (every second), not when others log in.
    proxy = sluice(pool_mode="transaction", pool_size=4, workers=1)
    group = log_in_silently(proxy, MAX_FRESH_LOGINS // 2)
    time.sleep(2.5)
    query_everyone(proxy, group, "SELECT 'after the sweep'", "after the sweep")
    close_and_stop(proxy, group)


def test_a_first_message_larger_than_the_first_read_arrives_whole(sluice):
    # A fresh login's first read is small (ReadBuffer::kSmallChunk, 512 bytes): a first
    # message several times that size must reach the server whole, for fresh logins and
    # for ones parked by the logins after them.
    proxy = sluice(pool_mode="transaction", pool_size=4, workers=1)
    text = "x" * 5000
    group = clients(2 * MAX_FRESH_LOGINS)
    failures = drive((proxy.host, proxy.port), group, [None, query_message(f"SELECT '{text}'")],
                     concurrency=len(group), timeout=30)
    assert not failures, failures[:5]
    wrong = [c.index for c in group if c.results != [[], [(text,)]]]
    assert not wrong, f"clients {wrong[:10]} got something else"
    silent = log_in_silently(proxy, 2 * MAX_FRESH_LOGINS)
    query_everyone(proxy, silent, f"SELECT '{text}'", text)
    close_and_stop(proxy, group + silent)
