// Top queries for SHOW QUERIES and /api/v1/queries: every worker's per-fingerprint
// statistics merged, ordered and cut to a limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stats/query_stats.h"

namespace sluice::admin {

enum class QueryOrder { kTotalTime, kCalls, kMeanTime, kP99 };
inline constexpr size_t kDefaultTopQueries = 100;

// "total_time", "calls", "mean_time", "p99"; nullopt for anything else.
std::optional<QueryOrder> parse_query_order(std::string_view s);
inline constexpr std::string_view kQueryOrderChoices = "total_time, calls, mean_time, p99";

struct QueryRow {
  stats::QueryEntry entry;
  uint64_t mean_us = 0;  // execution time per call
  uint64_t p50_us = 0;
  uint64_t p95_us = 0;
  uint64_t p99_us = 0;
};

struct QueryReport {
  std::vector<QueryRow> rows;
  size_t total_entries = 0;  // before the limit
  uint64_t evictions = 0;
};

QueryReport top_queries(QueryOrder order, size_t limit);

}  // namespace sluice::admin
