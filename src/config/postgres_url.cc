// Parser for postgresql:// URLs (see postgres_url.h for the accepted form).
#include "config/postgres_url.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice::config {
namespace {

constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};

// Thrown internally and turned into the caller's error style at the API boundary.
struct UrlProblem {
  std::string reason;
};

[[noreturn]] void problem(std::string reason) { throw UrlProblem{std::move(reason)}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      problem(fmt::format("bad percent-encoding in {} (expected %XX with two hex digits)", what));
    }
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') problem(fmt::format("%00 is not allowed in {}", what));
    out += c;
    i += 2;
  }
  return out;
}

uint16_t parse_port(std::string_view s) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < 1 || value > 65535) {
    problem(fmt::format("bad port {}: must be 1..65535", quote(s)));
  }
  return static_cast<uint16_t>(value);
}

// Host part of the authority, with an optional ":PORT".
void parse_host_port(std::string_view hp, DatabaseConfig& db) {
  if (hp.find(',') != std::string_view::npos) problem("multiple hosts are not supported");
  std::string_view host = hp;
  std::optional<std::string_view> port;
  if (hp.starts_with('[')) {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) problem("missing ']' after IPv6 address");
    host = hp.substr(1, close - 1);
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') problem("expected ':PORT' after ']'");
      port = rest.substr(1);
    }
    if (host.empty()) problem("empty IPv6 address in brackets");
  } else {
    size_t colon = hp.find(':');
    if (colon != std::string_view::npos) {
      if (hp.find(':', colon + 1) != std::string_view::npos) {
        problem("IPv6 addresses must be in brackets, e.g. [::1]:5432");
      }
      host = hp.substr(0, colon);
      port = hp.substr(colon + 1);
    }
  }
  if (!host.empty()) db.host = percent_decode(host, "host");
  if (port) db.port = parse_port(*port);
}

void apply_parameter(std::string_view key, const std::string& value, DatabaseConfig& db) {
  if (key == "sslmode") {
    db.sslmode = parse_server_sslmode(value);
    if (!db.sslmode) {
      problem(fmt::format("sslmode={} is not valid; allowed: {}", value, kSslModeChoices));
    }
  } else if (key == "host") {
    db.host = value;
  } else if (key == "port") {
    db.port = parse_port(value);
  } else if (key == "user") {
    db.user = value;
  } else if (key == "password") {
    db.password = value;
  } else if (key == "dbname") {
    db.dbname = value;
  } else {
    problem(
        fmt::format("unsupported parameter {}; supported: sslmode, host, port, user, "
                    "password, dbname",
                    quote(key)));
  }
}

DatabaseConfig parse_or_throw(std::string_view url) {
  std::optional<std::string_view> after_scheme;
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) after_scheme = url.substr(scheme.size());
  }
  if (!after_scheme) problem("must start with postgresql:// or postgres://");
  std::string_view rest = *after_scheme;
  if (rest.find('#') != std::string_view::npos) problem("'#' fragments are not allowed");

  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  bool has_path = false;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    has_path = true;
  }

  DatabaseConfig db;
  db.host.clear();  // must come from the URL
  // The last '@' ends the user info, so an unencoded '@' in a password still works.
  std::string_view hostport = rest;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    hostport = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    db.user = percent_decode(userinfo.substr(0, colon), "user");
    if (colon != std::string_view::npos) {
      db.password = percent_decode(userinfo.substr(colon + 1), "password");
    }
  }
  parse_host_port(hostport, db);
  if (has_path) db.dbname = percent_decode(path, "dbname");

  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      problem(fmt::format("parameter {} has no '=VALUE'", quote(item)));
    }
    std::string key = percent_decode(item.substr(0, eq), "a parameter name");
    apply_parameter(key, percent_decode(item.substr(eq + 1), "a parameter value"), db);
  }

  if (db.host.empty()) problem("missing host");
  return db;
}

}  // namespace

std::optional<DatabaseConfig> try_parse_postgres_url(std::string_view url, std::string* reason) {
  try {
    return parse_or_throw(url);
  } catch (const UrlProblem& p) {
    if (reason != nullptr) *reason = p.reason;
    return std::nullopt;
  }
}

DatabaseConfig parse_postgres_url(std::string_view url) {
  std::string reason;
  std::optional<DatabaseConfig> db = try_parse_postgres_url(url, &reason);
  if (!db) {
    throw ConfigError(fmt::format("invalid PostgreSQL URL {} ({}); expected {}",
                                  quote(redact_postgres_url(url)), reason, kPostgresUrlForm));
  }
  return *db;
}

std::string redact_postgres_url(std::string_view url) {
  std::string out(url);
  // User info: between "//" (or the start) and the last '@' before the path.
  size_t start = out.find("//");
  start = start == std::string::npos ? 0 : start + 2;
  size_t end = out.find_first_of("/?#", start);
  if (end == std::string::npos) end = out.size();
  size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
  if (at != std::string::npos && at >= start) {
    size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // password=... in the query string.
  for (size_t pos = out.find('?'); pos != std::string::npos; pos = out.find('&', pos + 1)) {
    if (out.compare(pos + 1, 9, "password=") != 0) continue;
    size_t value = pos + 10;
    size_t value_end = out.find_first_of("&#", value);
    if (value_end == std::string::npos) value_end = out.size();
    out.replace(value, value_end - value, "***");
  }
  return out;
}

}  // namespace sluice::config
