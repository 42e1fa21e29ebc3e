// An IP address as text (SHOW CLIENTS, logs), written for every client at login. asio's
// to_string() goes through inet_ntop and sprintf, about 1,700 instructions for
// "127.0.0.1"; an IPv4 address, the common case, is written here in about a tenth of that.
#pragma once

#include <asio/ip/address.hpp>
#include <string>
#include <string_view>

namespace sluice::net {

// What stands for the address of a client of the Unix-domain socket, which has none (SHOW
// CLIENTS, the HTTP API, logs, auth.failure_delay's key), as PgBouncer shows it; its port
// is the listen port the socket is named after.
inline constexpr std::string_view kUnixSocketAddress = "unix";

std::string address_text(const asio::ip::address& address);

}  // namespace sluice::net
