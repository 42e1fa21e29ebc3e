"""Malformed and hostile input on raw sockets: the proxy answers with an ErrorResponse or
closes the connection, never hangs or dies, and keeps serving normal clients."""
import socket
import struct

import pytest

from conftest import APP_DB, APP_USER
from harness import wire

REPLY_TIMEOUT_S = 5.0
MAX_MESSAGE_SIZE = 1024 * 1024

SSL_REQUEST = struct.pack("!II", 8, wire.SSL_REQUEST_CODE)


def raw_startup(version: int, body: bytes) -> bytes:
    return struct.pack("!II", 8 + len(body), version) + body


BAD_STARTUPS = {
    "length_3": struct.pack("!II", 3, wire.PROTOCOL_3),
    "length_0": struct.pack("!II", 0, wire.PROTOCOL_3),
    "length_2GB": struct.pack("!II", 0x7FFFFFFF, wire.PROTOCOL_3) + b"user\0x\0",
    "length_4GB": struct.pack("!II", 0xFFFFFFFF, wire.PROTOCOL_3),
    "http_request": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "random_garbage": bytes(range(256)) * 4,
    "protocol_2": raw_startup(2 << 16, f"user\0{APP_USER}\0\0".encode()),
    "protocol_9": raw_startup(9 << 16, f"user\0{APP_USER}\0database\0{APP_DB}\0\0".encode()),
    "no_user": raw_startup(wire.PROTOCOL_3, f"database\0{APP_DB}\0\0".encode()),
    "unterminated_params": raw_startup(wire.PROTOCOL_3, b"userxxxx"),
}


@pytest.fixture
def proxy(sluice):
    return sluice({"server": {"max_message_size": MAX_MESSAGE_SIZE}},
                  pool_mode="transaction", pool_size=2)


def assert_refused(sock) -> None:
    """The proxy must send an ErrorResponse ('E') or close; a timeout means it hangs."""
    try:
        first = wire.read_reply(sock, REPLY_TIMEOUT_S)
    except socket.timeout:
        pytest.fail(f"no reply and no close within {REPLY_TIMEOUT_S}s")
    assert first in (b"E", b"", None), f"unexpected reply {first!r}"


def assert_still_serving(proxy) -> None:
    assert proxy.alive(), "the proxy process died"
    assert proxy.psql("SELECT 'still serving'", user=APP_USER, dbname=APP_DB) == \
        "still serving"


@pytest.mark.parametrize("name", BAD_STARTUPS)
def test_bad_startup_packet(proxy, name):
    with socket.create_connection((proxy.host, proxy.port), timeout=REPLY_TIMEOUT_S) as sock:
        try:
            sock.sendall(BAD_STARTUPS[name])
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still sending: also a refusal
        assert_refused(sock)
    assert_still_serving(proxy)


def test_ssl_request_then_garbage(proxy):
    with socket.create_connection((proxy.host, proxy.port), timeout=REPLY_TIMEOUT_S) as sock:
        sock.sendall(SSL_REQUEST)
        answer = wire.read_reply(sock, REPLY_TIMEOUT_S)
        assert answer == b"N", "TLS is not configured, so SSLRequest must be answered 'N'"
        sock.sendall(b"\x16\x03\x01garbage that is no startup packet" * 3)
        assert_refused(sock)
    assert_still_serving(proxy)


def test_half_startup_then_close(proxy):
    for _ in range(20):
        with socket.create_connection((proxy.host, proxy.port)) as sock:
            sock.sendall(wire.startup_message(APP_USER, APP_DB)[:7])
    assert_still_serving(proxy)


def test_oversized_message_after_login(proxy):
    sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
    with sock:
        assert wire.simple_query(sock, "SELECT 1") == [("1",)]
        # Only the header: the length alone must make the proxy refuse, without waiting for
        # (or buffering) the body.
        sock.sendall(b"Q" + struct.pack("!I", 2 * MAX_MESSAGE_SIZE))
        assert wire.read_reply(sock, REPLY_TIMEOUT_S) == b"E"
        length = struct.unpack("!I", wire.recv_exact(sock, 4))[0]
        fields = wire.parse_error_fields(wire.recv_exact(sock, length - 4))
        assert fields.get("M"), fields
        assert wire.read_reply(sock, REPLY_TIMEOUT_S) in (b"", None), "connection not closed"
    assert_still_serving(proxy)


def test_message_below_limit_is_fine(proxy):
    sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
    with sock:
        big = "x" * (MAX_MESSAGE_SIZE // 2)
        assert wire.simple_query(sock, f"SELECT length('{big}')") == [(str(len(big)),)]


def test_unknown_message_type_after_login(proxy):
    sock = wire.login(proxy.host, proxy.port, user=APP_USER, dbname=APP_DB)
    with sock:
        sock.sendall(wire.message(b"\x01", b"junk"))
        assert_refused(sock)
    assert_still_serving(proxy)
