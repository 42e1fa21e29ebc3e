// Checks that an idle server connection still works before a client gets it.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <string>

#include "pool/server_connection.h"

namespace sluice::pool {

// Idle connections older than this get a liveness peek (one system call) before being
// handed out. Zero: every one is peeked, so a connection whose backend has exited (its
// FATAL and FIN already in the socket) is never handed out, whatever its idle time.
inline constexpr auto kPeekAfterIdle = std::chrono::milliseconds(0);

// Non-blocking: true when the server closed the connection or sent something unsolicited
// (usually a FATAL before closing) while it sat idle. No round trip.
bool looks_dead(ServerConnection& conn);

// Runs `sql` ("" = an empty query, the cheapest round trip) on an idle connection on the
// caller's event loop; false when it fails or gets no answer within `timeout`. Either way
// the connection's `checked` time is updated on success only.
asio::awaitable<bool> check_server_connection(ServerConnection& conn, const std::string& sql,
                                              std::chrono::milliseconds timeout,
                                              size_t max_message_size);

}  // namespace sluice::pool
