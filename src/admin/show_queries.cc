// SHOW QUERIES: the per-fingerprint statistics, by total execution time.
#include <fmt/format.h>

#include "admin/query_report.h"
#include "admin/show_commands.h"
#include "admin/show_util.h"

namespace sluice::admin {

void show_queries(server::ProxyContext& /*ctx*/, std::string& out) {
  const QueryReport report = top_queries(QueryOrder::kTotalTime, kDefaultTopQueries);
  std::vector<Row> rows;
  auto u = [](uint64_t v) { return num(static_cast<int64_t>(v)); };
  for (const QueryRow& r : report.rows) {
    const stats::QueryEntry& e = r.entry;
    rows.push_back({fmt::format("{:016x}", e.fingerprint), e.database, e.user, e.application_name,
                    u(e.calls), u(e.errors), u(e.rows), u(e.exec_us), u(r.mean_us), u(r.p50_us),
                    u(r.p95_us), u(r.p99_us), u(e.max_exec_us), u(e.wait_us), *e.normalized});
  }
  // Times in microseconds, like SHOW STATS.
  append_result(out,
                columns("ssssiiiiiiiiiis", {"fingerprint", "database", "user", "application_name",
                                            "calls", "errors", "rows", "total_time", "mean_time",
                                            "p50", "p95", "p99", "max_time", "wait_time", "query"}),
                rows);
}

}  // namespace sluice::admin
