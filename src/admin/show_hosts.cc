// SHOW HOSTS: per server host:port, the circuit breaker and connection failures
// (docs/operations.md), from PoolManager::hosts().
#include "admin/show_commands.h"
#include "admin/show_util.h"

namespace sluice::admin {

void show_hosts(server::ProxyContext& ctx, std::string& out) {
  std::vector<Row> rows;
  for (const pool::HostSnapshot& h : ctx.pools.hosts()) {
    rows.push_back(
        {h.host, num(h.port), text(pool::to_string(h.breaker)), num(h.consecutive_failures),
         num(static_cast<int64_t>(h.failed_attempts)), num(static_cast<int64_t>(h.times_opened)),
         num(h.next_attempt_in.count()),
         h.last_error.empty() ? std::nullopt : std::optional<std::string>(h.last_error)});
  }
  append_result(
      out,
      columns("sisiiiis", {"host", "port", "breaker", "consecutive_failures", "failed_attempts",
                           "breaker_opened", "next_attempt_ms", "last_error"}),
      rows);
}

}  // namespace sluice::admin
