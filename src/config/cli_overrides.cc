// `sluice serve` flags: registration and merging over the config file.
#include "config/cli_overrides.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <vector>

#include "config/load.h"
#include "config/postgres_url.h"

namespace sluice::config {
namespace {

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

[[noreturn]] void bad_flag(std::string_view flag, std::string_view value_repr,
                           std::string_view allowed, std::string_view reason = {}) {
  throw ConfigError(invalid_value_message(flag, value_repr, allowed, reason));
}

template <typename E>
E flag_choice(std::string_view flag, const std::string& value,
              std::optional<E> (*parse)(std::string_view), std::string_view choices) {
  std::optional<E> e = parse(value);
  if (!e) bad_flag(flag, quote(value), choices);
  return *e;
}

int flag_int(std::string_view flag, int value, IntRange r) {
  if (value < r.lo || value > r.hi) bad_flag(flag, std::to_string(value), range_text(r));
  return value;
}

// Returns whether any flag changed the configuration.
bool apply_overrides(const CliOverrides& o, Config& cfg) {
  if (o.listen) {
    cfg.listen.clear();
    for (const std::string& item : split_list(*o.listen)) {
      std::string reason;
      std::optional<HostPort> hp = parse_listen_address(item, &reason);
      if (!hp) bad_flag("--listen", quote(item), kListenForm, reason);
      cfg.listen.push_back(*hp);
    }
    if (cfg.listen.empty()) bad_flag("--listen", quote(*o.listen), kListenForm);
  }
  if (o.server) {
    std::string reason;
    std::optional<DatabaseConfig> db = try_parse_postgres_url(*o.server, &reason);
    if (!db) bad_flag("--server", quote(redact_postgres_url(*o.server)), kPostgresUrlForm, reason);
    cfg.default_server = std::move(*db);
  }
  if (o.pool_mode) {
    cfg.pool.pool_mode =
        flag_choice("--pool-mode", *o.pool_mode, parse_pool_mode, kPoolModeChoices);
  }
  if (o.pool_size) cfg.pool.pool_size = flag_int("--pool-size", *o.pool_size, kPoolSizeRange);
  if (o.auth_type) {
    cfg.auth.type = flag_choice("--auth-type", *o.auth_type, parse_auth_type, kAuthTypeChoices);
  }
  if (o.auth_file) cfg.auth.auth_file = *o.auth_file;
  if (o.admin_users) cfg.admin_users = split_list(*o.admin_users);
  if (o.workers) cfg.workers = flag_int("--workers", *o.workers, kWorkersRange);
  if (o.io_backend) {
    cfg.io_backend =
        flag_choice("--io-backend", *o.io_backend, parse_io_backend, kIoBackendChoices);
  }
  if (o.admin_listen) {
    std::string reason;
    std::optional<HostPort> hp = parse_listen_address(*o.admin_listen, &reason);
    if (!hp) bad_flag("--admin-listen", quote(*o.admin_listen), kListenForm, reason);
    cfg.admin_listen = *hp;
  }
  if (o.takeover_socket) cfg.takeover_socket = *o.takeover_socket;
  if (o.unix_socket_dir) cfg.unix_socket_dir = *o.unix_socket_dir;
  if (o.log_level) {
    if (!is_valid_log_level(*o.log_level)) {
      bad_flag("--log-level", quote(*o.log_level), kLogLevelChoices);
    }
    cfg.log_level = *o.log_level;
  }
  return o.listen || o.server || o.pool_mode || o.pool_size || o.auth_type || o.auth_file ||
         o.admin_users || o.workers || o.io_backend || o.log_level || o.admin_listen ||
         o.takeover_socket || o.unix_socket_dir;
}

}  // namespace

void add_serve_options(CLI::App& cmd, CliOverrides& o) {
  cmd.add_option("-c,--config", o.config_file,
                 "Configuration file (TOML, see docs/configuration.md); flags below override it")
      ->type_name("FILE");
  cmd.add_option("--listen", o.listen,
                 "Address(es) to accept clients on, comma separated; IPv6 as [::1]:6432 "
                 "(default 127.0.0.1:6432)")
      ->type_name("HOST:PORT");
  cmd.add_option("--server", o.server,
                 "Default PostgreSQL server: client database names pass through to it unless "
                 "the config file maps them in [databases]")
      ->type_name("postgresql://USER[:PASS]@HOST:PORT/DB");
  cmd.add_option("--pool-mode", o.pool_mode,
                 "When a server connection returns to the pool: at client disconnect (session) "
                 "or at transaction end (transaction)")
      ->type_name("session|transaction");
  cmd.add_option("--pool-size", o.pool_size,
                 "Server connections per (database, user) pair (default 20)")
      ->type_name("N");
  cmd.add_option("--auth-type", o.auth_type,
                 "How clients authenticate; md5 and scram-sha-256 need --auth-file or "
                 "auth.query (default trust)")
      ->type_name("trust|md5|scram-sha-256");
  cmd.add_option("--auth-file", o.auth_file,
                 "PgBouncer-style userlist.txt with \"user\" \"secret\" lines")
      ->type_name("FILE");
  cmd.add_option("--admin-users", o.admin_users,
                 "Comma-separated users allowed to use the admin console")
      ->type_name("LIST");
  cmd.add_option("--workers", o.workers,
                 "Worker threads; 0 = one per usable CPU core but one, at least 1 (default 0)")
      ->type_name("N");
  cmd.add_option("--io-backend", o.io_backend,
                 "Kernel interface of the event loops: io_uring, epoll, or auto (io_uring "
                 "where the kernel allows it; default)")
      ->type_name("auto|io_uring|epoll");
  cmd.add_option("--admin-listen", o.admin_listen,
                 "HTTP endpoint for /metrics, /health, /ready and the JSON API /api/v1/ "
                 "(beyond loopback it needs admin.admin_token in the config file)")
      ->type_name("HOST:PORT");
  cmd.add_option("--takeover-socket", o.takeover_socket,
                 "Unix socket a later `sluice serve --takeover` connects to; \"\" = none "
                 "(default /tmp/.s.SLUICE.<first listen port>.takeover)")
      ->type_name("PATH");
  cmd.add_option("--unix-socket-dir", o.unix_socket_dir,
                 "Also accept clients on the Unix-domain socket DIR/.s.PGSQL.<first listen "
                 "port> (psql -h DIR); \"\" = none (default none; PgBouncer's is /tmp)")
      ->type_name("DIR");
  cmd.add_option("--log-level", o.log_level, "trace, debug, info, warn or error (default info)")
      ->type_name("LEVEL");
}

Config build_config(const CliOverrides& o) {
  Config cfg = o.config_file.empty() ? Config{} : load_config_file(o.config_file);
  bool changed = apply_overrides(o, cfg);
  if (!cfg.default_server && cfg.databases.empty()) {
    if (o.config_file.empty()) {
      throw ConfigError(fmt::format(
          "no PostgreSQL server configured: pass --server {} (client database names pass "
          "through), or -c FILE with [databases.NAME] entries",
          "postgresql://USER[:PASS]@HOST:PORT/DB"));
    }
    throw ConfigError(
        fmt::format("{}: no PostgreSQL server configured: add [databases.NAME] entries or "
                    "server.default_server, or pass --server postgresql://USER[:PASS]@HOST:PORT/DB",
                    o.config_file));
  }
  // The file alone was valid; a new error comes from combining it with the flags.
  if (changed) validate_config(cfg, "");
  return cfg;
}

}  // namespace sluice::config
