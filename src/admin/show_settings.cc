// SHOW DATABASES / STATS / CONFIG: the configuration snapshot plus per-database counters.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "admin/show_commands.h"
#include "admin/show_util.h"

namespace sluice::admin {

namespace {

// PgBouncer's own console database row: a fixed, tiny statement-mode pool.
constexpr int64_t kAdminPoolSize = 2;

std::map<std::string, std::shared_ptr<pool::DatabaseState>> database_states(
    const server::ProxyContext& ctx) {
  std::map<std::string, std::shared_ptr<pool::DatabaseState>> out;
  for (auto& d : ctx.pools.databases()) out[d->name] = d;
  return out;
}

std::optional<std::string> null_if_empty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

// The circuit breaker of the database's server host ("closed" before any connection).
std::string breaker_state(const server::ProxyContext& ctx, const config::DatabaseConfig& db) {
  auto host = ctx.pools.find_host(db.host, db.port);
  if (!host) return std::string(pool::to_string(pool::BreakerState::kClosed));
  return std::string(pool::to_string(host->snapshot(pool::Clock::now()).breaker));
}

Row database_row(const server::ProxyContext& ctx, const std::string& name,
                 const config::Config& cfg, const config::DatabaseConfig& db, int64_t current,
                 bool paused) {
  const config::PoolSettings s = cfg.pool_settings_for(db);
  return {name,
          db.host,
          num(db.port),
          null_if_empty(db.dbname),
          null_if_empty(db.user),
          num(s.pool_size),
          num(s.min_pool_size),
          num(s.reserve_pool_size),
          config::to_string(s.pool_mode),
          num(s.max_db_connections),
          num(current),
          num(paused ? 1 : 0),
          num(0),
          breaker_state(ctx, db)};
}

}  // namespace

void show_databases(server::ProxyContext& ctx, std::string& out) {
  const auto cfg = ctx.config();
  const auto states = database_states(ctx);
  std::vector<Row> rows;
  for (const auto& [name, db] : cfg->databases) {
    auto it = states.find(name);
    const bool known = it != states.end();
    config::DatabaseConfig shown = db;
    if (shown.dbname.empty()) shown.dbname = name;
    rows.push_back(database_row(ctx, name, *cfg, shown, known ? it->second->total.load() : 0,
                                known && it->second->paused.load()));
  }
  if (cfg->default_server) {
    // "*" stands for every database name passed through to the default server.
    int64_t current = 0;
    bool paused = false;
    for (const auto& [name, state] : states) {
      if (cfg->databases.count(name) || is_admin_database(name)) continue;
      current += state->total.load();
      paused = paused || state->paused.load();
    }
    config::DatabaseConfig shown = *cfg->default_server;
    shown.dbname.clear();  // the client's database name is used as is
    rows.push_back(database_row(ctx, "*", *cfg, shown, current, paused));
  }
  const std::string admin(kAdminDatabase);
  rows.push_back({admin, std::nullopt,
                  cfg->listen.empty() ? std::nullopt : num(cfg->listen.front().port), admin, admin,
                  num(kAdminPoolSize), num(0), num(0), text(kAdminPoolMode), num(0), num(0), num(0),
                  num(0), std::nullopt});
  append_result(
      out,
      columns("ssissiiisiiiis", {"name", "host", "port", "database", "force_user", "pool_size",
                                 "min_pool_size", "reserve_pool", "pool_mode", "max_connections",
                                 "current_connections", "paused", "disabled", "breaker"}),
      rows);
}

void show_stats(server::ProxyContext& ctx, std::string& out) {
  const auto cfg = ctx.config();
  std::map<std::string, stats::Totals> per_db;
  for (const auto& [name, db] : cfg->databases) per_db[name];
  per_db[std::string(kAdminDatabase)];
  for (const auto& p : ctx.pools.all()) {
    const stats::Totals t = p->stats().totals();
    per_db[p->database()] += t;
  }
  // Rates are per second since start; PgBouncer uses its last stats_period instead.
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now() - ctx.started);
  const uint64_t secs = static_cast<uint64_t>(std::max<int64_t>(1, uptime.count()));
  auto per = [](uint64_t total, uint64_t n) {
    return num(n ? static_cast<int64_t>(total / n) : 0);
  };
  auto u = [](uint64_t v) { return num(static_cast<int64_t>(v)); };

