// Command-line options of `sluice serve` that load or override the configuration.
// Flags win over the file; see docs/configuration.md ("Command line").
#pragma once

#include <optional>
#include <string>

#include "config/config.h"

namespace CLI {
class App;
}

namespace sluice::config {

struct CliOverrides {
  std::string config_file;               // -c/--config; empty = no file, defaults + flags only
  std::optional<std::string> listen;     // "HOST:PORT" or a comma-separated list
  std::optional<std::string> server;     // postgresql:// URL -> Config::default_server
  std::optional<std::string> pool_mode;  // session | transaction
  std::optional<std::string> auth_type;  // trust | md5 | scram-sha-256
  std::optional<std::string> auth_file;
  std::optional<std::string> admin_users;  // comma separated
  std::optional<std::string> log_level;
  std::optional<std::string> io_backend;       // auto | io_uring | epoll
  std::optional<std::string> admin_listen;     // HOST:PORT of the HTTP API
  std::optional<std::string> takeover_socket;  // path; "" = none
  std::optional<std::string> unix_socket_dir;  // directory; "" = none
  std::optional<int> pool_size;
  std::optional<int> workers;
};

// Registers -c/--config, --listen, --server, --pool-mode, --pool-size, --auth-type,
// --auth-file, --admin-users, --workers, --io-backend, --admin-listen, --takeover-socket,
// --unix-socket-dir and --log-level on `cmd`. Values are checked
// by build_config (not by CLI11) so that errors read like the config file's.
void add_serve_options(CLI::App& cmd, CliOverrides& o);

// Loads o.config_file if given (else starts from defaults), applies the flags, and
// validates. Throws ConfigError with a one-line message, including when no backend
// is configured at all (no --server, no server.default_server, no [databases]).
Config build_config(const CliOverrides& o);

}  // namespace sluice::config
