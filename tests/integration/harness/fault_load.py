"""Client load for the fault tests: threads that each keep one psycopg2 connection to the
proxy busy, check every answer carries their own value (never another client's), record
each transaction's outcome and time, and reconnect after an error. `figures()` sums up a
fault: transactions attempted, failed and recovered, and the recovery time."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg2

PAUSE_AFTER_ERROR_S = 0.05


@dataclass
class Outcome:
    client: int
    kind: str
    started: float
    ended: float
    ok: bool
    sqlstate: str | None = None
    error: str = ""


@dataclass
class Figures:
    in_flight_failed: int  # transactions under way when the fault hit that got an error
    attempted: int  # transactions started from the fault on
    failed: int
    recovered: int  # started while the server was down, yet completed without error
    outage_s: float  # fault until the server accepted connections again
    recovery_s: float  # server back until every client had completed a transaction again
    errors: dict[str, int] = field(default_factory=dict)  # by SQLSTATE ("-" when none)

    def line(self, name: str) -> str:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        return (f"FAULT {name}: in-flight failed={self.in_flight_failed}, then "
                f"attempted={self.attempted} failed={self.failed} "
                f"recovered={self.recovered} outage={self.outage_s:.2f}s "
                f"recovery={self.recovery_s:.2f}s errors=[{errors}]")


class LoadClient(threading.Thread):
    """kind "select": autocommit SELECT of (client, seq); kind "tx": BEGIN, INSERT (client,
    seq) into `table`, read it back, COMMIT."""

    def __init__(self, proxy, cid: int, kind: str, *, user: str, dbname: str, table: str,
                 stop: threading.Event, think_s: float = 0.005):
        super().__init__(daemon=True, name=f"load-{kind}-{cid}")
        self.proxy, self.cid, self.kind = proxy, cid, kind
        self.user, self.dbname, self.table = user, dbname, table
        self.stop_event, self.think_s = stop, think_s
        self.outcomes: list[Outcome] = []
        self.mismatches: list[str] = []
        self.seq = 0
        self.conn = None

    def _transaction(self, cur) -> None:
        self.seq += 1
        if self.kind == "select":
            cur.execute("SELECT %s::int, %s::int", (self.cid, self.seq))
            rows = cur.fetchall()
        else:
            cur.execute("BEGIN")
            cur.execute(f"INSERT INTO {self.table} (client, seq) VALUES (%s, %s)",
                        (self.cid, self.seq))
            cur.execute(f"SELECT client, seq FROM {self.table} WHERE client = %s AND seq = %s",
                        (self.cid, self.seq))
            rows = cur.fetchall()
            cur.execute("COMMIT")
        if rows != [(self.cid, self.seq)]:
            self.mismatches.append(f"client {self.cid} seq {self.seq} got {rows!r}")

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                if self.conn is None:
                    self.conn = self.proxy.connect(user=self.user, dbname=self.dbname)
                with self.conn.cursor() as cur:
                    self._transaction(cur)
                self.outcomes.append(Outcome(self.cid, self.kind, started, time.monotonic(), True))
                self.stop_event.wait(self.think_s)
            except psycopg2.Error as exc:
                self.outcomes.append(Outcome(self.cid, self.kind, started, time.monotonic(), False,
                                             getattr(exc, "pgcode", None),
                                             str(exc).strip().splitlines()[0] if str(exc) else ""))
                self._drop_connection()
                self.stop_event.wait(PAUSE_AFTER_ERROR_S)
        self._drop_connection()

    def _drop_connection(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
            self.conn = None

    def first_success_after(self, t: float) -> float | None:
        return next((o.ended for o in self.outcomes if o.ok and o.started >= t), None)


def figures(clients: list[LoadClient], fault_at: float, back_at: float) -> Figures:
    outcomes = [o for c in clients for o in c.outcomes if o.started >= fault_at]
    in_flight_failed = sum(1 for c in clients for o in c.outcomes
                           if not o.ok and o.started < fault_at <= o.ended)
    failed = [o for o in outcomes if not o.ok]
    recovered = [o for o in outcomes if o.ok and o.started < back_at]
    firsts = [c.first_success_after(back_at) for c in clients]
    recovery = max((t - back_at for t in firsts if t is not None), default=float("nan"))
    if any(t is None for t in firsts):
        recovery = float("inf")
    errors: dict[str, int] = {}
    for o in failed:
        errors[o.sqlstate or "-"] = errors.get(o.sqlstate or "-", 0) + 1
    return Figures(in_flight_failed, len(outcomes), len(failed), len(recovered), back_at - fault_at, recovery,
                   errors)