  std::vector<Row> rows;
  for (const auto& [name, t] : per_db) {
    // avg_*_time are per transaction/query; a transaction waits at most once for a server.
    rows.push_back({name, u(t.xact_count), u(t.query_count), u(t.bytes_received), u(t.bytes_sent),
                    u(t.xact_time_us), u(t.query_time_us), u(t.wait_time_us),
                    per(t.xact_count, secs), per(t.query_count, secs), per(t.bytes_received, secs),
                    per(t.bytes_sent, secs), per(t.xact_time_us, t.xact_count),
                    per(t.query_time_us, t.query_count), per(t.wait_time_us, t.xact_count)});
  }
  append_result(out,
                columns("siiiiiiiiiiiiii",
                        {"database", "total_xact_count", "total_query_count", "total_received",
                         "total_sent", "total_xact_time", "total_query_time", "total_wait_time",
                         "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent",
                         "avg_xact_time", "avg_query_time", "avg_wait_time"}),
                rows);
}

namespace {

// Durations in the config file's own syntax, so a value can be pasted back.
std::string duration(config::Millis d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0";
  if (ms % 3600000 == 0) return fmt::format("{}h", ms / 3600000);
  if (ms % 60000 == 0) return fmt::format("{}m", ms / 60000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::string boolean(bool b) { return b ? "true" : "false"; }

std::string listen(const std::vector<config::HostPort>& l) {
  std::string out;
  for (const auto& hp : l) {
    if (!out.empty()) out += ", ";
    const bool v6 = hp.host.find(':') != std::string::npos;
    out += v6 ? fmt::format("[{}]:{}", hp.host, hp.port) : fmt::format("{}:{}", hp.host, hp.port);
  }
  return out;
}

// The default server as a URL without its password (SHOW output must not leak secrets).
std::string server_url(const std::optional<config::DatabaseConfig>& db) {
  if (!db) return "";
  const std::string user = db->user.empty() ? "" : db->user + "@";
  return fmt::format("postgres://{}{}:{}/{}", user, db->host, db->port, db->dbname);
}

// One row per setting. Keys are the TOML keys; [auth] keys and [admin] users get
// PgBouncer's names (auth_type, auth_file, admin_users, ...). `changeable` says whether
// RELOAD applies a new value; listen sockets, worker threads and the server-side CA are
// set up once at start.
struct Setting {
  std::string_view key;
  std::string (*value)(const config::Config&);
  bool changeable;
};

using C = const config::Config&;
constexpr Setting kSettings[] = {
    {"listen", [](C c) { return listen(c.listen); }, false},
    {"workers", [](C c) { return std::to_string(c.workers); }, false},
    {"io_backend", [](C c) { return config::to_string(c.io_backend); }, false},
    {"shutdown_timeout", [](C c) { return duration(c.shutdown_timeout); }, true},
    {"takeover_socket", [](C c) { return c.takeover_socket_path(); }, false},
    {"unix_socket_dir", [](C c) { return c.unix_socket_dir; }, false},
    {"unix_socket_mode", [](C c) { return fmt::format("{:04o}", c.unix_socket_mode); }, false},
    {"unix_socket_group", [](C c) { return c.unix_socket_group; }, false},
    {"max_client_conn", [](C c) { return std::to_string(c.max_client_conn); }, true},
    {"max_message_size", [](C c) { return std::to_string(c.max_message_size); }, true},
    {"tcp_defer_accept", [](C c) { return boolean(c.tcp_defer_accept); }, false},
    {"log_level", [](C c) { return c.log_level; }, true},
    {"default_server", [](C c) { return server_url(c.default_server); }, true},
    {"pool_mode", [](C c) { return config::to_string(c.pool.pool_mode); }, true},
    {"pool_size", [](C c) { return std::to_string(c.pool.pool_size); }, true},
    {"min_pool_size", [](C c) { return std::to_string(c.pool.min_pool_size); }, true},
    {"reserve_pool_size", [](C c) { return std::to_string(c.pool.reserve_pool_size); }, true},
    {"reserve_pool_timeout", [](C c) { return duration(c.pool.reserve_pool_timeout); }, true},
    {"max_db_connections", [](C c) { return std::to_string(c.pool.max_db_connections); }, true},
    {"query_wait_timeout", [](C c) { return duration(c.query_wait_timeout); }, true},
    {"server_connect_timeout", [](C c) { return duration(c.server_connect_timeout); }, true},
    {"server_idle_timeout", [](C c) { return duration(c.server_idle_timeout); }, true},
    {"server_lifetime", [](C c) { return duration(c.server_lifetime); }, true},
    {"client_idle_timeout", [](C c) { return duration(c.client_idle_timeout); }, true},
    {"idle_transaction_timeout", [](C c) { return duration(c.idle_transaction_timeout); }, true},
    {"query_timeout", [](C c) { return duration(c.query_timeout); }, true},
    {"client_login_timeout", [](C c) { return duration(c.client_login_timeout); }, true},
    {"server_reset_query", [](C c) { return c.server_reset_query; }, true},
    {"server_reset_query_always", [](C c) { return boolean(c.server_reset_query_always); }, true},
    {"server_check_query", [](C c) { return c.server_check_query; }, true},
    {"server_check_delay", [](C c) { return duration(c.server_check_delay); }, true},
    {"connect_retry_base", [](C c) { return duration(c.connect_retry_base); }, true},
    {"connect_retry_max", [](C c) { return duration(c.connect_retry_max); }, true},
    {"breaker_failures", [](C c) { return std::to_string(c.breaker_failures); }, true},
    {"breaker_open_time", [](C c) { return duration(c.breaker_open_time); }, true},
    {"breaker_fail_fast", [](C c) { return boolean(c.breaker_fail_fast); }, true},
    {"max_prepared_statements", [](C c) { return std::to_string(c.max_prepared_statements); },
     true},
    {"auth_type", [](C c) { return config::to_string(c.auth.type); }, true},
    {"auth_file", [](C c) { return c.auth.auth_file; }, true},
    {"auth_query", [](C c) { return c.auth.auth_query; }, true},
    {"auth_user", [](C c) { return c.auth.auth_user; }, true},
    {"auth_failure_delay", [](C c) { return duration(c.auth.failure_delay); }, true},
    {"auth_failure_delay_max", [](C c) { return duration(c.auth.failure_delay_max); }, true},
    {"auth_failure_forget_after", [](C c) { return duration(c.auth.failure_forget_after); }, true},
    {"client_cert", [](C c) { return c.client_tls.cert_file; }, true},
    {"client_key", [](C c) { return c.client_tls.key_file; }, true},
    {"client_ca", [](C c) { return c.client_tls.ca_file; }, true},
    {"client_require", [](C c) { return boolean(c.client_tls.require); }, true},
    {"server_sslmode", [](C c) { return config::to_string(c.server_tls.sslmode); }, true},
    {"server_ca", [](C c) { return c.server_tls.ca_file; }, false},
    {"admin_users", [](C c) { return fmt::format("{}", fmt::join(c.admin_users, ", ")); }, true},
    {"stats_users", [](C c) { return fmt::format("{}", fmt::join(c.stats_users, ", ")); }, true},
    {"admin_listen", [](C c) { return c.admin_listen ? listen({*c.admin_listen}) : std::string(); },
     false},
    // Never shown: whether one is set is all a reader needs.
    {"admin_token", [](C c) { return std::string(c.admin_token.empty() ? "" : "(set)"); }, true},
    {"query_stats", [](C c) { return boolean(c.query_stats); }, true},
    {"query_stats_max", [](C c) { return std::to_string(c.query_stats_max); }, false},
    {"slow_query_threshold", [](C c) { return duration(c.slow_query_threshold); }, true},
    {"slow_query_log", [](C c) { return c.slow_query_log; }, true},
    {"log_parameters", [](C c) { return boolean(c.log_parameters); }, true},
};

}  // namespace

std::vector<SettingValue> settings_of(const config::Config& cfg) {
  const config::Config defaults;
  std::vector<SettingValue> out;
  for (const Setting& s : kSettings) {
    out.push_back({std::string(s.key), s.value(cfg), s.value(defaults), s.changeable});
  }
  return out;
}

void show_config(server::ProxyContext& ctx, std::string& out) {
  std::vector<Row> rows;
  for (const SettingValue& s : settings_of(*ctx.config())) {
    rows.push_back({s.key, s.value, s.default_value, s.changeable ? "yes" : "no"});
  }
  append_result(out, columns("ssss", {"key", "value", "default", "changeable"}), rows);
}

}  // namespace sluice::admin
