"""Thousands of idle, logged-in clients from one thread: raw non-blocking sockets on one
`selectors` loop (the approach of tests/integration/test_scale.py). Threads or libpq
connections at this count would measure the client, not the proxy."""
from __future__ import annotations

import contextlib
import errno
import os
import resource
import selectors
import socket
import struct
import time

from harness import wire

AUTH_OK = 0


class IdleClient:
    """Connects, sends a StartupMessage, and is done at the first ReadyForQuery."""

    __slots__ = ("sock", "outbuf", "inbuf", "connecting", "done", "error")

    def __init__(self, address: tuple[str, int], startup: bytes):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.outbuf = startup
        self.inbuf = bytearray()
        self.connecting = True
        self.done = False
        self.error: str | None = None
        rc = self.sock.connect_ex(address)
        if rc not in (0, errno.EINPROGRESS):
            self.fail(f"connect: {os.strerror(rc)}")

    def fail(self, why: str) -> None:
        self.error, self.done = why, True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

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
            return self.fail("connection closed during login")
        self.inbuf += data
        while len(self.inbuf) >= 5 and not self.done:
            length = struct.unpack_from("!I", self.inbuf, 1)[0]
            if len(self.inbuf) < 1 + length:
                break
            kind, body = bytes(self.inbuf[:1]), bytes(self.inbuf[5:1 + length])
            del self.inbuf[:1 + length]
            if kind == b"R" and struct.unpack("!I", body[:4])[0] != AUTH_OK:
                self.fail("the server asked for a password (the suite uses trust)")
            elif kind == b"E":
                self.fail(str(wire.ServerError(wire.parse_error_fields(body))))
            elif kind == b"Z":
                self.done = True

    def events(self) -> int:
        return selectors.EVENT_WRITE if self.outbuf or self.connecting else selectors.EVENT_READ


def open_idle_clients(host: str, port: int, count: int, *, user: str, dbname: str,
                      concurrency: int = 500, timeout: float = 60.0
                      ) -> tuple[list[IdleClient], list[str]]:
    """Logs `count` clients in, at most `concurrency` handshakes at a time. Returns the
    clients (logged in ones stay open: close them with close_all) and the failures."""
    startup = wire.startup_message(user, dbname)
    sel = selectors.DefaultSelector()
    clients: list[IdleClient] = []
    failures: list[str] = []
    in_flight = 0
    started = 0
    deadline = time.monotonic() + timeout
    try:
        while started < count or in_flight:
            while started < count and in_flight < concurrency:
                c = IdleClient((host, port), startup)
                clients.append(c)
                started += 1
                if c.done:
                    failures.append(c.error or "?")
                    c.close()
                    continue
                sel.register(c.sock, c.events(), c)
                in_flight += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failures.append(f"{in_flight} logins not done within {timeout:.0f}s; "
                                f"{count - started} not started")
                break
            for key, mask in sel.select(timeout=min(1.0, remaining)):
                c: IdleClient = key.data
                if mask & selectors.EVENT_WRITE and not c.done:
                    c.on_writable()
                if mask & selectors.EVENT_READ and not c.done:
                    c.on_readable()
                if c.done:
                    sel.unregister(c.sock)
                    in_flight -= 1
                    if c.error:
                        failures.append(c.error)
                        c.close()
                else:
                    sel.modify(c.sock, c.events(), c)
    finally:
        sel.close()
    return clients, failures


def close_all(clients: list[IdleClient]) -> None:
    for c in clients:
        c.close()


def raise_nofile(wanted: int) -> int:
    """Raises RLIMIT_NOFILE towards `wanted` (the hard limit too, when root allows), so
    this process and the servers it starts afterwards, which inherit it, can hold that
    many descriptors. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        with contextlib.suppress(ValueError, OSError):  # needs CAP_SYS_RESOURCE
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
