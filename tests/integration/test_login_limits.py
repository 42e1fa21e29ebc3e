"""Slow and oversized logins are dropped: a client that sends nothing, a partial startup
packet (or drips it), or never answers the password request is disconnected when
client_login_timeout expires, not before; a startup packet over PostgreSQL's 10000-byte
limit gets an ErrorResponse 08P01 and is closed. The proxy serves other clients throughout.
With tcp_defer_accept (the default) a connection that sends nothing stays with the kernel,
and its first packet hands it to the proxy."""
import socket
import struct
import time

import pytest

from conftest import APP_DB, APP_USER
from harness import PostgresServer, wire, write_userlist
from test_io_backend import kernel_allows_io_uring

LOGIN_TIMEOUT_S = 1.0
EARLY_S = 0.05  # closing more than this before the timeout fails the test
LATE_S = 1.0  # ... and more than this after it
MAX_STARTUP_PACKET = 10000  # PostgreSQL's MAX_STARTUP_PACKET_LENGTH


APP_PASSWORD = PostgresServer.PASSWORDS[APP_USER]


def start(sluice, pg, tmp_path, defer_accept=True, **extra):
    users = {"md5_user": pg.secret("md5_user"), APP_USER: APP_PASSWORD}
    userlist = write_userlist(tmp_path / "userlist.txt", users)
    return sluice({"server": {"tcp_defer_accept": defer_accept},
                   "pool": {"client_login_timeout": f"{int(LOGIN_TIMEOUT_S * 1000)}ms",
                            "pool_mode": "transaction"},
                   "auth": {"type": "md5", "file": str(userlist)},
                   "databases": {APP_DB: {"host": pg.host, "port": pg.port, "dbname": APP_DB}}},
                  **extra)


@pytest.fixture
def proxy(pg, sluice, tmp_path):
    return start(sluice, pg, tmp_path)


def closed_after(sock, started: float, timeout: float = LOGIN_TIMEOUT_S + LATE_S + 2) -> float:
    """Reads until the proxy closes the connection; returns seconds since `started`. Only an
    ErrorResponse may come first (and nothing at all when nothing was asked)."""
    sock.settimeout(max(0.1, started + timeout - time.monotonic()))
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        pytest.fail(f"still open {time.monotonic() - started:.2f}s after connecting")
    assert received == b"" or received[:1] == b"E", f"unexpected bytes {received[:40]!r}"
    return time.monotonic() - started


def assert_dropped_at_the_timeout(elapsed: float, what: str) -> None:
    print(f"\nLOGIN {what}: closed after {elapsed:.3f}s "
          f"(client_login_timeout {LOGIN_TIMEOUT_S}s)")
    assert elapsed >= LOGIN_TIMEOUT_S - EARLY_S, f"{what}: closed early, after {elapsed:.3f}s"
    assert elapsed < LOGIN_TIMEOUT_S + LATE_S, f"{what}: closed late, after {elapsed:.3f}s"


def assert_serving(proxy) -> None:
    assert proxy.alive(), "the proxy died"
    started = time.monotonic()
    with wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB,
                    password=APP_PASSWORD) as sock:
        assert wire.simple_query(sock, "SELECT 'ok'") == [("ok",)]
    assert time.monotonic() - started < 0.5


def connect(proxy):
    return socket.create_connection((proxy.host, proxy.port), timeout=5)


@pytest.mark.parametrize("io_backend", ["epoll", "io_uring"])
def test_silent_client_is_dropped(pg, sluice, tmp_path, io_backend):
    if io_backend == "io_uring" and not kernel_allows_io_uring():
        pytest.skip("this kernel refuses io_uring")
    # (With tcp_defer_accept the kernel would not hand this connection over at all.)
    proxy = start(sluice, pg, tmp_path, defer_accept=False, io_backend=io_backend)
    started = time.monotonic()
    with connect(proxy) as sock:
        time.sleep(LOGIN_TIMEOUT_S / 2)
        assert_serving(proxy)  # while that client sits there
        elapsed = closed_after(sock, started)
    assert_dropped_at_the_timeout(elapsed, f"nothing sent ({io_backend})")
    assert_serving(proxy)


def proxy_end_state(proxy, client: socket.socket) -> str | None:
    """The TCP state of the proxy's end of `client`'s connection, from /proc/net/tcp:
    SYN_RECV while the kernel holds the connection back, ESTABLISHED once accepted."""
    local = f":{proxy.port:04X}"
    remote = f":{client.getsockname()[1]:04X}"
    with open("/proc/net/tcp") as table:
        for line in table:
            fields = line.split()
            if fields[1].endswith(local) and fields[2].endswith(remote):
                return {"01": "ESTABLISHED", "03": "SYN_RECV"}.get(fields[3], fields[3])
    return None


