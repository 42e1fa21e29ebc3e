"""Integration-test harness: real PostgreSQL 15, Sluice and PgBouncer processes that are
always stopped, plus the clients (psql, pgbench, psycopg2) to drive them."""
from .clients import (client_env, connect, psql, query, run_pgbench, run_psql,
                      start_pgbench)
from .pgbouncer import PgBouncer
from .postgres import PostgresServer
from .sluice import SluiceProxy, sluice_bin
from .tls import make_self_signed_cert
from .userlist import write_userlist
from .util import StartupError, free_port, install_signal_handlers, stop_all, wait_for_port

__all__ = [
    "PgBouncer", "PostgresServer", "SluiceProxy", "StartupError", "client_env", "connect",
    "free_port", "install_signal_handlers", "make_self_signed_cert", "psql", "query",
    "run_pgbench", "run_psql", "sluice_bin", "start_pgbench", "stop_all", "wait_for_port",
    "write_userlist",
]
