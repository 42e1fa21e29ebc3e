// The listening sockets of `sluice serve`: resolving listen addresses, binding one socket per
// worker and address (SO_REUSEPORT, so the kernel spreads connections over the workers), and
// adopting sockets received from a running proxy (`--takeover`, server/takeover.h).
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>

#include "config/config.h"
#include "server/fd_passing.h"

namespace sluice::server {

using Acceptor = asio::ip::tcp::acceptor;

// "*" is every IPv4 interface; names go through the resolver (first result). Throws
// std::runtime_error naming `what` ("listen", "admin_listen").
asio::ip::tcp::endpoint resolve_address(asio::io_context& io, const config::HostPort& hp,
                                        std::string_view what);

// Whether any process (any user) listens on `ep`: a probe bound without SO_REUSEPORT fails
// then. bind_listener() alone cannot tell: with SO_REUSEPORT a second process of the same
// user joins the first one's group and takes part of its connections.
bool someone_listens_on(const asio::ip::tcp::endpoint& ep);

// A new listening socket on `ep`, joining its SO_REUSEPORT group when `reuse_port`.
std::unique_ptr<Acceptor> bind_listener(asio::io_context& io, const asio::ip::tcp::endpoint& ep,
                                        bool reuse_port, std::error_code& ec);

// Turns TCP_DEFER_ACCEPT on (server.tcp_defer_accept) or off. Where the kernel refuses it,
// connections are accepted at once, as without it.
void set_defer_accept(Acceptor& acceptor, bool on);

// Takes over a listening socket received from another process. Throws std::runtime_error.
std::unique_ptr<Acceptor> adopt_listener(asio::io_context& io, UniqueFd fd);

// The address a socket is bound to (getsockname); a default endpoint on failure.
asio::ip::tcp::endpoint bound_address(int fd);

// "127.0.0.1:6432", "[::1]:6432".
std::string to_string(const asio::ip::tcp::endpoint& ep);

}  // namespace sluice::server
