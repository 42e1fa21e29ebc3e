#include "session/session_params.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace sluice::session {

namespace {

// Canonical names as the server reports them.
constexpr std::array<std::string_view, 6> kTracked = {
    "client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "standard_conforming_strings",
    "application_name"};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const std::string_view* canonical(std::string_view name) {
  for (const auto& t : kTracked) {
    if (iequals(t, name)) return &t;
  }
  return nullptr;
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

}  // namespace

bool is_tracked_param(const std::string& name) { return canonical(name) != nullptr; }

ParamMap initial_session_params(const ParamMap& server_defaults,
                                const protocol::StartupPacket& startup) {
  ParamMap wanted;
  for (const auto& t : kTracked) {
    auto it = server_defaults.find(std::string(t));
    wanted[std::string(t)] = it != server_defaults.end() ? it->second : "";
  }
  for (const auto& [name, value] : startup.params) {
    if (const auto* c = canonical(name)) wanted[std::string(*c)] = value;
  }
  return wanted;
}

std::string parameter_sync_sql(const ParamMap& wanted, const ParamMap& server) {
  std::string sql;
  for (const auto& [name, value] : wanted) {
    auto it = server.find(name);
    if (it != server.end() ? it->second == value : value.empty()) continue;
    if (!sql.empty()) sql += "; ";
    sql += "SET " + name + " TO " + quote_literal(value);
  }
  return sql;
}

void adopt_reported_params(ParamMap& wanted, const ParamMap& server) {
  for (auto& [name, value] : wanted) {
    auto it = server.find(name);
    if (it != server.end()) value = it->second;
  }
}

void track_reported_param(ParamMap& wanted, const std::string& name, const std::string& value) {
  if (const auto* c = canonical(name)) wanted[std::string(*c)] = value;
}

}  // namespace sluice::session
