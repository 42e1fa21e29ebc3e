"""Repeated failed password logins from one client address are answered later and later
(auth.failure_delay, doubling per failure up to auth.failure_delay_max); a correct password
is never slowed and starts the count over; other addresses are not slowed; the wait holds up
no other client of the worker. Clients connect from 127.0.0.1 and 127.0.0.2 (all of
127.0.0.0/8 is loopback) to the proxy on 127.0.0.1."""
import threading
import time

import pytest

from conftest import APP_DB
from harness import PostgresServer, wire, write_userlist

USER = "md5_user"
PASSWORD = PostgresServer.PASSWORDS[USER]
DELAY_S = 0.2
DELAY_MAX_S = 0.8
FAST_S = 0.15  # a login not delayed takes far less on loopback
SLACK_S = 0.25  # a delayed answer may come this much later than its delay


@pytest.fixture
def proxy(pg, sluice, tmp_path):
    proxy = start_proxy(pg, sluice, tmp_path)
    # The first login opens the server connection; later ones reuse it, which keeps the
    # timings below about the proxy's own answer. (From an address the tests don't use.)
    attempt(proxy, PASSWORD, source="127.0.0.9")
    return proxy


def start_proxy(pg, sluice, tmp_path, **auth):
    userlist = write_userlist(tmp_path / "userlist.txt", {USER: pg.secret(USER)})
    settings = {"failure_delay": f"{int(DELAY_S * 1000)}ms",
                "failure_delay_max": f"{int(DELAY_MAX_S * 1000)}ms", **auth}
    # One worker: a wait that blocked the event loop would hold up every other client.
    return sluice({"auth": {"type": "md5", "file": str(userlist), **settings},
                   "databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB}},
                   "pool": {"pool_mode": "transaction"}},
                  workers=1)


def attempt(proxy, password: str, source: str = "127.0.0.1") -> float:
    """One login; returns its duration. A wrong password must end in 28P01."""
    started = time.monotonic()
    try:
        sock = wire.login(proxy.host, proxy.port, user=USER, dbname=APP_DB, password=password,
                          source=source)
    except wire.ServerError as exc:
        elapsed = time.monotonic() - started
        assert password != PASSWORD, f"the right password was refused: {exc}"
        assert exc.sqlstate == "28P01", exc.fields
        return elapsed
    with sock:
        elapsed = time.monotonic() - started
        assert password == PASSWORD, "a wrong password was accepted"
        assert wire.simple_query(sock, "SELECT current_user") == [(USER,)]
    return elapsed


def expected_delay(n: int) -> float:
    """The delay of the n-th consecutive failure (1-based)."""
    return 0.0 if n == 1 else min(DELAY_S * 2 ** (n - 2), DELAY_MAX_S)


def assert_delayed(elapsed: float, n: int) -> None:
    want = expected_delay(n)
    if want == 0:
        assert elapsed < FAST_S, f"failure {n} took {elapsed:.3f}s; it should not wait"
    else:
        assert want - 0.02 <= elapsed < want + SLACK_S, \
            f"failure {n} took {elapsed:.3f}s; expected {want:.3f}s"


def test_failures_from_one_address_wait_longer_and_longer(proxy):
    failures = [attempt(proxy, "wrong") for _ in range(6)]
    other = attempt(proxy, "wrong", source="127.0.0.2")
    right = attempt(proxy, PASSWORD)
    after_success = attempt(proxy, "wrong")
    print(f"\nAUTH failures from 127.0.0.1: {', '.join(f'{t:.3f}s' for t in failures)}; "
          f"first failure from 127.0.0.2 meanwhile: {other:.3f}s; correct password from "
          f"127.0.0.1: {right:.3f}s; its next failure: {after_success:.3f}s")
    for n, elapsed in enumerate(failures, start=1):
        assert_delayed(elapsed, n)
    assert other < FAST_S, f"127.0.0.2 was slowed by 127.0.0.1's failures: {other:.3f}s"
    assert right < FAST_S, f"a correct password waited {right:.3f}s"
    assert after_success < FAST_S, f"the count was not reset by a success: {after_success:.3f}s"
    assert "answering after" in proxy.log()


def test_a_delayed_failure_holds_up_no_one(proxy):
    for _ in range(4):
        attempt(proxy, "wrong")  # the next failure from 127.0.0.1 waits DELAY_MAX_S
    outcome = {}

    def delayed():
        outcome["elapsed"] = attempt(proxy, "wrong")

    slow = threading.Thread(target=delayed, daemon=True)
    slow.start()
    time.sleep(0.1)
    # The same (only) worker logs in and serves another client meanwhile.
    others = [attempt(proxy, PASSWORD, source="127.0.0.2") for _ in range(3)]
    still_waiting = slow.is_alive()
    slow.join(10)
    print(f"\nAUTH while a failure waits {outcome['elapsed']:.3f}s, logins from 127.0.0.2 "
          f"take {', '.join(f'{t:.3f}s' for t in others)}")
    assert still_waiting, "the delayed failure was answered before the other logins finished"
    assert max(others) < FAST_S, others
    assert_delayed(outcome["elapsed"], 5)


def test_failures_are_forgotten_after_a_quiet_period(pg, sluice, tmp_path):
    proxy = start_proxy(pg, sluice, tmp_path, failure_forget_after="1s")
    first = [attempt(proxy, "wrong") for _ in range(3)]
    for n, elapsed in enumerate(first, start=1):
        assert_delayed(elapsed, n)
    time.sleep(1.1)
    assert_delayed(attempt(proxy, "wrong"), 1)


def test_zero_turns_it_off(pg, sluice, tmp_path):
    proxy = start_proxy(pg, sluice, tmp_path, failure_delay=0)
    times = [attempt(proxy, "wrong") for _ in range(4)]
    assert max(times) < FAST_S, times
