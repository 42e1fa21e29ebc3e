"""The admin HTTP endpoint (admin.admin_listen): /metrics in Prometheus format checked by
promtool, /health, /ready, the JSON API under /api/v1/ and its bearer token."""
import contextlib
import json
import shutil
import socket
import subprocess
import time

import pytest

from conftest import APP_DB, APP_USER
from harness import PostgresServer
from harness.clients import client_env
from harness.http import request
from harness.util import free_port

ADMIN = PostgresServer.SUPERUSER
TOKEN = "s3cret-token"


def observed_config(pg, http_port: int, **extra) -> dict:
    config = {"databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB,
                                     "user": APP_USER, "pool_size": 3}},
              "pool": {"pool_mode": "transaction"},
              "admin": {"users": [ADMIN], "admin_listen": f"127.0.0.1:{http_port}"}}
    for section, values in extra.items():
        config.setdefault(section, {}).update(values)
    return config


@pytest.fixture
def http_port():
    return free_port()


@pytest.fixture
def proxy(pg, sluice, http_port):
    return sluice(observed_config(pg, http_port))


def url(port: int, path: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{port}{path}"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: scripts/install-deps.sh installs Debian's prometheus")
    return path


def test_class_metrics_pass_promtool(pg, sluice, http_port):
    """With priority classes, /metrics has their series, counting a classed client."""
    proxy = sluice(observed_config(pg, http_port,
                                   classes={"low": {"application_names": ["batch"]}}))
    assert proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB,
                      env=client_env(PGAPPNAME="batch")) == "1"
    r = request(url(http_port, "/metrics"))
    check = subprocess.run([promtool(), "check", "metrics"], input=r.body, capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode() + r.text
    assert f'sluice_class_active{{database="{APP_DB}",class="admin"}} 0' in r.text
    assert f'sluice_class_served_total{{database="{APP_DB}",class="low"}} 1' in r.text


def test_health_and_ready(proxy, http_port):
    r = request(url(http_port, "/health"))
    assert r.status == 200 and r.json() == {"status": "ok"}
    r = request(url(http_port, "/ready"))
    assert r.status == 200, r.text
    body = r.json()
    assert body["ready"] is True
    assert body["servers"] and all(s["reachable"] for s in body["servers"])


def test_ready_fails_without_a_server(pg, sluice, http_port):
    config = observed_config(pg, http_port)
    config["databases"][APP_DB]["port"] = free_port()  # nothing listens there
    sluice(config)
    r = request(url(http_port, "/ready"))
    assert r.status == 503, r.text
    assert r.json()["ready"] is False


def test_metrics_pass_promtool(pg, proxy, http_port):
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)
    proxy.run_psql("SELECT * FROM no_such_table", user=APP_USER, dbname=APP_DB)
    r = request(url(http_port, "/metrics"))
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    check = subprocess.run([promtool(), "check", "metrics"], input=r.body, capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode() + r.text
    text = r.text
    labels = f'database="{APP_DB}",user="{APP_USER}"'
    assert f'sluice_queries_total{{{labels}}} ' in text
    assert f'sluice_pool_clients{{{labels},state="active"}}' in text
    assert f'sluice_query_duration_seconds_bucket{{{labels},le="+Inf"}}' in text
    assert f'sluice_wait_duration_seconds_count{{{labels}}}' in text
    assert f'sluice_breaker_open{{host="{pg.host}:{pg.port}"}} 0' in text
    for name in ("sluice_process_cpu_seconds_total", "sluice_process_resident_memory_bytes",
                 "sluice_pins_total", "sluice_prepared_statement_cache_hits_total",
                 "sluice_transactions_total", "sluice_received_bytes_total"):
        assert f"\n{name}" in text, name


def test_api_endpoints(proxy, http_port):
    with proxy.connect(user=APP_USER, dbname=APP_DB, application_name="api-test") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        pools = request(url(http_port, "/api/v1/pools")).json()
        app = [p for p in pools if p["database"] == APP_DB]
        assert len(app) == 1, pools
        for key in ("user", "pool_mode", "clients_active", "clients_waiting", "servers_active",
                    "servers_idle", "pool_size", "transactions", "queries"):
            assert key in app[0], key
        assert app[0]["pool_mode"] == "transaction" and app[0]["clients_active"] >= 1
        clients = request(url(http_port, "/api/v1/clients")).json()
        mine = [c for c in clients if c["application_name"] == "api-test"]
        assert len(mine) == 1, clients
        assert {"id", "user", "database", "state", "addr", "port", "pins"} <= set(mine[0])
        servers = request(url(http_port, "/api/v1/servers")).json()
        assert servers and {"id", "state", "host", "port", "backend_pid"} <= set(servers[0])

    config = request(url(http_port, "/api/v1/config")).json()
    assert config["settings"]["pool_mode"] == "transaction"
    assert config["settings"]["admin_listen"] == f"127.0.0.1:{http_port}"
    assert APP_DB in config["databases"]

    for action in ("pause", "resume", "reconnect", "reload"):
        r = request(url(http_port, f"/api/v1/{action}"), method="POST")
        assert r.status == 200, f"{action}: {r.text}"
        assert r.json()["ok"] is True
    r = request(url(http_port, f"/api/v1/pause?database={APP_DB}"), method="POST")
    assert r.status == 200, r.text
    r = request(url(http_port, f"/api/v1/resume?database={APP_DB}"), method="POST")
    assert r.status == 200, r.text
    r = request(url(http_port, "/api/v1/pause?database=nope"), method="POST")
    assert r.status == 409 and "no such database" in r.json()["error"]
    assert request(url(http_port, "/api/v1/pause")).status == 405
    assert request(url(http_port, "/api/v1/nothing")).status == 404
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)  # still serving after RESUME


