"""Node's `pg` driver (npm) through transaction mode with fewer server connections than
clients: node/driver_mix.js opens CLIENTS connections at once, each running a mix of named
prepared statements (client.query({name, text, values})), transactions that commit or roll
back, session-level SET of application_name and TimeZone, and errors inside transactions
(division by zero, a statement in the failed transaction, a named statement whose Parse
fails), and prints a JSON summary this test asserts on.

node/node_modules is installed with `npm install` from the committed package-lock.json when
missing; no network then is a failure, not a skip."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import APP_DB, APP_USER
from harness import client_env

NODE_DIR = Path(__file__).resolve().parent / "node"
POOL_SIZE = 2
CLIENTS = 8
ROUNDS = 20  # must match the mix's rules below (committed(), error rounds)
TABLE = "driver_mix_node"


def committed(rnd: int) -> bool:
    return rnd % 4 != 2


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` not found on PATH: install Node.js and npm "
                    "(scripts/install-deps.sh installs Debian's nodejs and npm)")
    return path


_install_error: list[str] = []  # one npm install attempt per run; its failure is remembered


def node_with_pg() -> str:
    """The `node` binary, with the pinned `pg` package installed in node/node_modules (npm
    install from package-lock.json when missing). Fails the calling test when it cannot."""
    node = tool("node")
    if _install_error:
        pytest.fail(_install_error[0])
    if not (NODE_DIR / "node_modules" / "pg").is_dir():
        cmd = [tool("npm"), "install", "--no-audit", "--no-fund"]
        try:
            result = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True,
                                    timeout=180)
            failed = None if result.returncode == 0 else \
                f"failed with code {result.returncode}:\n{result.stdout}\n{result.stderr}"
        except subprocess.TimeoutExpired:
            failed = "took over 180 s"
        if failed:
            _install_error.append(
                f"cannot install Node's pg driver: `npm {' '.join(cmd[1:])}` in {NODE_DIR} {failed}"
                "\n(this test needs the npm registry, or a node_modules installed beforehand)")
            pytest.fail(_install_error[0])
    return node


@pytest.fixture
def mix_table(pg):
    pg.psql(f"""
        DROP TABLE IF EXISTS {TABLE};
        CREATE TABLE {TABLE} (client int NOT NULL, round int NOT NULL, v bigint NOT NULL,
                              PRIMARY KEY (client, round));
        ALTER TABLE {TABLE} OWNER TO {APP_USER};
        """, dbname=APP_DB)
    yield TABLE
    pg.psql(f"DROP TABLE IF EXISTS {TABLE}", dbname=APP_DB)


def run_mix(node: str, proxy, clients: int, rounds: int) -> dict:
    env = client_env(PGHOST=proxy.host, PGPORT=str(proxy.port), PGUSER=APP_USER,
                     PGDATABASE=APP_DB, MIX_CLIENTS=str(clients), MIX_ROUNDS=str(rounds),
                     MIX_TABLE=TABLE)
    result = subprocess.run([node, "driver_mix.js"], cwd=NODE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"driver_mix.js exited {result.returncode}:\n" \
                                   f"{result.stdout}\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    assert lines, f"driver_mix.js printed nothing; stderr:\n{result.stderr}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("max_prepared", [200, 3], ids=["default-cache", "tiny-cache"])
def test_node_pg_named_statements_mix(pg, sluice, mix_table, max_prepared):
    """8 node-postgres clients on 2 server connections; with a cache of 3 statements per
    server connection the proxy keeps closing and re-preparing the 6 named ones."""
    node = node_with_pg()
    proxy = sluice({"pool": {"pool_mode": "transaction", "pool_size": POOL_SIZE,
                             "max_prepared_statements": max_prepared}})
    summary = run_mix(node, proxy, CLIENTS, ROUNDS)
    results = summary["results"]
    assert len(results) == CLIENTS

    failures = [f for r in results for f in r["failures"]]
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} failures)"
    assert proxy.alive(), "the proxy exited"

    div_rounds = sum(1 for r in range(ROUNDS) if r % 3 == 1)
    parse_rounds = sum(1 for r in range(ROUNDS) if r % 5 == 3)
    for r in results:
        assert r["prepared_runs"] == 2 * ROUNDS, r
        assert r["commits"] == sum(committed(x) for x in range(ROUNDS)), r
        assert r["rollbacks"] == ROUNDS - r["commits"], r
        assert r["expected_errors"] == {"22012": div_rounds, "25P02": div_rounds,
                                        "42P01": parse_rounds}, r
        assert r["final_settings"] == r["expected_settings"], r
        assert r["expected_settings"][0] == f"node-client-{r['client']}-b", r

    # Clients moved between server connections while reusing their named statements.
    pids = [set(r["pids"]) for r in results]
    assert any(len(p) > 1 for p in pids), f"no client saw two server connections: {pids}"
    assert len(set().union(*pids)) <= POOL_SIZE, pids

    rows = pg.query(f"SELECT client, count(*), sum(v) FROM {TABLE} GROUP BY client ORDER BY 1",
                    dbname=APP_DB)
    kept = [x for x in range(ROUNDS) if committed(x)]
    assert rows == [(c, len(kept), sum(c * 1000 + x for x in kept)) for c in range(CLIENTS)]
