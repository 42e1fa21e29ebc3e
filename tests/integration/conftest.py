"""Fixtures for the integration suite: one PostgreSQL 15 per session, and factories that
start Sluice / PgBouncer per test and always stop them. A failing test's report carries the
logs of the proxies it started."""
from __future__ import annotations

import faulthandler
import sys
import threading

import pytest

from harness import (PgBouncer, PostgresServer, SluiceProxy, install_signal_handlers, run_pgbench,
                     stop_all)

APP_USER = PostgresServer.APP_USER
APP_DB = PostgresServer.APP_DB
TEST_TIMEOUT_S = 240  # a hung test stops its proxies so blocked clients fail, not hang

_STARTED = pytest.StashKey[list]()


def pytest_configure(config):
    install_signal_handlers()


def pytest_unconfigure(config):
    stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for proc in item.stash.get(_STARTED, []):
            report.sections.append((f"{proc!r} log", proc.log()))


@pytest.fixture(scope="session")
def pg():
    """The session's PostgreSQL 15 (see harness/postgres.py for roles and settings)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _started(request) -> list:
    return request.node.stash.setdefault(_STARTED, [])


@pytest.fixture(autouse=True)
def _watchdog(request):
    def expire():
        print(f"\n*** {request.node.nodeid} exceeded {TEST_TIMEOUT_S}s: stopping its servers",
              file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        for proc in _started(request):
            proc.stop()
    timer = threading.Timer(TEST_TIMEOUT_S, expire)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


_FLAGS = {"pool_mode": "--pool-mode", "pool_size": "--pool-size", "auth_type": "--auth-type",
          "auth_file": "--auth-file", "admin_users": "--admin-users", "workers": "--workers",
          "log_level": "--log-level", "io_backend": "--io-backend",
          "unix_socket_dir": "--unix-socket-dir"}


def one_row_table(pg, name: str) -> str:
    """(Re)creates table `name` (id int PRIMARY KEY, v int) holding the row (1, 0), owned by
    the application user; returns its name."""
    pg.psql(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int PRIMARY KEY, v int);"
            f" INSERT INTO {name} VALUES (1, 0); ALTER TABLE {name} OWNER TO {APP_USER}",
            dbname=APP_DB)
    return name


def server_url(pg, user: str = APP_USER, dbname: str = APP_DB) -> str:
    return f"postgresql://{user}@{pg.host}:{pg.port}/{dbname}"


class SluiceFactory:
    """sluice(config=None, args=(), server=True, pool_mode=..., pool_size=..., auth_type=...,
    auth_file=..., admin_users=..., workers=..., log_level=..., io_backend=...,
    unix_socket_dir=...).

    `config` (a dict) is written as TOML and passed with -c; keyword options become flags.
    Unless `server=False` or the config has [databases.*], `--server` points at the test
    cluster's `app` database as app_user. Returns a started SluiceProxy.

    sluice.takeover(old, args=()) starts `sluice serve --takeover` in place of `old`."""

    def __init__(self, request, pg, tmp_path):
        self.request, self.pg, self.tmp_path = request, pg, tmp_path

    def _name(self) -> str:
        n = len(_started(self.request))
        return f"sluice{n}" if n else "sluice"

    def __call__(self, config: dict | None = None, args=(), *, server: bool = True,
                 **options) -> SluiceProxy:
        flags = list(args)
        for key, value in options.items():
            if key not in _FLAGS:
                raise TypeError(f"unknown sluice option {key}")
            flags += [_FLAGS[key], ",".join(value) if isinstance(value, list) else str(value)]
        if server and not (config and "databases" in config):
            flags += ["--server", server_url(self.pg)]
        proxy = SluiceProxy(config=config, args=flags, workdir=self.tmp_path, name=self._name())
        _started(self.request).append(proxy)
        return proxy.start()

    def takeover(self, old: SluiceProxy, args=()) -> SluiceProxy:
        """`sluice serve --takeover` with old's port, config and flags (those in `args`
        replaced); returns it once it has taken the listening sockets over."""
        proxy = old.successor(args=list(args), name=self._name())
        _started(self.request).append(proxy)
        return proxy.start()


@pytest.fixture(scope="module")
def pgbench_db(pg):
    """The test cluster with pgbench's tables (scale 1), initialised afresh per module."""
    result = run_pgbench(pg.port, ["-i", "-s", "1", "-q"], user=APP_USER, dbname=APP_DB)
    assert result.returncode == 0, result.stderr
    return pg


@pytest.fixture
def sluice(request, pg, tmp_path):
    """A SluiceFactory; every proxy it started is stopped after the test."""
    yield SluiceFactory(request, pg, tmp_path)
    for proxy in _started(request):
        if isinstance(proxy, SluiceProxy):
            proxy.stop()


@pytest.fixture
def pgbouncer(request, pg):
    """Factory: pgbouncer(databases=None, settings=None, users=None) -> started PgBouncer;
    by default `app` maps to the test cluster in transaction mode with trust auth."""
    def start(databases: dict | None = None, settings: dict | None = None,
              users: dict | None = None) -> PgBouncer:
        databases = databases or {APP_DB: f"host={pg.host} port={pg.port} dbname={APP_DB}"}
        bouncer = PgBouncer(databases=databases, settings=settings,
                            users=users if users is not None else {APP_USER: ""})
        _started(request).append(bouncer)
        return bouncer.start()

    yield start
    for bouncer in _started(request):
        if isinstance(bouncer, PgBouncer):
            bouncer.cleanup()
