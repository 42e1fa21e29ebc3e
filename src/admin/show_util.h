// Helpers shared by the SHOW result builders: column lists in PgBouncer's compact form,
// value formatting and clock conversions. Admin path only; nothing here is hot.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/builder.h"

namespace sluice::admin {

// The virtual database served by the console (the session also accepts "pgbouncer").
inline constexpr std::string_view kAdminDatabase = "sluice";
inline constexpr std::string_view kVersion = "Sluice 0.1.0";
// The session also serves the console under PgBouncer's name, for existing tools.
inline bool is_admin_database(std::string_view db) {
  return db == kAdminDatabase || db == "pgbouncer";
}
// Pool mode PgBouncer reports for its own console database.
inline constexpr std::string_view kAdminPoolMode = "statement";

using Row = std::vector<std::optional<std::string>>;
using SystemTime = std::chrono::system_clock::time_point;

// Columns from a type string ('s' text, 'i' int8) plus names, like PgBouncer's
// pktbuf_write_RowDescription("ssi", ...), so a column list reads as one line.
inline std::vector<protocol::Column> columns(std::string_view types,
                                             std::initializer_list<std::string_view> names) {
  std::vector<protocol::Column> out;
  out.reserve(names.size());
  size_t i = 0;
  for (std::string_view name : names) {
    const bool numeric = i < types.size() && types[i] == 'i';
    out.push_back({std::string(name), numeric ? protocol::kOidInt8 : protocol::kOidText});
    ++i;
  }
  return out;
}

// One complete SHOW result: RowDescription, DataRows, CommandComplete "SHOW".
inline void append_result(std::string& out, const std::vector<protocol::Column>& cols,
                          const std::vector<Row>& rows) {
  protocol::append_row_description(out, cols);
  for (const Row& row : rows) protocol::append_data_row(out, row);
  protocol::append_command_complete(out, "SHOW");
}

inline std::optional<std::string> num(int64_t v) { return std::to_string(v); }
inline std::optional<std::string> text(std::string_view s) { return std::string(s); }

// PgBouncer's timestamp format ('2026-11-22 13:05:01 UTC'); always UTC so that output
// does not depend on the process's TZ.
inline std::string format_time(SystemTime tp) {
  const std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return std::string(buf, n);
}

// Server connections keep steady_clock times (immune to clock steps); show them as wall
// clock by their age.
inline SystemTime to_system(std::chrono::steady_clock::time_point tp) {
  const auto age = std::chrono::steady_clock::now() - tp;
  return std::chrono::time_point_cast<SystemTime::duration>(std::chrono::system_clock::now() - age);
}

// Wall clock in microseconds since the epoch, the unit of ClientInfo's *_us fields.
inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline constexpr int64_t kMicrosPerSecond = 1000000;

}  // namespace sluice::admin
