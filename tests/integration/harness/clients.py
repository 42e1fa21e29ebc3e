"""Real PostgreSQL clients (psql, pgbench, psycopg2) pointed at any host:port."""
from __future__ import annotations

import os
import subprocess

import psycopg2

PSQL = "/usr/bin/psql"
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def client_env(password: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for libpq tools: no stray PG* variables, no ~/.psqlrc, optional password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    if password is not None:
        env["PGPASSWORD"] = password
    env.update(extra)
    return env


def run_psql(port: int, sql: str | None = None, *, user: str, dbname: str,
             host: str = "127.0.0.1", password: str | None = None, script: str | None = None,
             args: tuple[str, ...] = ("-A", "-t"), on_error_stop: bool = True,
             timeout: float = 60, env: dict[str, str] | None = None,
             os_user: str | None = None) -> subprocess.CompletedProcess:
    """Runs psql with -c SQL or a script on stdin, as the OS user `os_user` when given (we
    are root then). Never raises on a non-zero exit."""
    cmd = [PSQL, "-X", "-q", "-h", host, "-p", str(port), "-U", user, "-d", dbname, *args]
    if os_user is not None:
        cmd = ["runuser", "-u", os_user, "--", *cmd]
    if on_error_stop:
        cmd += ["-v", "ON_ERROR_STOP=1"]
    if sql is not None:
        cmd += ["-c", sql]
    else:
        cmd += ["-f", "-"]
    return subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=timeout,
                          env=env or client_env(password))


def psql(port: int, sql: str | None = None, **kwargs) -> str:
    """Like run_psql but returns stripped stdout and raises with stderr on failure."""
    result = run_psql(port, sql, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"psql failed ({result.returncode}) on port {port}: "
                             f"{result.stderr.strip()}\nstdout: {result.stdout.strip()}")
    return result.stdout.strip()


def connect(port: int, *, user: str, dbname: str, host: str = "127.0.0.1",
            password: str | None = None, autocommit: bool = True, **kwargs):
    """A psycopg2 connection (autocommit by default)."""
    kwargs.setdefault("connect_timeout", 10)
    conn = psycopg2.connect(host=host, port=port, user=user, dbname=dbname, password=password,
                            **kwargs)
    conn.autocommit = autocommit
    return conn


def query(conn, sql: str, params=None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def run_pgbench(port: int, args: list[str], *, user: str, dbname: str,
                host: str = "127.0.0.1", password: str | None = None,
                sslmode: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [PGBENCH, "-h", host, "-p", str(port), "-U", user, *args, dbname]
    extra = {"PGSSLMODE": sslmode} if sslmode else {}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=client_env(password, **extra))


def start_pgbench(port: int, args: list[str], *, user: str, dbname: str,
                  host: str = "127.0.0.1") -> subprocess.Popen:
    """pgbench in the background (text pipes; read them with communicate())."""
    cmd = [PGBENCH, "-h", host, "-p", str(port), "-U", user, *args, dbname]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=client_env())
