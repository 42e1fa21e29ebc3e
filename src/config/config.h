// Sluice configuration model: plain structs with defaults (every default here is
// documented in docs/configuration.md). Parsing and validation live in
// config/load.{h,cc}; command-line overrides in config/cli_overrides.{h,cc}.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

using Millis = std::chrono::milliseconds;

enum class PoolMode { kSession, kTransaction };
// The event loops' kernel interface (server/io_backend.h); auto = io_uring when allowed.
enum class IoBackend { kAuto, kIoUring, kEpoll };
enum class AuthType { kTrust, kMd5, kScramSha256 };
// libpq's sslmode values that make sense for a proxy's server side.
enum class ServerSslMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };

struct HostPort {
  std::string host = "127.0.0.1";
  uint16_t port = 6432;
};

// Settings that can be given globally and overridden per database.
struct PoolSettings {
  PoolMode pool_mode = PoolMode::kSession;
  int pool_size = 20;         // server connections per (database, user)
  int min_pool_size = 0;      // opened ahead and kept open
  int reserve_pool_size = 0;  // extra connections after reserve_pool_timeout
  Millis reserve_pool_timeout{5000};
  int max_db_connections = 0;  // 0 = unlimited, across all users of a database
};

// A backend PostgreSQL server that client database names map to.
struct DatabaseConfig {
  std::string name;  // the name clients connect to
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
  std::string dbname;  // on the server; empty = same as name
  std::string user;    // forced server user; empty = the client's user
  std::string password;
  std::optional<PoolMode> pool_mode;
  std::optional<int> pool_size;
  std::optional<int> min_pool_size;
  std::optional<int> reserve_pool_size;
  std::optional<int> max_db_connections;
  // From a URL's ?sslmode=; unset = tls.server_sslmode (see Config::sslmode_for).
  std::optional<ServerSslMode> sslmode;
};

// A priority class (docs/operations.md#priority-classes). Clients are classed once, at
// login; the classes of a database share its server-connection budget.
struct ClassConfig {
  std::string name;
  int priority = 0;             // higher is served first
  int min_connections = 0;      // held back for this class: other classes cannot take it
  int max_waiting_clients = 0;  // past it, requests get 53300 at once; 0 = unlimited
  // Match rules: a class matches when every non-empty list contains the client's value
  // (application_names entries may end in '*', a prefix match).
  std::vector<std::string> users;
  std::vector<std::string> databases;
  std::vector<std::string> application_names;
};

struct TlsClientSide {
  std::string cert_file;  // empty = TLS to clients disabled (SSLRequest answered 'N')
  std::string key_file;
  std::string ca_file;
  bool require = false;  // refuse clients that do not ask for TLS
};

struct TlsServerSide {
  ServerSslMode sslmode = ServerSslMode::kPrefer;
  std::string ca_file;  // for verify-ca / verify-full
};

struct AuthConfig {
  AuthType type = AuthType::kTrust;
  std::string auth_file;   // PgBouncer userlist.txt format
  std::string auth_query;  // empty = disabled
  std::string auth_user;   // user that runs auth_query (needs password in auth_file or server URL)
  // Repeated failed password logins from one client address (session/auth_failures.h):
  // the second waits failure_delay before its error, each further one twice as long, up
  // to failure_delay_max; forgotten after a success or failure_forget_after without a
  // failure. failure_delay 0 = off.
  Millis failure_delay{100};
  Millis failure_delay_max{5000};
  Millis failure_forget_after{60000};
};

struct Config {
  // [server]
  std::vector<HostPort> listen{HostPort{}};
  int workers = 0;  // 0 = usable cores - 1, at least 1 (server/worker_count.h)
  IoBackend io_backend = IoBackend::kAuto;
  // On SIGTERM/SIGINT: stop accepting, let leased connections (transactions under way)
  // finish for at most this long, then close everything. 0 = close at once.
  Millis shutdown_timeout{10000};
  // Unix socket through which `sluice serve --takeover` takes the listening sockets over
  // (docs/operations.md). Unset = default_takeover_socket(first listen port); "" = off.
  std::optional<std::string> takeover_socket;
  // Directory of a Unix-domain socket that clients may connect through besides the TCP
  // addresses: DIR/.s.PGSQL.<first listen port>, the name libpq looks for with host=DIR
  // (PgBouncer's unix_socket_dir, whose default is /tmp). "" = none.
  std::string unix_socket_dir;
  int unix_socket_mode = 0777;  // permissions of that socket file (PgBouncer's default)
  // Group owning that socket file, by name or number; "" = the process's (as PgBouncer's).
  std::string unix_socket_group;
  int max_client_conn = 10000;
  // The kernel hands a connection to the proxy only once its first packet has arrived
  // (TCP_DEFER_ACCEPT, as PgBouncer's tcp_defer_accept): connections that never send cost
  // the proxy nothing, and the first packet is read as the connection is accepted.
  bool tcp_defer_accept = true;
  size_t max_message_size = size_t{64} * 1024 * 1024;  // bytes; larger messages are refused
  std::string log_level = "info";

