#include "stats/pool_stats.h"

namespace sluice::stats {

namespace {
thread_local int tls_slot = 0;
}

int current_slot() { return tls_slot; }
void set_current_slot(int slot) { tls_slot = slot; }

Totals& Totals::operator+=(const Totals& o) {
  xact_count += o.xact_count;
  query_count += o.query_count;
  bytes_received += o.bytes_received;
  bytes_sent += o.bytes_sent;
  xact_time_us += o.xact_time_us;
  query_time_us += o.query_time_us;
  wait_time_us += o.wait_time_us;
  wait_count += o.wait_count;
  for (size_t b = 0; b < kLatencyBuckets; ++b) {
    query_buckets[b] += o.query_buckets[b];
    wait_buckets[b] += o.wait_buckets[b];
  }
  return *this;
}

Totals PoolStats::totals() const {
  Totals t;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  for (const Slot& s : slots_) {
    t.xact_count += s.xact_count.load(kRelaxed);
    t.query_count += s.query_count.load(kRelaxed);
    t.bytes_received += s.bytes_received.load(kRelaxed);
    t.bytes_sent += s.bytes_sent.load(kRelaxed);
    t.xact_time_us += s.xact_time_us.load(kRelaxed);
    t.query_time_us += s.query_time_us.load(kRelaxed);
    t.wait_time_us += s.wait_time_us.load(kRelaxed);
    t.wait_count += s.wait_count.load(kRelaxed);
    for (size_t b = 0; b < kLatencyBuckets; ++b) {
      t.query_buckets[b] += s.query_buckets[b].load(kRelaxed);
      t.wait_buckets[b] += s.wait_buckets[b].load(kRelaxed);
    }
  }
  return t;
}

}  // namespace sluice::stats
