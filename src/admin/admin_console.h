// The admin console: the virtual database "sluice" (alias "pgbouncer") that answers
// PgBouncer's console commands (SHOW POOLS, PAUSE, RELOAD, ...) so that tools written for
// PgBouncer keep working. Runs on the worker that accepted the admin client.
#pragma once

#include <asio.hpp>

#include "net/read_buffer.h"
#include "net/stream.h"
#include "server/context.h"
#include "session/client_registry.h"

namespace sluice::admin {

// Serves the virtual "sluice" database until the client leaves or SHUTDOWN.
// Called after the admin user has logged in and received AuthenticationOk,
// ParameterStatus, BackendKeyData and ReadyForQuery; `in` may already hold pipelined
// messages. Never throws; returns when the client disconnects, sends Terminate, breaks
// the protocol (after a FATAL error), or after SHUTDOWN was answered and requested.
asio::awaitable<void> run_admin_console(server::ProxyContext& ctx, net::Stream& client,
                                        net::ReadBuffer& in, const session::ClientInfo& self);

// Runs one console command (PAUSE app, RELOAD, ...) for a caller that authenticated
// elsewhere (the HTTP API); SHUTDOWN is refused. Returns "" on success, else the error
// message the console would have sent.
asio::awaitable<std::string> run_trusted_command(server::ProxyContext& ctx, std::string_view text,
                                                 std::string_view caller);

}  // namespace sluice::admin
