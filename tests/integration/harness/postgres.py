"""A throwaway PostgreSQL 15 cluster in a temp dir on a free port on 127.0.0.1.

Roles it creates (passwords are class constants):
  sluice_admin  superuser, the harness's own; trust from 127.0.0.1, SCRAM password too
  app_user      owner of database `app`; trust from 127.0.0.1 (what most proxy tests use)
  md5_user      md5-hashed password, pg_hba method md5
  scram_user    SCRAM-SHA-256 password, pg_hba method scram-sha-256
The server has ssl=on with a self-signed certificate, fsync=off and max_connections=600.
"""
from __future__ import annotations

import os
import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from . import clients, tls
from .util import as_postgres, chown_postgres, free_port, register, tail, unregister

PG_BIN = Path(os.environ.get("SLUICE_PG_BIN", "/usr/lib/postgresql/15/bin"))
TEMP_PREFIX = "sluice-pg-"
OWNER_FILE = "owner.pid"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def reap_orphans() -> None:
    """Stops clusters left behind by harness runs that were SIGKILLed, and removes them."""
    for base in Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"):
        try:
            owner = int((base / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        if (base / "data" / "postmaster.pid").exists():
            subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(base / "data"),
                                        "-m", "immediate", "-w", "stop"]),
                           capture_output=True, cwd=base, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


