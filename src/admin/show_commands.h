// Result builders for the console's SHOW commands. Each appends one complete result
// (RowDescription, DataRows, CommandComplete "SHOW") to `out`; none does I/O. They read
// shared state through ProxyContext's public, thread-safe accessors only, so any worker
// may call them.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/context.h"

namespace sluice::admin {

// One (database, user) as SHOW POOLS sees it: clients by state, the pool's servers.
struct PoolLine {
  int64_t cl_active = 0;
  int64_t cl_waiting = 0;
  pool::PoolSnapshot sv;
  int64_t max_wait_us = 0;
  std::optional<std::string> mode;
  std::shared_ptr<pool::Pool> pool;  // null for clients whose pool does not exist yet
};
using PoolLines = std::map<std::pair<std::string, std::string>, PoolLine>;  // sorted
PoolLines collect_pool_lines(server::ProxyContext& ctx);

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

// show_classes.cc: per database and priority class, slots held and clients waiting.
void show_classes(server::ProxyContext& ctx, std::string& out);

// show_queries.cc: per-fingerprint query statistics, top by total execution time.
void show_queries(server::ProxyContext& ctx, std::string& out);

// show_settings.cc: configuration and counters.
void show_databases(server::ProxyContext& ctx, std::string& out);
void show_stats(server::ProxyContext& ctx, std::string& out);
void show_config(server::ProxyContext& ctx, std::string& out);

// The settings SHOW CONFIG lists (secrets left out or shown as "(set)").
struct SettingValue {
  std::string key;
  std::string value;
  std::string default_value;
  bool changeable;
};
std::vector<SettingValue> settings_of(const config::Config& cfg);

}  // namespace sluice::admin