def non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing address
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_token_required_beyond_loopback(pg, sluice, http_port):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    config = observed_config(pg, http_port, admin={"admin_listen": f"0.0.0.0:{http_port}",
                                                   "admin_token": TOKEN})
    sluice(config)
    for path in ("/metrics", "/api/v1/pools", "/api/v1/config"):
        assert request(url(http_port, path, address)).status == 401, path
        assert request(url(http_port, path, address), token="wrong").status == 401, path
        assert request(url(http_port, path, address), token=TOKEN).status == 200, path
    assert request(url(http_port, "/api/v1/pause", address), method="POST").status == 401
    assert request(url(http_port, "/health", address)).status == 200
    config = request(url(http_port, "/api/v1/config", address), token=TOKEN).json()
    assert TOKEN not in str(config)
    assert config["settings"]["admin_token"] == "(set)"


def test_listening_beyond_loopback_needs_a_token(pg, sluice, http_port):
    config = observed_config(pg, http_port, admin={"admin_listen": f"0.0.0.0:{http_port}"})
    with pytest.raises(Exception) as failure:
        sluice(config)
    assert "admin_token" in str(failure.value)


def queries(port: int, **params) -> list[dict]:
    qs = "&".join(f"{k}={v}" for k, v in params.items())
    r = request(url(port, f"/api/v1/queries?{qs}"))
    assert r.status == 200, r.text
    return r.json()["queries"]


def entries_for(port: int, needle: str) -> list[dict]:
    return [q for q in queries(port, limit=1000) if needle in q["query"]]


def metric_value(port: int, series: str) -> float:
    """The value of one series (name with its labels) in /metrics; 0 when absent."""
    for line in request(url(port, "/metrics")).text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_query_stats_count_calls_and_rows(pg, proxy, http_port):
    """Two literal variants share one entry; calls, rows and errors are exact."""
    queries_metric = f'sluice_queries_total{{database="{APP_DB}",user="{APP_USER}"}}'
    assert metric_value(http_port, queries_metric) == 0
    with proxy.connect(user=APP_USER, dbname=APP_DB, application_name="stats-test") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for n in (3, 5, 7):  # simple protocol, literals differ: one fingerprint
                cur.execute(f"SELECT g AS qs_marker FROM generate_series(1, {n}) g")
            for n in (2, 4):
                cur.execute(f"SELECT g AS qs_marker FROM generate_series(1,{n}) AS g")
            with pytest.raises(Exception):
                cur.execute("SELECT qs_missing_column FROM pg_class")
    # 5, the failed one, and the BEGIN and COMMIT psycopg2 wraps a `with conn` block in.
    # The proxy counts a request just after answering it: give the last one a moment.
    deadline = time.monotonic() + 2
    while metric_value(http_port, queries_metric) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert metric_value(http_port, queries_metric) == 8
    found = entries_for(http_port, "qs_marker")
    assert len(found) == 1, found
    entry = found[0]
    assert entry["calls"] == 5 and entry["rows"] == 3 + 5 + 7 + 2 + 4, entry
    assert entry["errors"] == 0
    assert "$1" in entry["query"] and entry["database"] == APP_DB
    assert entry["user"] == APP_USER and entry["application_name"] == "stats-test"
    for key in ("total_time_ms", "mean_time_ms", "p50_ms", "p95_ms", "p99_ms", "wait_time_ms"):
        assert entry[key] >= 0, key
    assert entry["p50_ms"] <= entry["p95_ms"] <= entry["p99_ms"]
    failed = entries_for(http_port, "qs_missing_column")
    assert len(failed) == 1 and failed[0]["calls"] == 1 and failed[0]["errors"] == 1, failed

    text = request(url(http_port, "/metrics")).text
    assert 'sluice_errors_total{class="42"} 1' in text  # 42703 undefined_column

    rows = proxy.run_psql("SHOW QUERIES", user=ADMIN, dbname="sluice", args=("--csv",))
    assert rows.returncode == 0, rows.stderr
    line = [l for l in rows.stdout.splitlines() if "qs_marker" in l]
    assert len(line) == 1, rows.stdout
    assert ",5,0,21," in line[0], line[0]  # calls, errors, rows


