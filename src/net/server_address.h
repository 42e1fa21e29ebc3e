// Where a PostgreSQL server listens: a TCP host and port, or, as in libpq, a directory
// (a host that starts with '/') holding the server's Unix-domain socket
// DIR/.s.PGSQL.PORT (common/socket_path.h), which costs the kernel much less per message than
// loopback TCP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "net/stream.h"

namespace sluice::net {

bool is_unix_socket_dir(std::string_view host);

// For messages: HOST:PORT, [IPV6]:PORT, or the socket's path.
std::string server_address(std::string_view host, uint16_t port);

// Connects `socket` (closed) to the server's Unix-domain socket in `dir`. The descriptor is
// held by the TCP socket object: the relay's reads, writes, waits, rebind() and detach()
// use only the descriptor, so server connections keep one type; callers skip the
// TCP-only options (TCP_NODELAY) and TLS, which PostgreSQL does not offer on Unix
// sockets. The connect never waits: it succeeds or fails at once (EAGAIN when the
// server's listen queue is full), as libpq's does.
std::error_code connect_unix_socket(tcp::socket& socket, std::string_view dir, uint16_t port);

}  // namespace sluice::net
