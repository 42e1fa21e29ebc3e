"""A client killed inside a transaction must not leave its server session idle in
transaction holding row locks."""
import subprocess
import sys
import time

import pytest

from conftest import APP_DB, APP_USER, one_row_table

TABLE = "disconnect_locks"

# Runs in a child process: takes a row lock through the proxy, says so, then waits to die.
LOCK_HOLDER = """
import sys, time, psycopg2
conn = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user=sys.argv[2],
                        dbname=sys.argv[3])
cur = conn.cursor()  # not autocommit: UPDATE opens a transaction that stays open
cur.execute("UPDATE {table} SET v = v + 1 WHERE id = 1")
print("locked", flush=True)
time.sleep(300)
"""


@pytest.fixture
def locks_table(pg):
    return one_row_table(pg, TABLE)


def idle_in_transaction(pg) -> int:
    return pg.server_connections(APP_USER, APP_DB, state="idle in transaction")


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_killed_client_releases_its_lock(pg, sluice, locks_table, mode):
    pg.wait_for_connections(APP_USER, APP_DB, 0)
    proxy = sluice(pool_mode=mode, pool_size=2)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER.format(table=locks_table), str(proxy.port),
         APP_USER, APP_DB], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline()
        assert line.strip() == "locked", holder.stderr.read() if holder.poll() else line
        assert idle_in_transaction(pg) == 1  # the lock is really held on the server
    finally:
        holder.kill()  # SIGKILL: the socket closes without a Terminate message
        holder.wait(10)

    deadline = time.monotonic() + 5
    while idle_in_transaction(pg) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert idle_in_transaction(pg) == 0, "server session left idle in transaction"

    # Another client can update the row at once: the lock is gone.
    conn = proxy.connect(user=APP_USER, dbname=APP_DB, autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = '1s'")
            cur.execute(f"UPDATE {locks_table} SET v = v + 10 WHERE id = 1 RETURNING v")
            assert cur.fetchone() == (10,)  # the killed client's +1 was rolled back
        conn.commit()
    finally:
        conn.close()
