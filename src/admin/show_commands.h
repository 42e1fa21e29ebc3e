// Result builders for the console's SHOW commands. Each appends one complete result
// (RowDescription, DataRows, CommandComplete "SHOW") to `out`; none does I/O. They read
// shared state through ProxyContext's public, thread-safe accessors only, so any worker
// may call them.
#pragma once

#include <string>

#include "server/context.h"

namespace sluice::admin {

// show_commands.cc: live state.
void show_pools(server::ProxyContext& ctx, std::string& out);
void show_clients(server::ProxyContext& ctx, std::string& out);
void show_servers(server::ProxyContext& ctx, std::string& out);
void show_lists(server::ProxyContext& ctx, std::string& out);
void show_version(server::ProxyContext& ctx, std::string& out);
// Clients pinned to their server connection in transaction mode, per reason.
void show_pins(server::ProxyContext& ctx, std::string& out);
// show_hosts.cc: per server host, its circuit breaker and connection failures.
void show_hosts(server::ProxyContext& ctx, std::string& out);

// show_settings.cc: configuration and counters.
void show_databases(server::ProxyContext& ctx, std::string& out);
void show_stats(server::ProxyContext& ctx, std::string& out);
void show_config(server::ProxyContext& ctx, std::string& out);

}  // namespace sluice::admin
