// sluice.toml -> Config. Each section is a table of named fields with a setter, so
// the accepted keys, the "did you mean" suggestions and the parsing stay in one place.
// Range and cross-field checks run afterwards in validate_config (config.cc).
#include "config/load.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "config/postgres_url.h"
#include "config/priority_classes.h"

namespace sluice::config {
namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest candidate, if it is close enough to be a plausible typo.
std::optional<std::string_view> closest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (std::string_view c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string join(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::string_view item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// A single-line rendering of a TOML value for error messages.
std::string repr(const toml::node& n) {
  std::string out;
  if (const auto* s = n.as_string()) {
    out = quote(s->get());
  } else if (const auto* i = n.as_integer()) {
    out = std::to_string(i->get());
  } else if (const auto* b = n.as_boolean()) {
    out = b->get() ? "true" : "false";
  } else if (const auto* a = n.as_array()) {
    out = "[";
    for (size_t k = 0; k < a->size(); ++k) out += (k ? ", " : "") + repr(*a->get(k));
    out += "]";
  } else if (n.is_table()) {
    out = "{...}";
  } else {
    std::ostringstream os;
    n.visit([&os](const auto& v) { os << v; });
    out = os.str();
  }
  if (out.size() > 80) out = out.substr(0, 77) + "...";
  return out;
}

constexpr std::string_view kSections[] = {"server", "pool",  "auth",      "tls",
                                          "admin",  "stats", "databases", "classes"};

class Loader {
 public:
  explicit Loader(std::string_view source)
      : prefix_(source.empty() ? std::string() : fmt::format("{}: ", source)) {}

  Config load(const toml::table& root);

 private:
  using Setter = std::function<void(const toml::node&, const std::string& key)>;
  struct Field {
    std::string_view name;
    Setter set;
  };

  [[noreturn]] void fail(std::string_view msg) const {
    throw ConfigError(prefix_ + std::string(msg));
  }
  [[noreturn]] void invalid(const std::string& key, const toml::node& v, std::string_view allowed,
                            std::string_view reason = {}) const {
    fail(invalid_value_message(key, repr(v), allowed, reason));
  }

  void apply_fields(const toml::table& t, const std::string& section,
                    const std::vector<Field>& fields) const;
  std::vector<std::string_view> sections_with_key(std::string_view key) const;

  std::string string(const toml::node& v, const std::string& key) const;
  bool boolean(const toml::node& v, const std::string& key) const;
  int64_t integer(const toml::node& v, const std::string& key, IntRange r) const;
  Millis duration(const toml::node& v, const std::string& key, bool zero_ok) const;
  int file_mode(const toml::node& v, const std::string& key) const;
  std::vector<std::string> names(const toml::node& v, const std::string& key) const;
  std::vector<HostPort> listen(const toml::node& v, const std::string& key) const;
  DatabaseConfig url(const toml::node& v, const std::string& key) const;
  template <typename E>
  E choice(const toml::node& v, const std::string& key, std::optional<E> (*parse)(std::string_view),
           std::string_view choices) const {
    std::optional<E> e;
    if (const auto* s = v.as_string()) e = parse(s->get());
    if (!e) invalid(key, v, choices);
    return *e;
  }

  std::vector<Field> server_fields(Config& c) const;
  std::vector<Field> pool_fields(Config& c) const;
  std::vector<Field> auth_fields(Config& c) const;
  std::vector<Field> tls_fields(Config& c) const;
  std::vector<Field> admin_fields(Config& c) const;
  std::vector<Field> stats_fields(Config& c) const;
  std::vector<Field> database_fields(DatabaseConfig& db, std::vector<std::string>& conn_keys,
                                     std::optional<std::string>& url_key) const;
  void load_databases(const toml::table& t, Config& c) const;
  std::vector<Field> class_fields(ClassConfig& cls) const;
  void load_classes(const toml::table& t, Config& c) const;

  std::string prefix_;
};

void Loader::apply_fields(const toml::table& t, const std::string& section,
                          const std::vector<Field>& fields) const {
  for (auto&& [k, v] : t) {
    const std::string_view name = k.str();
    std::string key = fmt::format("{}.{}", section, name);
    auto it = std::find_if(fields.begin(), fields.end(),
                           [name](const Field& f) { return f.name == name; });
    if (it != fields.end()) {
      it->set(v, key);
      continue;
    }
    std::vector<std::string_view> names;
    names.reserve(fields.size());
    for (const Field& f : fields) names.push_back(f.name);
    if (auto guess = closest(k.str(), names)) {
      fail(fmt::format("unknown key {} (did you mean {}.{}?)", key, section, *guess));
    }
    fail(fmt::format("unknown key {}; allowed in [{}]: {}", key, section, join(names)));
  }
}

std::string Loader::string(const toml::node& v, const std::string& key) const {
  const auto* s = v.as_string();
  if (s == nullptr) invalid(key, v, "a string");
  return s->get();
}

bool Loader::boolean(const toml::node& v, const std::string& key) const {
  const auto* b = v.as_boolean();
  if (b == nullptr) invalid(key, v, "true, false");
  return b->get();
}

int64_t Loader::integer(const toml::node& v, const std::string& key, IntRange r) const {
  const auto* i = v.as_integer();
  if (i == nullptr) invalid(key, v, fmt::format("an integer {}", range_text(r)));
  if (i->get() < r.lo || i->get() > r.hi) invalid(key, v, range_text(r));
  return i->get();
}

Millis Loader::duration(const toml::node& v, const std::string& key, bool zero_ok) const {
  std::string allowed = duration_allowed(zero_ok);
  int64_t ms = -1;
  if (const auto* i = v.as_integer()) {
    if (i->get() >= 0 && i->get() <= kMaxDurationMs / 1000) ms = i->get() * 1000;
  } else if (const auto* s = v.as_string()) {
    ms = parse_duration_ms(s->get());
  }
  if (ms < 0 || ms > kMaxDurationMs || (ms == 0 && !zero_ok)) invalid(key, v, allowed);
  return Millis(ms);
}

// "0770" or "770" (as PgBouncer's unix_socket_mode is written), or an integer (0o770).
int Loader::file_mode(const toml::node& v, const std::string& key) const {
  int64_t mode = -1;
  if (const auto* i = v.as_integer()) {
    mode = i->get();
  } else if (const auto* s = v.as_string()) {
    const std::string& text = s->get();
    if (!text.empty() && text.size() <= 4 &&
        std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '7'; })) {
      mode = std::stoll(text, nullptr, 8);
    }
  }
  if (mode < kUnixSocketModeRange.lo || mode > kUnixSocketModeRange.hi) {
    invalid(key, v, kUnixSocketModeForm);
  }
  return static_cast<int>(mode);
}

std::vector<std::string> Loader::names(const toml::node& v, const std::string& key) const {
  constexpr std::string_view kAllowed = R"(an array of non-empty strings, e.g. ["admin"])";
  const auto* a = v.as_array();
  if (a == nullptr) invalid(key, v, kAllowed);
  std::vector<std::string> out;
  for (const toml::node& item : *a) {
    const auto* s = item.as_string();
    if (s == nullptr || s->get().empty()) invalid(key, v, kAllowed);
    out.push_back(s->get());
  }
  return out;
}

std::vector<HostPort> Loader::listen(const toml::node& v, const std::string& key) const {
  constexpr std::string_view allowed =
      R"("HOST:PORT" or a non-empty array of them; IPv6 as "[::1]:6432")";
  std::vector<const toml::node*> items;
  if (const auto* a = v.as_array()) {
    for (const toml::node& item : *a) items.push_back(&item);
  } else {
    items.push_back(&v);
  }
  if (items.empty()) invalid(key, v, allowed);
  std::vector<HostPort> out;
  for (const toml::node* item : items) {
    const auto* s = item->as_string();
    if (s == nullptr) invalid(key, v, allowed);
    std::string reason;
    std::optional<HostPort> hp = parse_listen_address(s->get(), &reason);
    if (!hp) invalid(key, *item, allowed, reason);
    out.push_back(*hp);
  }
  return out;
}

DatabaseConfig Loader::url(const toml::node& v, const std::string& key) const {
  const auto* s = v.as_string();
  if (s == nullptr) invalid(key, v, kPostgresUrlForm);
  std::string reason;
  std::optional<DatabaseConfig> db = try_parse_postgres_url(s->get(), &reason);
  if (!db) {
    fail(
        invalid_value_message(key, quote(redact_postgres_url(s->get())), kPostgresUrlForm, reason));
  }
  return *db;
}

std::vector<Loader::Field> Loader::server_fields(Config& c) const {
  return {
      {"listen", [&](auto& v, auto& k) { c.listen = listen(v, k); }},
      {"workers", [&](auto& v, auto& k) { c.workers = integer(v, k, kWorkersRange); }},
      {"io_backend",
       [&](auto& v, auto& k) { c.io_backend = choice(v, k, parse_io_backend, kIoBackendChoices); }},
      {"max_client_conn",
       [&](auto& v, auto& k) { c.max_client_conn = integer(v, k, kMaxClientConnRange); }},
      {"max_message_size",
       [&](auto& v, auto& k) { c.max_message_size = integer(v, k, kMaxMessageSizeRange); }},
      {"tcp_defer_accept", [&](auto& v, auto& k) { c.tcp_defer_accept = boolean(v, k); }},
      {"log_level",
       [&](auto& v, auto& k) {
         c.log_level = string(v, k);
         if (!is_valid_log_level(c.log_level)) invalid(k, v, kLogLevelChoices);
       }},
      {"default_server", [&](auto& v, auto& k) { c.default_server = url(v, k); }},
      {"shutdown_timeout", [&](auto& v, auto& k) { c.shutdown_timeout = duration(v, k, true); }},
      {"takeover_socket", [&](auto& v, auto& k) { c.takeover_socket = string(v, k); }},
      {"unix_socket_dir", [&](auto& v, auto& k) { c.unix_socket_dir = string(v, k); }},
      {"unix_socket_mode", [&](auto& v, auto& k) { c.unix_socket_mode = file_mode(v, k); }},
      {"unix_socket_group", [&](auto& v, auto& k) { c.unix_socket_group = string(v, k); }},
  };
}

std::vector<Loader::Field> Loader::pool_fields(Config& c) const {
  PoolSettings& p = c.pool;
  auto dur = [this](Millis& out, bool zero_ok) {
    return [this, &out, zero_ok](auto& v, auto& k) { out = duration(v, k, zero_ok); };
  };
  return {
      {"pool_mode",
       [&](auto& v, auto& k) { p.pool_mode = choice(v, k, parse_pool_mode, kPoolModeChoices); }},
      {"pool_size", [&](auto& v, auto& k) { p.pool_size = integer(v, k, kPoolSizeRange); }},
      {"min_pool_size",
       [&](auto& v, auto& k) { p.min_pool_size = integer(v, k, kMinPoolSizeRange); }},
      {"reserve_pool_size",
       [&](auto& v, auto& k) { p.reserve_pool_size = integer(v, k, kReservePoolSizeRange); }},
      {"reserve_pool_timeout", dur(p.reserve_pool_timeout, true)},
      {"max_db_connections",
       [&](auto& v, auto& k) { p.max_db_connections = integer(v, k, kMaxDbConnectionsRange); }},
      {"query_wait_timeout", dur(c.query_wait_timeout, false)},
      {"server_connect_timeout", dur(c.server_connect_timeout, false)},
      {"server_idle_timeout", dur(c.server_idle_timeout, false)},
      {"server_lifetime", dur(c.server_lifetime, false)},
      {"client_idle_timeout", dur(c.client_idle_timeout, true)},
      {"idle_transaction_timeout", dur(c.idle_transaction_timeout, true)},
      {"query_timeout", dur(c.query_timeout, true)},
      {"client_login_timeout", dur(c.client_login_timeout, false)},
      {"server_reset_query", [&](auto& v, auto& k) { c.server_reset_query = string(v, k); }},
      {"server_reset_query_always",
       [&](auto& v, auto& k) { c.server_reset_query_always = boolean(v, k); }},
      {"server_check_query", [&](auto& v, auto& k) { c.server_check_query = string(v, k); }},
      {"server_check_delay", dur(c.server_check_delay, true)},
      {"connect_retry_base", dur(c.connect_retry_base, false)},
      {"connect_retry_max", dur(c.connect_retry_max, false)},
      {"breaker_failures",
       [&](auto& v, auto& k) {
         c.breaker_failures = static_cast<int>(integer(v, k, kBreakerFailuresRange));
       }},
      {"breaker_open_time", dur(c.breaker_open_time, false)},
      {"breaker_fail_fast", [&](auto& v, auto& k) { c.breaker_fail_fast = boolean(v, k); }},
      {"class_aging", dur(c.class_aging, true)},
      {"max_prepared_statements",
       [&](auto& v, auto& k) {
         c.max_prepared_statements = static_cast<int>(integer(v, k, kMaxPreparedStatementsRange));
       }},
  };
}

std::vector<Loader::Field> Loader::auth_fields(Config& c) const {
  return {
      {"type",
       [&](auto& v, auto& k) { c.auth.type = choice(v, k, parse_auth_type, kAuthTypeChoices); }},
      {"file", [&](auto& v, auto& k) { c.auth.auth_file = string(v, k); }},
      {"query", [&](auto& v, auto& k) { c.auth.auth_query = string(v, k); }},
      {"user", [&](auto& v, auto& k) { c.auth.auth_user = string(v, k); }},
      {"failure_delay", [&](auto& v, auto& k) { c.auth.failure_delay = duration(v, k, true); }},
      {"failure_delay_max",
       [&](auto& v, auto& k) { c.auth.failure_delay_max = duration(v, k, false); }},
      {"failure_forget_after",
       [&](auto& v, auto& k) { c.auth.failure_forget_after = duration(v, k, false); }},
  };
}

std::vector<Loader::Field> Loader::tls_fields(Config& c) const {
  return {
      {"client_cert", [&](auto& v, auto& k) { c.client_tls.cert_file = string(v, k); }},
      {"client_key", [&](auto& v, auto& k) { c.client_tls.key_file = string(v, k); }},
      {"client_ca", [&](auto& v, auto& k) { c.client_tls.ca_file = string(v, k); }},
      {"client_require", [&](auto& v, auto& k) { c.client_tls.require = boolean(v, k); }},
      {"server_sslmode",
       [&](auto& v, auto& k) {
         c.server_tls.sslmode = choice(v, k, parse_server_sslmode, kSslModeChoices);
       }},
      {"server_ca", [&](auto& v, auto& k) { c.server_tls.ca_file = string(v, k); }},
  };
}

std::vector<Loader::Field> Loader::admin_fields(Config& c) const {
  return {
      {"users", [&](auto& v, auto& k) { c.admin_users = names(v, k); }},
      {"stats_users", [&](auto& v, auto& k) { c.stats_users = names(v, k); }},
      {"admin_listen",
       [&](auto& v, auto& k) {
         const std::vector<HostPort> one = listen(v, k);
         if (one.size() != 1) invalid(k, v, "one \"HOST:PORT\"");
         c.admin_listen = one.front();
       }},
      {"admin_token", [&](auto& v, auto& k) { c.admin_token = string(v, k); }},
  };
}

std::vector<Loader::Field> Loader::stats_fields(Config& c) const {
  return {
      {"query_stats", [&](auto& v, auto& k) { c.query_stats = boolean(v, k); }},
      {"query_stats_max",
       [&](auto& v, auto& k) {
         c.query_stats_max = static_cast<int>(integer(v, k, kQueryStatsMaxRange));
       }},
      {"slow_query_threshold",
       [&](auto& v, auto& k) {
         // Integers are milliseconds here (the unit the key is documented in).
         if (const auto* i = v.as_integer(); i && i->get() >= 0 && i->get() <= kMaxDurationMs) {
           c.slow_query_threshold = Millis(i->get());
         } else {
           c.slow_query_threshold = duration(v, k, true);
         }
       }},
      {"slow_query_log", [&](auto& v, auto& k) { c.slow_query_log = string(v, k); }},
      {"log_parameters", [&](auto& v, auto& k) { c.log_parameters = boolean(v, k); }},
  };
}

std::vector<Loader::Field> Loader::database_fields(DatabaseConfig& db,
                                                   std::vector<std::string>& conn_keys,
                                                   std::optional<std::string>& url_key) const {
  // Connection keys are remembered so that combining them with url can be refused.
  auto conn = [&](auto set) {
    return [&conn_keys, set](auto& v, auto& k) {
      conn_keys.push_back(k);
      set(v, k);
    };
  };
  return {
      {"url",
       [&](auto& v, auto& k) {
         DatabaseConfig parsed = url(v, k);
         db.host = parsed.host;
         db.port = parsed.port;
         db.dbname = parsed.dbname;
         db.user = parsed.user;
         db.password = parsed.password;
         db.sslmode = parsed.sslmode;
         url_key = k;
       }},
      {"host", conn([&](auto& v, auto& k) {
         db.host = string(v, k);
         if (db.host.empty()) invalid(k, v, "a host name, IP address or Unix-socket directory");
       })},
      {"port", conn([&](auto& v, auto& k) { db.port = integer(v, k, kPortRange); })},
      {"dbname", conn([&](auto& v, auto& k) { db.dbname = string(v, k); })},
      {"user", conn([&](auto& v, auto& k) { db.user = string(v, k); })},
      {"password", conn([&](auto& v, auto& k) { db.password = string(v, k); })},
      {"pool_mode",
       [&](auto& v, auto& k) { db.pool_mode = choice(v, k, parse_pool_mode, kPoolModeChoices); }},
      {"pool_size", [&](auto& v, auto& k) { db.pool_size = integer(v, k, kPoolSizeRange); }},
      {"min_pool_size",
       [&](auto& v, auto& k) { db.min_pool_size = integer(v, k, kMinPoolSizeRange); }},
      {"reserve_pool_size",
       [&](auto& v, auto& k) { db.reserve_pool_size = integer(v, k, kReservePoolSizeRange); }},
      {"max_db_connections",
       [&](auto& v, auto& k) { db.max_db_connections = integer(v, k, kMaxDbConnectionsRange); }},
  };
}

void Loader::load_databases(const toml::table& t, Config& c) const {
  for (auto&& [name, v] : t) {
    std::string section = database_key(name.str(), "");
    const auto* entry = v.as_table();
    if (entry == nullptr) {
      invalid(section, v,
              fmt::format("a table: [{}] with url, or host, port, dbname, ...", section));
    }
    if (name.str().empty()) fail("databases: a database name must not be empty");
    DatabaseConfig db;
    db.name = std::string(name.str());
    std::vector<std::string> conn_keys;
    std::optional<std::string> url_key;
    apply_fields(*entry, section, database_fields(db, conn_keys, url_key));
    if (url_key && !conn_keys.empty()) {
      fail(
          fmt::format("{} cannot be combined with {}; give the connection either as a URL or "
                      "as host, port, dbname, user, password",
                      conn_keys.front(), *url_key));
    }
    c.databases[db.name] = std::move(db);
  }
}

std::vector<Loader::Field> Loader::class_fields(ClassConfig& cls) const {
  return {
      {"priority",
       [&](auto& v, auto& k) {
         cls.priority = static_cast<int>(integer(v, k, kClassPriorityRange));
       }},
      {"min_connections",
       [&](auto& v, auto& k) {
         cls.min_connections = static_cast<int>(integer(v, k, kClassMinConnectionsRange));
       }},
      {"max_waiting_clients",
       [&](auto& v, auto& k) {
         cls.max_waiting_clients = static_cast<int>(integer(v, k, kMaxWaitingClientsRange));
       }},
      {"users", [&](auto& v, auto& k) { cls.users = names(v, k); }},
      {"databases", [&](auto& v, auto& k) { cls.databases = names(v, k); }},
      {"application_names", [&](auto& v, auto& k) { cls.application_names = names(v, k); }},
  };
}

void Loader::load_classes(const toml::table& t, Config& c) const {
  for (auto&& [name, v] : t) {
    const std::string section = fmt::format("classes.{}", name.str());
    const auto* entry = v.as_table();
    if (entry == nullptr) {
      invalid(section, v,
              fmt::format("a table: [{}] with priority, min_connections, ...", section));
    }
    if (!is_valid_class_name(name.str())) {
      fail(fmt::format("[{}]: a class name is letters, digits and underscores", section));
    }
    ClassConfig cls;
    cls.name = std::string(name.str());
    // A class named like a built-in one starts from its defaults.
    if (std::optional<ClassConfig> builtin = builtin_class(cls.name)) cls = *builtin;
    apply_fields(*entry, section, class_fields(cls));
    c.classes[cls.name] = std::move(cls);
  }
}

std::vector<std::string_view> Loader::sections_with_key(std::string_view key) const {
  // Used to explain a key written above any [section]: where does it belong?
  Config scratch;
  std::vector<std::pair<std::string_view, std::vector<Field>>> sections = {
      {"server", server_fields(scratch)}, {"pool", pool_fields(scratch)},
      {"auth", auth_fields(scratch)},     {"tls", tls_fields(scratch)},
      {"admin", admin_fields(scratch)},   {"stats", stats_fields(scratch)},
  };
  std::vector<std::string_view> found;
  for (const auto& [section, fields] : sections) {
    for (const Field& f : fields) {
      if (f.name == key) found.push_back(section);
    }
  }
  return found;
}

Config Loader::load(const toml::table& root) {
  Config c;
  for (auto&& [k, v] : root) {
    std::string_view name = k.str();
    const auto* t = v.as_table();
    bool known = std::find(std::begin(kSections), std::end(kSections), name) != std::end(kSections);
    if (known && t == nullptr) {
      invalid(std::string(name), v, fmt::format("a table ([{}] section)", name));
    }
    const std::string section(name);
    if (name == "server") {
      apply_fields(*t, section, server_fields(c));
    } else if (name == "pool") {
      apply_fields(*t, section, pool_fields(c));
    } else if (name == "auth") {
      apply_fields(*t, section, auth_fields(c));
    } else if (name == "tls") {
      apply_fields(*t, section, tls_fields(c));
    } else if (name == "admin") {
      apply_fields(*t, section, admin_fields(c));
    } else if (name == "stats") {
      apply_fields(*t, section, stats_fields(c));
    } else if (name == "databases") {
      load_databases(*t, c);
    } else if (name == "classes") {
      load_classes(*t, c);
    } else if (t == nullptr) {
      std::vector<std::string_view> homes = sections_with_key(name);
      if (!homes.empty()) {
        fail(fmt::format("unknown key {} (did you mean {}.{}? keys go under their [section])", name,
                         homes.front(), name));
      }
      fail(fmt::format("unknown key {}; keys go under one of the sections: {}", name,
                       join({std::begin(kSections), std::end(kSections)})));
    } else if (auto guess = closest(name, {std::begin(kSections), std::end(kSections)})) {
      fail(fmt::format("unknown section [{}] (did you mean [{}]?)", name, *guess));
    } else {
      fail(fmt::format("unknown section [{}]; allowed: {}", name,
                       join({std::begin(kSections), std::end(kSections)})));
    }
  }
  add_builtin_classes(c);
  return c;
}

}  // namespace

Config load_config_string(std::string_view toml_text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::string desc(e.description());
    std::replace(desc.begin(), desc.end(), '\n', ' ');
    const toml::source_position& pos = e.source().begin;
    throw ConfigError(source_name.empty()
                          ? fmt::format("line {}, column {}: {}", pos.line, pos.column, desc)
                          : fmt::format("{}:{}:{}: {}", source_name, pos.line, pos.column, desc));
  }
  Config cfg = Loader(source_name).load(root);
  validate_config(cfg, source_name);
  return cfg;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(fmt::format("{}: cannot read config file: {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  Config cfg = load_config_string(text.str(), path);
  cfg.source_path = path;
  return cfg;
}

}  // namespace sluice::config
