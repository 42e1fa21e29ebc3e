// SHOW CLASSES: per database and priority class, the slots held and the clients waiting
// (docs/operations.md#priority-classes), from each database's PriorityGate.
#include "admin/show_commands.h"
#include "admin/show_util.h"

namespace sluice::admin {

void show_classes(server::ProxyContext& ctx, std::string& out) {
  std::vector<Row> rows;
  // Configured databases are listed before their first client, like in SHOW DATABASES.
  const auto cfg = ctx.config();
  for (const auto& [name, db] : cfg->databases) ctx.pools.database(*cfg, db);
  for (const auto& db : ctx.pools.databases()) {
    const int budget = db->gate.budget();
    for (const pool::ClassSnapshot& c : db->gate.snapshot()) {
      rows.push_back({db->name, c.name, num(c.priority), num(c.min_connections),
                      num(c.max_waiting_clients), num(budget), num(c.active), num(c.waiting),
                      num(c.max_wait.count() / 1000), num(static_cast<int64_t>(c.served)),
                      num(static_cast<int64_t>(c.shed)), num(static_cast<int64_t>(c.timed_out))});
    }
  }
  append_result(out,
                columns("ssiiiiiiiiii", {"database", "class", "priority", "min_connections",
                                         "max_waiting_clients", "budget", "active", "waiting",
                                         "max_wait_ms", "served", "shed", "timed_out"}),
                rows);
}

}  // namespace sluice::admin
