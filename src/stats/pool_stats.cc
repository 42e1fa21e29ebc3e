#include "stats/pool_stats.h"

namespace sluice::stats {

namespace {
thread_local int tls_slot = 0;
}

int current_slot() { return tls_slot; }
void set_current_slot(int slot) { tls_slot = slot; }

Totals PoolStats::totals() const {
  Totals t;
  for (const Slot& s : slots_) {
    t.xact_count += s.xact_count.load(std::memory_order_relaxed);
    t.query_count += s.query_count.load(std::memory_order_relaxed);
    t.bytes_received += s.bytes_received.load(std::memory_order_relaxed);
    t.bytes_sent += s.bytes_sent.load(std::memory_order_relaxed);
    t.xact_time_us += s.xact_time_us.load(std::memory_order_relaxed);
    t.query_time_us += s.query_time_us.load(std::memory_order_relaxed);
    t.wait_time_us += s.wait_time_us.load(std::memory_order_relaxed);
  }
  return t;
}

}  // namespace sluice::stats
