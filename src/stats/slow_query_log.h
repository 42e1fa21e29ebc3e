// The slow-query log: requests slower than stats.slow_query_threshold, written as one
// JSON object per line to stats.slow_query_log (when set) and kept in memory, the latest
// kRecentSlowQueries, for /api/v1/slow_queries. Slow queries are rare, so one mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sluice::stats {

inline constexpr size_t kRecentSlowQueries = 1000;
// Each logged parameter value is cut to this many bytes.
inline constexpr size_t kMaxLoggedParameterBytes = 1024;

struct SlowQuery {
  std::string query;  // normalised text
  uint64_t fingerprint = 0;
  uint64_t duration_us = 0;  // request to ReadyForQuery, including the wait
  uint64_t wait_us = 0;      // for a server connection
  uint64_t rows = 0;
  bool error = false;
  std::string database;
  std::string user;
  std::string application_name;
  std::string client_addr;
  uint16_t client_port = 0;
  // Bind parameters (text, or \x-hex for binary ones; null for NULL); only with
  // stats.log_parameters.
  std::optional<std::vector<std::optional<std::string>>> parameters;
};

nlohmann::json to_json(const SlowQuery& q, int64_t unix_time_us);

class SlowQueryLog {
 public:
  // Appends to `path` (when not empty; opened on first use and when the path changes).
  void add(const SlowQuery& q, const std::string& path);
  // The latest entries, newest last.
  std::vector<nlohmann::json> recent(size_t limit) const;

 private:
  mutable std::mutex mutex_;
  std::deque<nlohmann::json> recent_;
  std::string path_;
  std::FILE* file_ = nullptr;
  bool warned_ = false;  // an unwritable path is reported once
};

SlowQueryLog& slow_query_log();

}  // namespace sluice::stats