def test_query_stats_extended_and_prepared(pg, proxy, http_port):
    """pgbench's extended and prepared modes are attributed to their statement text."""
    from harness.clients import run_pgbench
    script = proxy.workdir / "q.sql"
    script.write_text("SELECT :n AS pgb_marker;\n")
    for mode, clients in (("extended", 2), ("prepared", 2)):
        result = run_pgbench(proxy.port, ["-n", "-M", mode, "-c", str(clients), "-t", "10",
                                          "-D", "n=1", "-f", str(script)],
                             user=APP_USER, dbname=APP_DB, host=proxy.host)
        assert result.returncode == 0, result.stderr
    found = entries_for(http_port, "pgb_marker")
    assert sum(e["calls"] for e in found) == 40, found
    assert sum(e["rows"] for e in found) == 40, found


def test_query_stats_extended_alternating_texts(proxy, http_port):
    """Each Parse is attributed to its own text when a session alternates between two
    (the probe remembers only the last one)."""
    from harness import wire
    with contextlib.closing(wire.login(proxy.host, proxy.port, user=APP_USER,
                                       dbname=APP_DB)) as sock:
        for _ in range(3):
            wire.extended_query(sock, "SELECT upper('a') AS memo_a")
            wire.extended_query(sock, "SELECT upper('a') AS memo_a")
            wire.extended_query(sock, "SELECT lower('b') AS memo_b")
    assert sum(e["calls"] for e in entries_for(http_port, "memo_a")) == 6
    assert sum(e["calls"] for e in entries_for(http_port, "memo_b")) == 3


@pytest.mark.parametrize("order", ["total_time", "calls", "mean_time", "p99"])
def test_queries_order(proxy, http_port, order):
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)
    rows = queries(http_port, order=order, limit=5)
    assert 1 <= len(rows) <= 5
    key = {"total_time": "total_time_ms", "calls": "calls", "mean_time": "mean_time_ms",
           "p99": "p99_ms"}[order]
    values = [r[key] for r in rows]
    assert values == sorted(values, reverse=True)
    assert request(url(http_port, "/api/v1/queries?order=nope")).status == 400


def read_json_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_slow_query_log(pg, sluice, http_port, tmp_path):
    log = tmp_path / "slow.jsonl"
    proxy = sluice(observed_config(pg, http_port, stats={"slow_query_threshold": 100,
                                                         "slow_query_log": str(log)}))
    with proxy.connect(user=APP_USER, dbname=APP_DB, application_name="slow-test") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(0.2)")
            cur.execute("SELECT 1")  # fast: not logged
    entries = read_json_lines(log)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["query"] == "SELECT pg_sleep($1)"
    assert 200 <= entry["duration_ms"] < 5000, entry
    assert 0 <= entry["wait_ms"] <= entry["duration_ms"]
    assert entry["database"] == APP_DB and entry["user"] == APP_USER
    assert entry["application_name"] == "slow-test"
    assert entry["client_addr"] == "127.0.0.1" and entry["client_port"] > 0
    assert entry["rows"] == 1 and entry["error"] is False
    assert "parameters" not in entry
    assert entry["time"].endswith("Z")
    api = request(url(http_port, "/api/v1/slow_queries")).json()["slow_queries"]
    assert [q["query"] for q in api] == ["SELECT pg_sleep($1)"]
    assert "\nsluice_slow_queries_total 1\n" in request(url(http_port, "/metrics")).text


