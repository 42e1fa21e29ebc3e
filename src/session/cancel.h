// Forwarding a client's CancelRequest to the server connection running its query.
#pragma once

#include <asio.hpp>

#include "session/client_registry.h"

namespace sluice::session {

// Sends a CancelRequest for whatever `target` is running now; does nothing when it holds
// no server connection.
asio::awaitable<void> cancel_server_query(const ClientInfo& target);

}  // namespace sluice::session
