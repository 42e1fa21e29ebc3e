#include "admin/query_report.h"

#include <algorithm>

namespace sluice::admin {

std::optional<QueryOrder> parse_query_order(std::string_view s) {
  if (s == "total_time") return QueryOrder::kTotalTime;
  if (s == "calls") return QueryOrder::kCalls;
  if (s == "mean_time" || s == "mean") return QueryOrder::kMeanTime;
  if (s == "p99") return QueryOrder::kP99;
  return std::nullopt;
}

QueryReport top_queries(QueryOrder order, size_t limit) {
  stats::QueryStatsSnapshot snap = stats::QueryStats::snapshot();
  QueryReport report;
  report.total_entries = snap.entries.size();
  report.evictions = snap.evictions;
  report.rows.reserve(snap.entries.size());
  for (stats::QueryEntry& e : snap.entries) {
    QueryRow row;
    row.mean_us = e.calls ? e.exec_us / e.calls : 0;
    // A bucket's upper bound may lie above the slowest call seen.
    row.p50_us = std::min(e.max_exec_us, e.exec_histogram.quantile(0.50));
    row.p95_us = std::min(e.max_exec_us, e.exec_histogram.quantile(0.95));
    row.p99_us = std::min(e.max_exec_us, e.exec_histogram.quantile(0.99));
    row.entry = std::move(e);
    report.rows.push_back(std::move(row));
  }
  auto key = [order](const QueryRow& r) {
    switch (order) {
      case QueryOrder::kCalls:
        return r.entry.calls;
      case QueryOrder::kMeanTime:
        return r.mean_us;
      case QueryOrder::kP99:
        return r.p99_us;
      case QueryOrder::kTotalTime:
        break;
    }
    return r.entry.exec_us;
  };
  const size_t n = std::min(limit, report.rows.size());
  std::partial_sort(report.rows.begin(), report.rows.begin() + static_cast<std::ptrdiff_t>(n),
                    report.rows.end(),
                    [&](const QueryRow& a, const QueryRow& b) { return key(a) > key(b); });
  report.rows.resize(n);
  return report;
}

}  // namespace sluice::admin