def test_slow_query_log_parameters(pg, sluice, http_port, tmp_path):
    """With log_parameters, a Bind's values are logged (psycopg 3 binds on the server)."""
    psycopg = pytest.importorskip("psycopg")
    log = tmp_path / "slow.jsonl"
    proxy = sluice(observed_config(pg, http_port, stats={"slow_query_threshold": "100ms",
                                                         "slow_query_log": str(log),
                                                         "log_parameters": True}))
    with psycopg.connect(host=proxy.host, port=proxy.port, user=APP_USER, dbname=APP_DB,
                         autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(%s::float8), %s::text", ("0.15", None))
    entries = read_json_lines(log)
    assert len(entries) == 1, entries
    assert entries[0]["parameters"] == ["0.15", None], entries[0]


def test_query_stats_off(pg, sluice, http_port):
    proxy = sluice(observed_config(pg, http_port, stats={"query_stats": False}))
    proxy.psql("SELECT 1 AS off_marker", user=APP_USER, dbname=APP_DB)
    assert entries_for(http_port, "off_marker") == []


def test_query_stats_bounded_under_distinct_texts(pg, sluice, http_port):
    """100,000 distinct fingerprints: entries stay at query_stats_max, evictions are
    counted, and the proxy's memory stays bounded."""
    from harness.util import vm_rss_kb
    limit = 1000
    proxy = sluice(observed_config(pg, http_port, stats={"query_stats_max": limit},
                                   server={"workers": 2}))
    batch = 1000
    with proxy.connect(user=APP_USER, dbname=APP_DB) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for start in range(0, 100_000, batch):
                # One Query per statement: each text is its own fingerprint (a column name).
                for i in range(start, start + batch):
                    cur.execute(f'SELECT 1 AS x FROM (SELECT 1 AS "c{i}") s WHERE "c{i}" = 1')
                if start == 10_000:
                    rss_early = vm_rss_kb(proxy.proc.pid)
    body = request(url(http_port, "/api/v1/queries?limit=1")).json()
    assert body["entries"] <= limit, body["entries"]
    assert body["evictions"] >= 100_000 - limit
    growth = vm_rss_kb(proxy.proc.pid) - rss_early
    assert growth < 20_000, f"RSS grew {growth} KiB after the first 10,000 texts"


def test_wait_for_a_server_is_kept_apart(pg, sluice, http_port):
    """With pool_size 1 held by another client's transaction, a query's wait for the
    connection counts as wait_time, not as execution time."""
    config = observed_config(pg, http_port)
    config["databases"][APP_DB]["pool_size"] = 1
    proxy = sluice(config)
    holder = proxy.connect(user=APP_USER, dbname=APP_DB)
    waiter = proxy.connect(user=APP_USER, dbname=APP_DB)
    waiter.autocommit = True
    try:
        holder.autocommit = True
        with holder.cursor() as cur:
            cur.execute("BEGIN")  # holds the only server connection until ROLLBACK
            cur.execute("SELECT 1")
        import threading
        release = threading.Timer(0.4, lambda: holder.cursor().execute("ROLLBACK"))
        release.start()
        with waiter.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_namespace")  # (aliases are not in fingerprints)
        release.join()
    finally:
        holder.close()
        waiter.close()
    [entry] = entries_for(http_port, "pg_namespace")
    assert entry["calls"] == 1
    assert entry["wait_time_ms"] >= 300, entry
    assert entry["total_time_ms"] < 300, entry


def test_malformed_http_is_refused_and_harmless(proxy, http_port):
    for raw in (b"NONSENSE\r\n\r\n", b"GET / HTTP/1.1\r\nbroken header\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n",
                b"POST /api/v1/reload HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", http_port), timeout=5) as s:
            s.sendall(raw)
            answer = s.recv(4096)
        assert answer.split(b" ")[1] in (b"400", b"413", b"431"), answer[:80]
    with socket.create_connection(("127.0.0.1", http_port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\n")  # then goes quiet: cut off, not held forever
    assert request(url(http_port, "/health")).status == 200
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)
