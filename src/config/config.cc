// Behaviour of the configuration model: database resolution, per-database pool
// settings, the enum <-> string names used in sluice.toml and on the command line,
// and validate_config (declared in load.h) with the message helpers it shares.
#include "config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

#include "common/group_id.h"
#include "common/socket_path.h"
#include "config/load.h"
#include "config/priority_classes.h"

namespace sluice::config {
namespace {

// One table per enum so that to_string and parse_* cannot drift apart.
constexpr std::array<std::pair<PoolMode, std::string_view>, 2> kPoolModes{{
    {PoolMode::kSession, "session"},
    {PoolMode::kTransaction, "transaction"},
}};
constexpr std::array<std::pair<IoBackend, std::string_view>, 3> kIoBackends{{
    {IoBackend::kAuto, "auto"},
    {IoBackend::kIoUring, "io_uring"},
    {IoBackend::kEpoll, "epoll"},
}};
constexpr std::array<std::pair<AuthType, std::string_view>, 3> kAuthTypes{{
    {AuthType::kTrust, "trust"},
    {AuthType::kMd5, "md5"},
    {AuthType::kScramSha256, "scram-sha-256"},
}};
constexpr std::array<std::pair<ServerSslMode, std::string_view>, 5> kSslModes{{
    {ServerSslMode::kDisable, "disable"},
    {ServerSslMode::kPrefer, "prefer"},
    {ServerSslMode::kRequire, "require"},
    {ServerSslMode::kVerifyCa, "verify-ca"},
    {ServerSslMode::kVerifyFull, "verify-full"},
}};
constexpr std::array<std::string_view, 5> kLogLevels{"trace", "debug", "info", "warn", "error"};

template <typename E, size_t N>
std::string name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return std::string(name);
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& table,
                          std::string_view s) {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

}  // namespace

std::optional<DatabaseConfig> Config::resolve_database(const std::string& client_db) const {
  if (auto it = databases.find(client_db); it != databases.end()) {
    DatabaseConfig db = it->second;
    db.name = client_db;
    if (db.dbname.empty()) db.dbname = client_db;
    return db;
  }
  if (default_server) {
    // Pass-through: the client's database name is used on the default server as is.
    DatabaseConfig db = *default_server;
    db.name = client_db;
    db.dbname = client_db;
    return db;
  }
  return std::nullopt;
}

PoolSettings Config::pool_settings_for(const DatabaseConfig& db) const {
  PoolSettings s = pool;
  if (db.pool_mode) s.pool_mode = *db.pool_mode;
  if (db.pool_size) s.pool_size = *db.pool_size;
  if (db.min_pool_size) s.min_pool_size = *db.min_pool_size;
  if (db.reserve_pool_size) s.reserve_pool_size = *db.reserve_pool_size;
  if (db.max_db_connections) s.max_db_connections = *db.max_db_connections;
  return s;
}

ServerSslMode Config::sslmode_for(const DatabaseConfig& db) const {
  return db.sslmode.value_or(server_tls.sslmode);
}

std::string Config::takeover_socket_path() const {
  if (takeover_socket) return *takeover_socket;
  return listen.empty() ? std::string() : default_takeover_socket(listen.front().port);
}

std::string Config::unix_socket_path() const {
  if (unix_socket_dir.empty() || listen.empty()) return {};
  return postgres_socket_path(unix_socket_dir, listen.front().port);
}

std::string default_takeover_socket(uint16_t port) {
  return fmt::format("/tmp/.s.SLUICE.{}.takeover", port);
}

std::string to_string(PoolMode mode) { return name_of(kPoolModes, mode); }
std::string to_string(AuthType type) { return name_of(kAuthTypes, type); }
std::string to_string(ServerSslMode mode) { return name_of(kSslModes, mode); }
std::string to_string(IoBackend backend) { return name_of(kIoBackends, backend); }

std::optional<PoolMode> parse_pool_mode(std::string_view s) { return value_of(kPoolModes, s); }
std::optional<AuthType> parse_auth_type(std::string_view s) { return value_of(kAuthTypes, s); }
std::optional<IoBackend> parse_io_backend(std::string_view s) { return value_of(kIoBackends, s); }
std::optional<ServerSslMode> parse_server_sslmode(std::string_view s) {
  return value_of(kSslModes, s);
}

bool is_valid_log_level(std::string_view s) {
  for (std::string_view level : kLogLevels) {
    if (level == s) return true;
  }
  return false;
}

std::optional<HostPort> parse_listen_address(std::string_view s, std::string* reason) {
  auto bad = [reason](std::string_view why) {
    if (reason != nullptr) *reason = std::string(why);
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port;
  if (s.starts_with('[')) {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return bad("missing ']' after IPv6 address");
    host = s.substr(1, close - 1);
    if (s.substr(close + 1, 1) != ":") return bad("missing :PORT");
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :PORT");
    host = s.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return bad("IPv6 addresses need brackets, e.g. [::1]:6432");
    }
    port = s.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host; use 0.0.0.0 or [::] for all interfaces");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
      value > 65535) {
    return bad("port must be 1..65535");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

int64_t parse_duration_ms(std::string_view s) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (end == s.data() || ec != std::errc() || n < 0) return -1;
  std::string_view unit(end, s.data() + s.size() - end);
  int64_t scale = unit == "ms"  ? 1
                  : unit == "s" ? 1000
                  : unit == "m" ? 60000
                  : unit == "h" ? 3600000
                                : 0;
  if (scale == 0 || n > kMaxDurationMs / scale) return -1;
  return n * scale;
}

std::string duration_allowed(bool zero_ok) {
  return fmt::format(
      "{} as integer seconds or a string with a unit: \"250ms\", \"30s\", \"5m\", \"1h\" "
      "(at most 8760h)",
      zero_ok ? "0 or more" : "more than 0");
}

std::string invalid_value_message(std::string_view key, std::string_view value_repr,
                                  std::string_view allowed, std::string_view reason) {
  return fmt::format("{} = {} is not valid{}{}{}; allowed: {}", key, value_repr,
                     reason.empty() ? "" : " (", reason, reason.empty() ? "" : ")", allowed);
}

std::string range_text(IntRange r) { return fmt::format("{}..{}", r.lo, r.hi); }

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string database_key(std::string_view name, std::string_view field) {
  bool bare = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  std::string key = fmt::format("databases.{}", bare ? std::string(name) : quote(name));
  if (!field.empty()) key += fmt::format(".{}", field);
  return key;
}

namespace {

std::string format_ms(Millis d) {
  return d.count() % 1000 == 0 ? fmt::format("{}s", d.count() / 1000)
                               : fmt::format("{}ms", d.count());
}

bool needs_ca(ServerSslMode m) {
  return m == ServerSslMode::kVerifyCa || m == ServerSslMode::kVerifyFull;
}

class Checker {
 public:
  Checker(const Config& cfg, std::string_view source)
      : cfg_(cfg), prefix_(source.empty() ? std::string() : fmt::format("{}: ", source)) {}

  void run() const {
    check_server();
    check_pool(cfg_.pool, "pool.", std::nullopt);
    check_auth_and_tls();
    check_admin_listen();
    for (const auto& [name, db] : cfg_.databases) check_database(name, db);
    check_classes();
  }

 private:
  [[noreturn]] void fail(std::string_view msg) const {
    throw ConfigError(prefix_ + std::string(msg));
  }
  void in_range(const std::string& key, int64_t v, IntRange r) const {
    if (v < r.lo || v > r.hi) fail(invalid_value_message(key, std::to_string(v), range_text(r)));
  }
  void duration(const std::string& key, Millis d, bool zero_ok) const {
    if (d.count() < 0 || d.count() > kMaxDurationMs || (d.count() == 0 && !zero_ok)) {
      fail(invalid_value_message(key, quote(format_ms(d)), duration_allowed(zero_ok)));
    }
  }
  // A backoff's cap must not be below its base (keys are "section.name").
  void cap_not_below_base(std::string_view cap_key, Millis cap, std::string_view base_key,
                          Millis base) const {
    if (cap >= base) return;
    const auto name = [](std::string_view key) { return key.substr(key.find('.') + 1); };
    fail(fmt::format("{} = {}ms is less than {} = {}ms; allowed: {} >= {}", cap_key, cap.count(),
                     base_key, base.count(), name(cap_key), name(base_key)));
  }
  // A socket path longer than sockaddr_un holds (107 bytes) could never be bound or
  // connected to. `what`: "server" or "client".
  void unix_socket_fits(const std::string& key, std::string_view what,
                        const std::string& path) const {
    if (path.size() <= kMaxUnixSocketPath) return;
    fail(
        fmt::format("{}: the {} socket path {} is {} bytes long; the longest a Unix-domain "
                    "socket path may be is {}: use a shorter directory",
                    key, what, quote(path), path.size(), kMaxUnixSocketPath));
  }
  void backend(const std::string& key, const DatabaseConfig& db) const {
    if (db.host.empty()) fail(fmt::format("{}: the host must not be empty", key));
    if (db.port == 0) fail(invalid_value_message(key + " port", "0", range_text(kPortRange)));
    if (db.host.starts_with('/')) {
      unix_socket_fits(key, "server", postgres_socket_path(db.host, db.port));
    }
    if (db.sslmode && needs_ca(*db.sslmode) && cfg_.server_tls.ca_file.empty()) {
      fail(
          fmt::format("{} sets sslmode={}, which needs tls.server_ca (the CA file that signed "
                      "the server certificate)",
                      key, to_string(*db.sslmode)));
    }
  }

  // The HTTP API can pause pools and read statistics: beyond loopback it needs a token.
  void check_admin_listen() const {
    if (!cfg_.admin_listen) return;
    const HostPort& hp = *cfg_.admin_listen;
    if (hp.host.empty() || hp.port == 0) {
      fail(invalid_value_message("admin.admin_listen",
                                 quote(fmt::format("{}:{}", hp.host, hp.port)), kListenForm));
    }
    if (!is_loopback_host(hp.host) && cfg_.admin_token.empty()) {
      fail(fmt::format(
          "admin.admin_listen = \"{}:{}\" listens beyond loopback and needs admin.admin_token "
          "(a bearer token HTTP clients send as \"Authorization: Bearer TOKEN\")",
          hp.host, hp.port));
    }
  }

  void check_server() const {
    if (cfg_.listen.empty()) {
      fail(R"(server.listen is empty; allowed: "HOST:PORT" or a non-empty array of them)");
    }
    for (const HostPort& hp : cfg_.listen) {
      if (hp.host.empty() || hp.port == 0) {
        fail(invalid_value_message("server.listen", quote(fmt::format("{}:{}", hp.host, hp.port)),
                                   kListenForm));
      }
    }
    in_range("server.workers", cfg_.workers, kWorkersRange);
    in_range("server.max_client_conn", cfg_.max_client_conn, kMaxClientConnRange);
    if (cfg_.max_message_size < static_cast<size_t>(kMaxMessageSizeRange.lo) ||
        cfg_.max_message_size > static_cast<size_t>(kMaxMessageSizeRange.hi)) {
      fail(invalid_value_message("server.max_message_size", std::to_string(cfg_.max_message_size),
                                 range_text(kMaxMessageSizeRange)));
    }
    if (!is_valid_log_level(cfg_.log_level)) {
      fail(invalid_value_message("server.log_level", quote(cfg_.log_level), kLogLevelChoices));
    }
    if (cfg_.default_server) backend("server.default_server", *cfg_.default_server);
    if (cfg_.takeover_socket) check_takeover_socket(*cfg_.takeover_socket);
    check_unix_socket();

    duration("pool.reserve_pool_timeout", cfg_.pool.reserve_pool_timeout, true);
    duration("pool.query_wait_timeout", cfg_.query_wait_timeout, false);
    duration("pool.server_connect_timeout", cfg_.server_connect_timeout, false);
    duration("server.shutdown_timeout", cfg_.shutdown_timeout, true);
    duration("pool.server_idle_timeout", cfg_.server_idle_timeout, false);
    duration("pool.server_lifetime", cfg_.server_lifetime, false);
    duration("pool.client_idle_timeout", cfg_.client_idle_timeout, true);
    duration("pool.idle_transaction_timeout", cfg_.idle_transaction_timeout, true);
    duration("pool.query_timeout", cfg_.query_timeout, true);
    duration("pool.client_login_timeout", cfg_.client_login_timeout, false);
    duration("pool.server_check_delay", cfg_.server_check_delay, true);
    duration("pool.connect_retry_base", cfg_.connect_retry_base, false);
    duration("pool.connect_retry_max", cfg_.connect_retry_max, false);
    in_range("pool.breaker_failures", cfg_.breaker_failures, kBreakerFailuresRange);
    duration("pool.breaker_open_time", cfg_.breaker_open_time, false);
    cap_not_below_base("pool.connect_retry_max", cfg_.connect_retry_max, "pool.connect_retry_base",
                       cfg_.connect_retry_base);
  }

  // Both processes of a takeover must find the same file, whatever their working
  // directory; the length leaves room for the temporary name it is bound under first.
  void check_takeover_socket(const std::string& path) const {
    if (path.empty()) return;  // off
    if (!path.starts_with('/') || path.size() > kMaxTakeoverSocketPath) {
      fail(invalid_value_message(
          "server.takeover_socket", quote(path),
          fmt::format("an absolute path of at most {} bytes, or \"\" for none",
                      kMaxTakeoverSocketPath)));
    }
  }

  // libpq takes a host for a socket directory only when it starts with '/'.
  void check_unix_socket() const {
    if (cfg_.unix_socket_mode < kUnixSocketModeRange.lo ||
        cfg_.unix_socket_mode > kUnixSocketModeRange.hi) {
      fail(invalid_value_message("server.unix_socket_mode",
                                 fmt::format("{:04o}", cfg_.unix_socket_mode),
                                 kUnixSocketModeForm));
    }
    const std::string& group = cfg_.unix_socket_group;
    if (!group.empty() && !group_id(group)) {
      fail(invalid_value_message("server.unix_socket_group", quote(group),
                                 "a group of this machine (its name or number), or \"\" for "
                                 "the process's own"));
    }
    const std::string& dir = cfg_.unix_socket_dir;
    if (dir.empty()) return;  // off
    if (!dir.starts_with('/')) {
      fail(invalid_value_message("server.unix_socket_dir", quote(dir),
                                 "an absolute directory (clients give it as host), or \"\" "
                                 "for none"));
    }
    unix_socket_fits("server.unix_socket_dir", "listening", cfg_.unix_socket_path());
  }

  // `key_prefix` is "pool." or "databases.NAME."; `overrides` is set for a database.
  void check_pool(const PoolSettings& p, const std::string& key_prefix,
                  const std::optional<DatabaseConfig>& db) const {
    // Only check what this level sets, so an error names the key the user wrote.
    auto sets = [&db](const std::optional<int>& field) { return !db || field.has_value(); };
    if (sets(db ? db->pool_size : std::nullopt)) {
      in_range(key_prefix + "pool_size", p.pool_size, kPoolSizeRange);
    }
    if (sets(db ? db->min_pool_size : std::nullopt)) {
      in_range(key_prefix + "min_pool_size", p.min_pool_size, kMinPoolSizeRange);
    }
    if (sets(db ? db->reserve_pool_size : std::nullopt)) {
      in_range(key_prefix + "reserve_pool_size", p.reserve_pool_size, kReservePoolSizeRange);
    }
    if (sets(db ? db->max_db_connections : std::nullopt)) {
      in_range(key_prefix + "max_db_connections", p.max_db_connections, kMaxDbConnectionsRange);
    }
    if (p.min_pool_size > p.pool_size) {
      bool min_here = !db || db->min_pool_size.has_value();
      fail(
          fmt::format("{}min_pool_size = {} is greater than {}pool_size = {}; allowed: "
                      "min_pool_size <= pool_size",
                      min_here ? key_prefix : "pool.", p.min_pool_size,
                      db && db->pool_size ? key_prefix : "pool.", p.pool_size));
    }
  }

  void check_auth_and_tls() const {
    const AuthConfig& a = cfg_.auth;
    if (a.type != AuthType::kTrust && a.auth_file.empty() && a.auth_query.empty()) {
      fail(
          fmt::format("auth.type = {} needs auth.file (--auth-file) or auth.query to look up "
                      "passwords",
                      quote(to_string(a.type))));
    }
    if (!a.auth_query.empty() && a.auth_user.empty()) {
      fail("auth.query is set but auth.user is not; auth.user is the user that runs auth.query");
    }
    duration("auth.failure_delay", a.failure_delay, true);
    duration("auth.failure_delay_max", a.failure_delay_max, false);
    duration("auth.failure_forget_after", a.failure_forget_after, false);
    cap_not_below_base("auth.failure_delay_max", a.failure_delay_max, "auth.failure_delay",
                       a.failure_delay);
    const TlsClientSide& c = cfg_.client_tls;
    if (c.cert_file.empty() != c.key_file.empty()) {
      fail(c.cert_file.empty() ? "tls.client_key is set but tls.client_cert is not; set both or "
                                 "neither"
                               : "tls.client_cert is set but tls.client_key is not; set both or "
                                 "neither");
    }
    if (c.require && c.cert_file.empty()) {
      fail("tls.client_require = true needs tls.client_cert and tls.client_key");
    }
    if (!c.ca_file.empty() && c.cert_file.empty()) {
      fail(
          "tls.client_ca is set but tls.client_cert is not; client certificates can only be "
          "checked when TLS to clients is enabled");
    }
    if (needs_ca(cfg_.server_tls.sslmode) && cfg_.server_tls.ca_file.empty()) {
      fail(
          fmt::format("tls.server_sslmode = {} needs tls.server_ca (the CA file that signed the "
                      "server certificate)",
                      quote(to_string(cfg_.server_tls.sslmode))));
    }
    for (const auto* list : {&cfg_.admin_users, &cfg_.stats_users}) {
      for (const std::string& user : *list) {
        if (user.empty()) {
          fail(fmt::format("{} contains an empty user name",
                           list == &cfg_.admin_users ? "admin.users" : "admin.stats_users"));
        }
      }
    }
  }

  void check_database(const std::string& name, const DatabaseConfig& db) const {
    if (name.empty()) fail("databases: a database name must not be empty");
    backend(database_key(name, ""), db);
    check_pool(cfg_.pool_settings_for(db), database_key(name, "") + ".", db);
  }

  // Guaranteed shares must fit in every database's budget, or no class could be sure of one.
  void check_classes() const {
    duration("pool.class_aging", cfg_.class_aging, true);
    if (cfg_.classes.empty()) return;
    int reserved = 0;
    for (const auto& [name, c] : cfg_.classes) {
      if (!is_valid_class_name(name)) {
        fail(fmt::format("[classes.{}]: a class name is letters, digits and underscores", name));
      }
      in_range("classes." + name + ".priority", c.priority, kClassPriorityRange);
      in_range("classes." + name + ".min_connections", c.min_connections,
               kClassMinConnectionsRange);
      in_range("classes." + name + ".max_waiting_clients", c.max_waiting_clients,
               kMaxWaitingClientsRange);
      reserved += c.min_connections;
    }
    auto check_budget = [&](const std::string& where, const DatabaseConfig& db) {
      const int budget = class_budget(cfg_, db);
      if (reserved <= budget) return;
      fail(fmt::format(
          "classes: min_connections add up to {} (admin keeps 1 unless set to 0), more than "
          "the {} server connections of {} (max_db_connections, or pool_size when unset); "
          "lower min_connections or raise the budget",
          reserved, budget, where));
    };
    check_budget("[pool]", DatabaseConfig{});
    for (const auto& [name, db] : cfg_.databases) check_budget(database_key(name, ""), db);
  }

  const Config& cfg_;
  std::string prefix_;
};

}  // namespace

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

void validate_config(const Config& cfg, std::string_view source_name) {
  Checker(cfg, source_name).run();
}

void validate_config(const Config& cfg) { validate_config(cfg, cfg.source_path); }

}  // namespace sluice::config
