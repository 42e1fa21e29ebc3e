"""A minimal PostgreSQL v3 wire client over a raw socket, for what libpq hides: the SQLSTATE
of a failed login, malformed input, oversized messages. Supports trust, cleartext, md5 and
SCRAM-SHA-256 (RFC 5802/7677) logins."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct

PROTOCOL_3 = 196608  # 3.0
SSL_REQUEST_CODE = 80877103

AUTH_OK, AUTH_CLEARTEXT, AUTH_MD5 = 0, 3, 5
AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 10, 11, 12


class ServerError(Exception):
    """An ErrorResponse; `fields` maps field codes ('C' = SQLSTATE, 'M' = message)."""

    def __init__(self, fields: dict[str, str]):
        super().__init__(f"{fields.get('S', 'ERROR')} {fields.get('C', '?')}: "
                         f"{fields.get('M', '')}")
        self.fields = fields

    @property
    def sqlstate(self) -> str | None:
        return self.fields.get("C")


def startup_message(user: str, dbname: str, **params: str) -> bytes:
    body = struct.pack("!I", PROTOCOL_3)
    for key, value in {"user": user, "database": dbname, **params}.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def parse_error_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    header = recv_exact(sock, 5)
    length = struct.unpack("!I", header[1:])[0]
    return header[:1], recv_exact(sock, length - 4)


class _Scram:
    def __init__(self, password: str):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"

    def client_first(self) -> bytes:
        return ("n,," + self.first_bare).encode()

    def client_final(self, server_first: str) -> bytes:
        attrs = dict(item.split("=", 1) for item in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


def _auth_response(sock, code: int, body: bytes, user: str, password: str | None,
                   scram: list) -> None:
    if code == AUTH_CLEARTEXT:
        sock.sendall(message(b"p", (password or "").encode() + b"\0"))
    elif code == AUTH_MD5:
        inner = hashlib.md5(((password or "") + user).encode()).hexdigest()
        outer = hashlib.md5(inner.encode() + body[4:8]).hexdigest()
        sock.sendall(message(b"p", b"md5" + outer.encode() + b"\0"))
    elif code == AUTH_SASL:
        scram.append(_Scram(password or ""))
        first = scram[0].client_first()
        sock.sendall(message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
    elif code == AUTH_SASL_CONTINUE:
        sock.sendall(message(b"p", scram[0].client_final(body[4:].decode())))
    elif code not in (AUTH_OK, AUTH_SASL_FINAL):
        raise NotImplementedError(f"authentication request {code}")


def login(host: str, port: int, *, user: str, dbname: str, password: str | None = None,
          timeout: float = 10.0, params: dict[str, str] | None = None,
          source: str | None = None) -> socket.socket:
    """Logs in and returns the socket after ReadyForQuery; raises ServerError on an
    ErrorResponse (e.g. SQLSTATE 28P01 for a wrong password). `params` are more startup
    parameters (application_name, options, ...); `source`: the local address to connect
    from (any of 127.0.0.0/8 works on loopback)."""
    sock = socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    try:
        return login_on(sock, user=user, dbname=dbname, password=password, params=params)
    except BaseException:
        sock.close()
        raise


def login_on(sock: socket.socket, *, user: str, dbname: str, password: str | None = None,
             params: dict[str, str] | None = None) -> socket.socket:
    """login() over a connection already open."""
    sock.sendall(startup_message(user, dbname, **(params or {})))
    scram: list = []
    while True:
        kind, body = read_message(sock)
        if kind == b"E":
            raise ServerError(parse_error_fields(body))
        if kind == b"R":
            _auth_response(sock, struct.unpack("!I", body[:4])[0], body, user, password, scram)
        elif kind == b"Z":
            return sock


def parse_data_row(body: bytes) -> tuple:
    """A DataRow's values as text (None for NULL)."""
    count, pos, row = struct.unpack("!H", body[:2])[0], 2, []
    for _ in range(count):
        n = struct.unpack("!i", body[pos:pos + 4])[0]
        pos += 4
        row.append(None if n < 0 else body[pos:pos + n].decode())
        pos += max(n, 0)
    return tuple(row)


def simple_query(sock: socket.socket, sql: str) -> list[tuple]:
    """Runs one simple Query; returns DataRow values as text; raises ServerError."""
    sock.sendall(message(b"Q", sql.encode() + b"\0"))
    return read_results(sock)


def extended_query(sock: socket.socket, sql: str) -> list[tuple]:
    """Runs `sql` with the extended protocol, as drivers do: Parse of the unnamed statement,
    Bind, Execute, Sync. Returns DataRow values as text; raises ServerError."""
    sock.sendall(message(b"P", b"\0" + sql.encode() + b"\0" + struct.pack("!H", 0))
                 + message(b"B", b"\0\0" + struct.pack("!HHH", 0, 0, 0))
                 + message(b"E", b"\0" + struct.pack("!I", 0))
                 + message(b"S", b""))
    return read_results(sock)


def read_results(sock: socket.socket) -> list[tuple]:
    """The DataRow values (as text) up to ReadyForQuery; raises ServerError for an error."""
    rows, error = [], None
    while True:
        kind, body = read_message(sock)
        if kind == b"D":
            rows.append(parse_data_row(body))
        elif kind == b"E":
            error = ServerError(parse_error_fields(body))
            if error.fields.get("S") in ("FATAL", "PANIC"):
                raise error  # the connection ends here: no ReadyForQuery follows
        elif kind == b"Z":
            if error:
                raise error
            return rows


def read_reply(sock: socket.socket, timeout: float) -> bytes | None:
    """What the peer does next: its first message type byte, b"" for a clean close, or
    None for a reset. Raises socket.timeout if it does neither within `timeout`."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1)
    except ConnectionResetError:
        return None
