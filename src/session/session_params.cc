#include "session/session_params.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>
#include <vector>

#include "common/ascii.h"
#include "protocol/sha256.h"

namespace sluice::session {

namespace {

// Canonical names as the server reports them.
constexpr std::array<std::string_view, 6> kReported = {
    "client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "standard_conforming_strings",
    "application_name"};

// Startup parameters that are not session settings.
constexpr std::array<std::string_view, 3> kNotSettings = {"user", "database", "options"};

const std::string_view* canonical(std::string_view name) {
  for (const auto& t : kReported) {
    if (iequals(t, name)) return &t;
  }
  return nullptr;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string quote_literal(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

// A GUC name is letters, digits, '_' and '.': anything else is refused rather than
// spliced into SQL.
bool valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  });
}

void set_param(ParamMap& wanted, std::string_view name, std::string value) {
  if (const auto* c = canonical(name)) {
    wanted[std::string(*c)] = std::move(value);
  } else {
    wanted[lower(name)] = std::move(value);
  }
}

// libpq's "options": "-c name=value" or "--name=value" words, backslash escapes spaces.
std::optional<std::string> parse_options(std::string_view options, ParamMap& wanted) {
  std::vector<std::string> words;
  std::string word;
  for (size_t i = 0; i < options.size(); ++i) {
    const char c = options[i];
    if (c == '\\' && i + 1 < options.size()) {
      word += options[++i];
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (!word.empty()) words.push_back(std::move(word)), word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  for (size_t i = 0; i < words.size(); ++i) {
    std::string setting;
    if (words[i] == "-c" && i + 1 < words.size()) {
      setting = words[++i];
    } else if (words[i].rfind("--", 0) == 0 || words[i].rfind("-c", 0) == 0) {
      setting = words[i].substr(2);  // --name=value, or -cname=value
    } else {
      return "unsupported startup option \"" + words[i] + "\": only -c name=value is supported";
    }
    const auto eq = setting.find('=');
    std::string name = setting.substr(0, std::min(eq, setting.size()));
    std::replace(name.begin(), name.end(), '-', '_');  // PostgreSQL accepts both spellings
    if (eq == std::string::npos || !valid_name(name)) {
      return "malformed startup option \"" + setting + "\": expected -c name=value";
    }
    set_param(wanted, name, setting.substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace

bool is_reported_param(const std::string& name) { return canonical(name) != nullptr; }

std::optional<std::string> initial_session_params(const ParamMap& server_defaults,
                                                  const protocol::StartupPacket& startup,
                                                  ParamMap& wanted) {
  wanted.clear();
  for (const auto& t : kReported) {
    auto it = server_defaults.find(t);
    wanted[t] = it != server_defaults.end() ? it->second : "";
  }
  for (const auto& [name, value] : startup.params) {
    if (std::find(kNotSettings.begin(), kNotSettings.end(), name) != kNotSettings.end()) continue;
    if (name == "replication") return "replication connections are not supported by the proxy";
    if (!valid_name(name)) return "invalid startup parameter name \"" + name + "\"";
    set_param(wanted, name, value);
  }
  return parse_options(startup.param("options"), wanted);
}

std::string parameter_sync_sql(const ParamMap& wanted, const ParamMap& server_values,
                               const std::set<std::string>& server_extras) {
  std::string sql;
  auto add = [&sql](const std::string& stmt) {
    if (!sql.empty()) sql += "; ";
    sql += stmt;
  };
  for (const auto& [name, value] : wanted) {
    auto it = server_values.find(name);
    if (it != server_values.end() ? it->second == value : value.empty()) continue;
    if (value.empty() && !is_reported_param(name)) {
      add("RESET " + name);
    } else if (value.front() == kSqlValueMarker) {
      add("SET " + name + " TO " + value.substr(1));
    } else {
      // set_config() takes the value as text, as a startup option or postgresql.conf does:
      // `SET search_path TO 'a,b'` would set a one-element list named "a,b".
      add("SELECT pg_catalog.set_config(" + quote_literal(name) + ", " + quote_literal(value) +
          ", false)");
    }
  }
  for (const auto& name : server_extras) {
    if (!wanted.count(name)) add("RESET " + name);
  }
  return sql;
}

void record_synced_params(ParamMap& wanted, ServerParamState server) {
  for (auto it = server.extras.begin(); it != server.extras.end();) {
    if (!wanted.count(*it)) {
      server.values.erase(*it);
      it = server.extras.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, value] : wanted) {
    if (is_reported_param(name)) {
      auto it = server.values.find(name);
      if (it != server.values.end()) value = it->second;
    } else {
      server.values[name] = value;
      server.extras.insert(name);
    }
  }
}

void apply_client_setting(const std::string& name, const std::optional<std::string>& value,
                          const ParamMap& startup, ParamMap& wanted, ServerParamState server) {
  auto set_extra = [&](const std::string& key, const std::optional<std::string>& v) {
    if (is_reported_param(key)) return;
    if (v) {
      wanted[key] = *v;
      server.values[key] = *v;
      server.extras.insert(key);
    } else {
      auto it = startup.find(key);
      if (it != startup.end()) {
        wanted[key] = it->second;
      } else {
        wanted.erase(key);
      }
      // After RESET the server holds its own default, which is what "no entry" means; a
      // startup value the client wants back is SET again at its next lease.
      server.values.erase(key);
      server.extras.erase(key);
    }
  };
  if (name == "all") {
    std::vector<std::string> keys;
    for (const auto& [key, v] : wanted) {
      if (!is_reported_param(key)) keys.push_back(key);
    }
    for (const auto& key : keys) set_extra(key, std::nullopt);
    return;
  }
  set_extra(name, value ? std::optional<std::string>(kSqlValueMarker + *value) : std::nullopt);
}

bool track_reported_param(ParamMap& wanted, const std::string& name, const std::string& value) {
  const auto* c = canonical(name);
  if (!c) return false;
  std::string& slot = wanted[std::string(*c)];
  if (slot == value) return false;
  slot = value;
  return true;
}

bool reported_param_differs(const ParamMap& wanted, const std::string& name,
                            const std::string& value) {
  const auto* c = canonical(name);
  if (!c) return false;
  auto it = wanted.find(*c);
  return it == wanted.end() || it->second != value;
}

std::string params_fingerprint(const ParamMap& params) {
  // A digest, not the text: one is kept per client and per server connection. 15 bytes
  // (120 bits) fit std::string's inline storage, so keeping one allocates nothing; a
  // cryptographic hash, so no client can pick settings that collide with another's.
  protocol::Sha256 hash;
  for (const auto& [name, value] : params) {
    // With their terminating NULs, so ("ab","c") and ("a","bc") differ.
    hash.update({name.c_str(), name.size() + 1}).update({value.c_str(), value.size() + 1});
  }
  const auto digest = hash.finish();
  return std::string(reinterpret_cast<const char*>(digest.data()), kFingerprintBytes);
}

}  // namespace sluice::session
