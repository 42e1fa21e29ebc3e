"""Thousands of PostgreSQL clients from one thread: raw non-blocking sockets on one
`selectors` loop, speaking the protocol with wire.py's encoding. Threads or libpq
connections at such counts would measure the client, not the server under test. Used by
tests/integration/test_scale.py and the benchmark suite (bench/)."""
from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import struct
import time

from . import wire


class RawClient:
    """One client connection; `steps` are the messages it sends, one per ReadyForQuery
    (None = connect and send the startup message)."""

    __slots__ = ("index", "user", "dbname", "sock", "inbuf", "outbuf", "steps", "results",
                 "rows", "error", "done", "connecting")

    def __init__(self, index: int, *, user: str, dbname: str):
        self.index = index
        self.user, self.dbname = user, dbname
        self.sock: socket.socket | None = None
        self.inbuf = bytearray()
        self.outbuf = b""
        self.steps: list = []
        self.results: list[list[tuple]] = []  # DataRows per completed step
        self.rows: list[tuple] = []
        self.error: str | None = None
        self.done = False
        self.connecting = False

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def fail(self, why: str) -> None:
        self.error, self.done = why, True
        self.close()

    def start(self, steps: list, address: tuple[str, int]) -> None:
        self.steps, self.results, self.rows = list(steps), [], []
        self.error, self.done = None, False
        if self.steps and self.steps[0] is None:
            self.steps.pop(0)
            self.close()
            self.inbuf = bytearray()
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            self.connecting = True
            self.outbuf = wire.startup_message(self.user, self.dbname)
            rc = self.sock.connect_ex(address)
            if rc not in (0, errno.EINPROGRESS):
                self.fail(f"connect: {os.strerror(rc)}")
        elif self.sock is None:
            self.fail("not connected")
        else:
            self._next_step()

    def _next_step(self) -> None:
        if self.steps:
            self.outbuf = self.steps.pop(0)
        else:
            self.done = True

    def wanted_events(self) -> int:
        return selectors.EVENT_WRITE if self.outbuf else selectors.EVENT_READ

    def on_writable(self) -> None:
        if self.connecting:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self.fail(f"connect: {os.strerror(err)}")
            self.connecting = False
        try:
            sent = self.sock.send(self.outbuf)
        except BlockingIOError:
            return
        except OSError as exc:
            return self.fail(f"send: {exc}")
        self.outbuf = self.outbuf[sent:]

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            return self.fail(f"recv: {exc}")
        if not data:
            return self.fail(f"connection closed by the proxy (after {len(self.results)} "
                             "steps)")
        self.inbuf += data
        while len(self.inbuf) >= 5 and not self.done:
            length = struct.unpack_from("!I", self.inbuf, 1)[0]
            if len(self.inbuf) < 1 + length:
                break
            kind, body = bytes(self.inbuf[:1]), bytes(self.inbuf[5:1 + length])
            del self.inbuf[:1 + length]
            self._on_message(kind, body)

    def _on_message(self, kind: bytes, body: bytes) -> None:
        if kind == b"R":
            code = struct.unpack("!I", body[:4])[0]
            if code != wire.AUTH_OK:
                self.fail(f"authentication request {code} (the test expects trust)")
        elif kind == b"E":
            self.fail(str(wire.ServerError(wire.parse_error_fields(body))))
        elif kind == b"D":
            self.rows.append(wire.parse_data_row(body))
        elif kind == b"Z":
            self.results.append(self.rows)
            self.rows = []
            self._next_step()


def drive(address: tuple[str, int], clients: list[RawClient], steps: list, *,
          concurrency: int, timeout: float) -> list[str]:
    """Runs `steps` on every client, at most `concurrency` clients in flight; a client is
    done after its last step's ReadyForQuery. Returns the failures ("client N: why")."""
    sel = selectors.DefaultSelector()
    waiting = iter(clients)
    in_flight: set[RawClient] = set()
    failures: list[str] = []
    deadline = time.monotonic() + timeout
    exhausted = False

    def settle(c: RawClient) -> None:
        if c.done:
            if c.sock is not None:
                sel.unregister(c.sock)
            in_flight.discard(c)
            if c.error:
                failures.append(f"client {c.index}: {c.error}")
        else:
            sel.modify(c.sock, c.wanted_events(), c)

    try:
        while True:
            while not exhausted and len(in_flight) < concurrency:
                c = next(waiting, None)
                if c is None:
                    exhausted = True
                    break
                c.start(steps, address)
                if c.done:
                    failures.append(f"client {c.index}: {c.error}")
                    continue
                sel.register(c.sock, c.wanted_events(), c)
                in_flight.add(c)
            if exhausted and not in_flight:
                return failures
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                for c in in_flight:
                    failures.append(f"client {c.index}: no ReadyForQuery within {timeout}s "
                                    f"(after {len(c.results)} steps)")
                    sel.unregister(c.sock)
                    c.fail("timed out")
                if not exhausted:
                    failures.append("clients not started before the deadline")
                return failures
            for key, mask in sel.select(timeout=min(1.0, remaining)):
                c = key.data
                if mask & selectors.EVENT_WRITE and not c.done:
                    c.on_writable()
                if mask & selectors.EVENT_READ and not c.done:
                    c.on_readable()
                if c.done and c.sock is None:  # failed: the socket is already closed
                    with contextlib.suppress(KeyError, ValueError):
                        sel.unregister(key.fileobj)
                    in_flight.discard(c)
                    failures.append(f"client {c.index}: {c.error}")
                else:
                    settle(c)
    finally:
        sel.close()


def query_message(sql: str) -> bytes:
    return wire.message(b"Q", sql.encode() + b"\0")
