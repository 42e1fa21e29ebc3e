#include "config/priority_classes.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace sluice::config {
namespace {

struct Builtin {
  std::string_view name;
  int priority;
  int min_connections;
};

// admin keeps one connection back so an operator can always get in.
constexpr Builtin kBuiltins[] = {{"admin", 4, 1}, {"high", 3, 0}, {"normal", 2, 0}, {"low", 1, 0}};

bool matches_name(const std::vector<std::string>& rules, std::string_view value) {
  return rules.empty() || std::find(rules.begin(), rules.end(), value) != rules.end();
}

bool matches_pattern(const std::vector<std::string>& rules, std::string_view value) {
  if (rules.empty()) return true;
  return std::any_of(rules.begin(), rules.end(), [value](const std::string& rule) {
    if (!rule.empty() && rule.back() == '*') {
      return value.starts_with(std::string_view(rule).substr(0, rule.size() - 1));
    }
    return value == rule;
  });
}

bool has_rules(const ClassConfig& c) {
  return !c.users.empty() || !c.databases.empty() || !c.application_names.empty();
}

}  // namespace

bool is_valid_class_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
  });
}

std::optional<ClassConfig> builtin_class(std::string_view name) {
  for (const Builtin& b : kBuiltins) {
    if (b.name != name) continue;
    ClassConfig c;
    c.name = std::string(b.name);
    c.priority = b.priority;
    c.min_connections = b.min_connections;
    return c;
  }
  return std::nullopt;
}

void add_builtin_classes(Config& cfg) {
  if (cfg.classes.empty()) return;
  for (const Builtin& b : kBuiltins) {
    if (!cfg.classes.count(std::string(b.name)))
      cfg.classes.emplace(b.name, *builtin_class(b.name));
  }
}

std::string classify_client(const Config& cfg, std::string_view user, std::string_view database,
                            std::string_view application_name, std::string_view requested) {
  if (!requested.empty()) return std::string(requested);
  const ClassConfig* best = nullptr;
  for (const auto& [name, c] : cfg.classes) {
    if (!has_rules(c) || !matches_name(c.users, user) || !matches_name(c.databases, database) ||
        !matches_pattern(c.application_names, application_name)) {
      continue;
    }
    if (best == nullptr || c.priority > best->priority) best = &c;
  }
  return best ? best->name : std::string(kDefaultClass);
}

int class_budget(const Config& cfg, const DatabaseConfig& db) {
  const PoolSettings s = cfg.pool_settings_for(db);
  return s.max_db_connections > 0 ? s.max_db_connections : s.pool_size;
}

}  // namespace sluice::config
