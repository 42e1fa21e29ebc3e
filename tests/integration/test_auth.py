"""Client authentication at the proxy (md5, SCRAM-SHA-256, auth_query) and the proxy's own
login to the server with what it learned from the userlist or the client."""
import psycopg2
import pytest

from conftest import APP_DB
from harness import PostgresServer, wire, write_userlist

PASSWORDS = PostgresServer.PASSWORDS
AUTH_QUERY = "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"


def app_database(pg) -> dict:
    # No forced user: the proxy logs into the server as the client's user.
    return {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB}}


def start_proxy(sluice, pg, tmp_path, auth_type, users, **auth):
    userlist = write_userlist(tmp_path / "userlist.txt", users)
    config = {"auth": {"type": auth_type, "file": str(userlist), **auth},
              "databases": app_database(pg)}
    return sluice(config)


def login_ok(proxy, user, password):
    conn = proxy.connect(user=user, password=password, dbname=APP_DB)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, 40 + 2")
            assert cur.fetchone() == (user, 42)
    finally:
        conn.close()


def login_fails(proxy, user, password, sqlstates=("28P01",)):
    with pytest.raises(psycopg2.OperationalError):
        proxy.connect(user=user, password=password, dbname=APP_DB).close()
    # libpq does not expose the SQLSTATE of a failed login (pgcode is None): read it raw.
    with pytest.raises(wire.ServerError) as failure:
        wire.login(proxy.host, proxy.port, user=user, password=password, dbname=APP_DB).close()
    assert failure.value.sqlstate in sqlstates, failure.value.fields


def test_md5_with_md5_secret(pg, sluice, tmp_path):
    proxy = start_proxy(sluice, pg, tmp_path, "md5", {"md5_user": pg.secret("md5_user")})
    login_ok(proxy, "md5_user", PASSWORDS["md5_user"])


def test_scram_with_secret_from_pg_authid(pg, sluice, tmp_path):
    # The proxy has no password: it logs into the server with the ClientKey recovered from
    # the client's SCRAM proof.
    secret = pg.secret("scram_user")
    assert secret.startswith("SCRAM-SHA-256$")
    proxy = start_proxy(sluice, pg, tmp_path, "scram-sha-256", {"scram_user": secret})
    login_ok(proxy, "scram_user", PASSWORDS["scram_user"])
    # A second login goes through the same path again (or reuses a pooled connection).
    login_ok(proxy, "scram_user", PASSWORDS["scram_user"])


@pytest.mark.parametrize("auth_type", ["md5", "scram-sha-256"])
@pytest.mark.parametrize("user", ["md5_user", "scram_user"])
def test_plain_text_password_in_userlist(pg, sluice, tmp_path, auth_type, user):
    proxy = start_proxy(sluice, pg, tmp_path, auth_type, {user: PASSWORDS[user]})
    login_ok(proxy, user, PASSWORDS[user])


@pytest.mark.parametrize("auth_type, user", [("md5", "md5_user"),
                                             ("scram-sha-256", "scram_user")])
def test_wrong_password_is_28P01(pg, sluice, tmp_path, auth_type, user):
    proxy = start_proxy(sluice, pg, tmp_path, auth_type, {user: pg.secret(user)})
    login_fails(proxy, user, "wrong-password")
    login_ok(proxy, user, PASSWORDS[user])  # and the proxy still serves


@pytest.mark.parametrize("auth_type, user", [("scram-sha-256", "scram_user"),
                                             ("md5", "md5_user")])
def test_auth_query_for_user_not_in_file(pg, sluice, tmp_path, auth_type, user):
    admin = PostgresServer.SUPERUSER
    proxy = start_proxy(sluice, pg, tmp_path, auth_type, {admin: PASSWORDS[admin]},
                        query=AUTH_QUERY, user=admin)
    login_ok(proxy, user, PASSWORDS[user])
    login_fails(proxy, user, "wrong-password")
    # A role that does not exist is refused too (PostgreSQL itself says 28P01 here).
    login_fails(proxy, "no_such_user", "whatever", sqlstates=("28P01", "28000"))