  // [pool]
  PoolSettings pool;
  Millis query_wait_timeout{120000};
  Millis server_connect_timeout{15000};
  Millis server_idle_timeout{600000};
  Millis server_lifetime{3600000};
  Millis client_idle_timeout{0};       // 0 = disabled
  Millis idle_transaction_timeout{0};  // 0 = disabled
  Millis query_timeout{0};             // 0 = disabled
  Millis client_login_timeout{60000};
  std::string server_reset_query = "DISCARD ALL";
  bool server_reset_query_always = false;
  // Run on an idle server connection before reuse once it has been idle server_check_delay
  // (and on connections suspected stale after a server failure); "" = a non-blocking
  // liveness peek for idle ones and an empty query for suspects.
  std::string server_check_query;
  // Protocol-level prepared statements kept per server connection in transaction mode
  // (least recently used are closed); 0 = relay them untouched (they then only work in
  // session mode).
  int max_prepared_statements = 200;
  Millis server_check_delay{30000};
  // Failed server connection attempts are retried after a random delay in
  // [0, min(connect_retry_max, connect_retry_base * 2^(failures - 1))] (full jitter).
  Millis connect_retry_base{100};
  Millis connect_retry_max{5000};
  // Circuit breaker per server host:port: open after this many consecutive failed attempts
  // (0 = no breaker), probe again after breaker_open_time; while open, waiting clients fail
  // at once when breaker_fail_fast, else they keep waiting up to query_wait_timeout.
  int breaker_failures = 5;
  Millis breaker_open_time{5000};
  bool breaker_fail_fast = true;
  // Priority classes: a waiting client's priority rises by one per class_aging waited, so
  // no class starves (0 = no aging).
  Millis class_aging{5000};

  // [auth]
  AuthConfig auth;

  // [tls]
  TlsClientSide client_tls;
  TlsServerSide server_tls;

  // [admin]
  std::vector<std::string> admin_users;
  std::vector<std::string> stats_users;
  // HTTP endpoint for /metrics, /health, /ready and /api/v1/ (docs/observability.md);
  // unset = off. Beyond loopback, admin_token is required.
  std::optional<HostPort> admin_listen;
  std::string admin_token;  // bearer token; required from non-loopback peers

  // [stats]
  bool query_stats = true;         // per-fingerprint query statistics
  int query_stats_max = 5000;      // fingerprint entries kept, across all workers
  Millis slow_query_threshold{0};  // 0 = no slow-query log
  std::string slow_query_log;      // JSON lines file; empty = only /api/v1/slow_queries
  bool log_parameters = false;     // Bind parameters in the slow-query log

  // Default backend for database names not listed in [databases.*]
  // (set by --server or [server] default_server). Its name field is unused.
  std::optional<DatabaseConfig> default_server;
  std::map<std::string, DatabaseConfig> databases;
  // [classes.NAME]; empty = no classes (one FIFO queue per pool). When any class is
  // configured, the built-in ones (admin, high, normal, low) exist too.
  std::map<std::string, ClassConfig> classes;

  // Where the config was loaded from ("" when flags only): RELOAD re-reads it.
  std::string source_path;

  // Resolves a client's database name to a backend, or nullopt when unknown.
  std::optional<DatabaseConfig> resolve_database(const std::string& client_db) const;
  // Effective pool settings for a database (global merged with per-database).
  PoolSettings pool_settings_for(const DatabaseConfig& db) const;
  // Effective server-side sslmode for a database (per-database URL setting wins).
  ServerSslMode sslmode_for(const DatabaseConfig& db) const;
  // The takeover control socket in effect: takeover_socket, or the default for the first
  // listen address; "" = off.
  std::string takeover_socket_path() const;
  // The client socket in effect: DIR/.s.PGSQL.PORT for unix_socket_dir and the first listen
  // port; "" = none.
  std::string unix_socket_path() const;
};

// "/tmp/.s.SLUICE.<port>.takeover", after PostgreSQL's "/tmp/.s.PGSQL.<port>".
std::string default_takeover_socket(uint16_t port);

std::string to_string(PoolMode mode);
std::string to_string(AuthType type);
std::string to_string(ServerSslMode mode);
std::string to_string(IoBackend backend);

// Inverse of to_string(); nullopt for anything else (names are case-sensitive).
std::optional<PoolMode> parse_pool_mode(std::string_view s);
std::optional<AuthType> parse_auth_type(std::string_view s);
std::optional<ServerSslMode> parse_server_sslmode(std::string_view s);
std::optional<IoBackend> parse_io_backend(std::string_view s);
// trace, debug, info, warn, error.
bool is_valid_log_level(std::string_view s);

}  // namespace sluice::config