class PostgresServer:
    SUPERUSER = "sluice_admin"
    SUPERUSER_PASSWORD = "admin_pw"
    APP_DB = "app"
    APP_USER = "app_user"
    PASSWORDS = {"sluice_admin": "admin_pw", "app_user": "app_pw", "md5_user": "md5_pw",
                 "scram_user": "scram_pw"}

    def __init__(self, max_connections: int = 600):
        self.host = "127.0.0.1"
        self.port = 0
        self.max_connections = max_connections
        self.base: Path | None = None
        self.started = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        reap_orphans()
        self.base = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        (self.base / OWNER_FILE).write_text(str(os.getpid()))
        os.chmod(self.base, 0o755)
        chown_postgres(self.base)
        register(self)
        self.port = free_port()
        self._initdb()
        self._configure()
        self._pg_ctl("start", "-l", str(self.log_path), "-t", "60")
        self.started = True
        self._create_roles()
        return self

    def stop(self) -> None:
        if self.base is None:
            return
        # postmaster.pid rather than self.started: an interrupt can land while pg_ctl start
        # is waiting, after the postmaster is already up.
        if (self.data_dir / "postmaster.pid").exists():
            self.thaw()  # a test that froze it may have failed before thawing
            try:
                self._pg_ctl("stop", "-m", "fast", "-t", "30")
            except (subprocess.SubprocessError, AssertionError):
                self._pg_ctl("stop", "-m", "immediate", check=False)
        self.started = False
        unregister(self)
        if not os.environ.get("SLUICE_KEEP_TMP"):
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def __repr__(self) -> str:
        return f"PostgresServer(port={self.port}, dir={self.base})"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.base / "sock"

    def log_tail(self) -> str:
        return tail(self.log_path)

    # -- setup steps -------------------------------------------------------------------------
    def _run_as_postgres(self, cmd: list[str], check: bool = True,
                         timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(as_postgres(cmd), capture_output=True, text=True, cwd=self.base,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}\n{tail(self.log_path)}")
        return result

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-w",
                                      *args], check=check)

    def _initdb(self) -> None:
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.SUPERUSER_PASSWORD + "\n")
        chown_postgres(pwfile)
        self._run_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U",
                               self.SUPERUSER, f"--pwfile={pwfile}", "-E", "UTF8",
                               "--no-locale", "--no-sync", "--auth-local=trust",
                               "--auth-host=scram-sha-256"])
        pwfile.unlink()

    def _configure(self) -> None:
        self.socket_dir.mkdir()
        chown_postgres(self.socket_dir)
        cert, key = tls.make_self_signed_cert(self.base / "tls", "server")
        for path in (cert.parent, cert, key):
            chown_postgres(path)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": str(self.max_connections),
            "shared_buffers": "'128MB'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "password_encryption": "'scram-sha-256'",
            "ssl": "on",
            "ssl_cert_file": f"'{cert}'",
            "ssl_key_file": f"'{key}'",
            "log_line_prefix": "'%m [%p] %u@%d '",
        }
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# sluice test harness\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        (self.data_dir / "pg_hba.conf").write_text(
            "# sluice test harness\n"
            "local all all trust\n"
            f"host all {self.SUPERUSER} 127.0.0.1/32 trust\n"
            f"host all {self.APP_USER} 127.0.0.1/32 trust\n"
            "host all md5_user 127.0.0.1/32 md5\n"
            "host all all 127.0.0.1/32 scram-sha-256\n")

    def _create_roles(self) -> None:
        pw = self.PASSWORDS
        self.psql(script=f"""
            SET password_encryption = 'md5';
            CREATE ROLE md5_user LOGIN PASSWORD '{pw['md5_user']}';
            SET password_encryption = 'scram-sha-256';
            CREATE ROLE scram_user LOGIN PASSWORD '{pw['scram_user']}';
            CREATE ROLE {self.APP_USER} LOGIN PASSWORD '{pw[self.APP_USER]}';
            CREATE DATABASE {self.APP_DB} OWNER {self.APP_USER};
            """)

    # -- faults (tests/integration/test_faults.py) ---------------------------------------------
    def pids(self) -> list[int]:
        """The postmaster and its children (backends and auxiliary processes)."""
        try:
            postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:  # fields: state, ppid, ...
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def signal_all(self, sig: int) -> int:
        """Sends `sig` to every process of the cluster; returns how many got it."""
        sent = 0
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
                sent += 1
        return sent

    def kill9(self, timeout: float = 10.0) -> float:
        """SIGKILLs the postmaster and every backend, as a crash would, and waits until
        they are gone (postmaster.pid stays behind, as after a crash). Returns the
        time.monotonic() of the kill."""
        pids = self.pids()
        assert pids, "no postmaster to kill"
        killed_at = time.monotonic()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(_pid_alive(p) and not _is_zombie(p) for p in pids):
            assert time.monotonic() < deadline, "PostgreSQL processes survived SIGKILL"
            time.sleep(0.02)
        return killed_at

    def start_again(self) -> None:
        """Starts the cluster again on the same port (after kill9() or stop_fast())."""
        self._pg_ctl("start", "-l", str(self.log_path), "-t", "60")
        self.started = True

    def stop_fast(self) -> None:
        self._pg_ctl("stop", "-m", "fast", "-t", "30")

    def thaw(self) -> None:
        """SIGCONT to every process (harmless when none is stopped)."""
        self.signal_all(signal.SIGCONT)

    # -- helpers for tests -------------------------------------------------------------------
    def psql(self, sql: str | None = None, *, user: str | None = None, dbname: str = "postgres",
             port: int | None = None, **kwargs) -> str:
        """psql -A -t against this server (or another port); returns stdout."""
        return clients.psql(port or self.port, sql, user=user or self.SUPERUSER, dbname=dbname,
                            **kwargs)

    def connect(self, *, user: str | None = None, dbname: str = "postgres", **kwargs):
        """A direct psycopg2 connection (superuser, autocommit, by default)."""
        return clients.connect(self.port, user=user or self.SUPERUSER, dbname=dbname, **kwargs)

    def query(self, sql: str, params=None, *, dbname: str = "postgres",
              user: str | None = None) -> list[tuple]:
        """Runs one statement on a fresh direct connection; returns its rows."""
        with contextlib.closing(self.connect(user=user, dbname=dbname)) as conn:
            return clients.query(conn, sql, params)

    def server_connections(self, user: str, dbname: str, state: str | None = None,
                           conn=None) -> int:
        """Client backends of `user` on `dbname` (optionally in `state`), not counting ours."""
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = %s"
               " AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        params = [user, dbname]
        if state is not None:
            sql += " AND state = %s"
            params.append(state)
        own = conn is None
        conn = conn or self.connect()
        try:
            return clients.query(conn, sql, params)[0][0]
        finally:
            if own:
                conn.close()

    def wait_for_connections(self, user: str, dbname: str, expected: int = 0,
                             timeout: float = 10.0, state: str | None = None) -> int:
        """Polls until the count equals `expected`; returns the last count seen."""
        deadline = time.monotonic() + timeout
        with contextlib.closing(self.connect()) as conn:
            while True:
                n = self.server_connections(user, dbname, state, conn=conn)
                if n == expected or time.monotonic() > deadline:
                    return n
                time.sleep(0.05)

    def secret(self, user: str) -> str:
        """The stored password secret (md5... or SCRAM-SHA-256$...) from pg_authid."""
        return self.psql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'")
