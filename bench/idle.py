"""Thousands of idle, logged-in clients from one thread, with the integration harness's raw
selector-driven clients (harness/raw_clients.py)."""
from __future__ import annotations

import contextlib
import resource

from harness.raw_clients import RawClient, drive


def open_idle_clients(host: str, port: int, count: int, *, user: str, dbname: str,
                      concurrency: int = 500, timeout: float = 60.0
                      ) -> tuple[list[RawClient], list[str]]:
    """Logs `count` clients in, at most `concurrency` handshakes at a time. Returns the
    clients (logged in ones stay open: close them with close_all) and the failures."""
    clients = [RawClient(i, user=user, dbname=dbname) for i in range(count)]
    failures = drive((host, port), clients, [None], concurrency=concurrency, timeout=timeout)
    return clients, failures


def close_all(clients: list[RawClient]) -> None:
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