@pytest.mark.parametrize("io_backend", ["epoll", "io_uring"])
def test_deferred_accept_waits_for_the_first_packet(pg, sluice, tmp_path, io_backend):
    if io_backend == "io_uring" and not kernel_allows_io_uring():
        pytest.skip("this kernel refuses io_uring")
    proxy = start(sluice, pg, tmp_path, io_backend=io_backend)
    with connect(proxy) as silent, connect(proxy) as client:
        # Past the login timeout: a connection accepted would have been closed by now.
        time.sleep(LOGIN_TIMEOUT_S + LATE_S)
        assert proxy_end_state(proxy, silent) == "SYN_RECV"
        with pytest.raises(socket.timeout):
            wire.read_reply(silent, 0.1)  # neither answered nor closed
        # The first packet hands the connection over; the login and a query go as usual,
        # through SSLRequest's answer too (the packet read as the connection is accepted).
        client.sendall(struct.pack("!II", 8, wire.SSL_REQUEST_CODE))
        assert client.recv(1) == b"N"
        wire.login_on(client, user=APP_USER, dbname=APP_DB, password=APP_PASSWORD)
        assert proxy_end_state(proxy, client) == "ESTABLISHED"
        assert wire.simple_query(client, "SELECT 'handed over'") == [("handed over",)]
    assert_serving(proxy)


def test_partial_startup_packet_is_dropped(proxy):
    started = time.monotonic()
    with connect(proxy) as sock:
        sock.sendall(wire.startup_message(APP_USER, APP_DB)[:7])
        elapsed = closed_after(sock, started)
    assert_dropped_at_the_timeout(elapsed, "7 bytes of the startup packet")
    assert_serving(proxy)


def test_dripped_startup_packet_is_dropped(proxy):
    # Each byte comes well within the timeout: the deadline is for the whole login.
    packet = wire.startup_message(APP_USER, APP_DB)
    started = time.monotonic()
    with connect(proxy) as sock:
        try:
            for byte in packet:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - started > LOGIN_TIMEOUT_S + LATE_S:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        elapsed = closed_after(sock, started)
    assert_dropped_at_the_timeout(elapsed, "startup packet a byte per 100 ms")
    assert_serving(proxy)


def test_unanswered_password_request_is_dropped(proxy):
    started = time.monotonic()
    with connect(proxy) as sock:
        sock.sendall(wire.startup_message("md5_user", APP_DB))
        kind, body = wire.read_message(sock)
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == wire.AUTH_MD5, (kind, body)
        elapsed = closed_after(sock, started)
    assert_dropped_at_the_timeout(elapsed, "password request unanswered")
    assert_serving(proxy)


def read_error(sock) -> dict[str, str]:
    kind, body = wire.read_message(sock)
    assert kind == b"E", (kind, body)
    return wire.parse_error_fields(body)


@pytest.mark.parametrize("whole", [False, True], ids=["header_only", "whole_packet"])
def test_oversized_startup_packet_is_refused(proxy, whole):
    params = b"user\0" + APP_USER.encode() + b"\0application_name\0"
    filler = b"x" * (2 * MAX_STARTUP_PACKET) + b"\0\0"
    length = 8 + len(params) + len(filler)
    header = struct.pack("!II", length, wire.PROTOCOL_3)
    started = time.monotonic()
    with connect(proxy) as sock:
        # The length alone must be enough: the proxy neither waits for nor buffers the rest.
        sock.sendall(header + (params + filler if whole else b""))
        fields = read_error(sock)
        assert fields.get("C") == "08P01", fields
        assert str(length) in fields.get("M", ""), fields
        elapsed = closed_after(sock, started)
    print(f"\nLOGIN startup packet of {length} bytes: {fields.get('S')} {fields['C']} "
          f"\"{fields['M']}\", closed after {elapsed:.3f}s")
    assert elapsed < 0.5
    assert_serving(proxy)


def test_startup_packet_at_the_limit_is_read(proxy):
    # Exactly 10000 bytes is allowed (PostgreSQL refuses only longer ones).
    name = "x" * (MAX_STARTUP_PACKET - 8 - len(f"user\0{APP_USER}\0database\0{APP_DB}\0") -
                  len("application_name\0\0\0"))
    packet = wire.startup_message(APP_USER, APP_DB, application_name=name)
    assert len(packet) == MAX_STARTUP_PACKET
    with connect(proxy) as sock:
        sock.sendall(packet)
        kind, body = wire.read_message(sock)
        if kind == b"E":
            message = wire.parse_error_fields(body).get("M", "")
            assert "startup packet" not in message, message
        else:
            assert kind in (b"R", b"S"), (kind, body)
