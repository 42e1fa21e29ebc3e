// Per-pool traffic counters, written without contention: each worker thread owns one
// cache-line-aligned slot and is the only writer; readers (admin console, /metrics) sum
// the slots.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "stats/latency_buckets.h"

namespace sluice::stats {

// Index of the calling thread's slot: workers are 1..N, everything else is 0.
int current_slot();
void set_current_slot(int slot);

struct Totals {
  uint64_t xact_count = 0;
  uint64_t query_count = 0;
  uint64_t bytes_received = 0;  // from clients
  uint64_t bytes_sent = 0;      // to clients
  uint64_t xact_time_us = 0;
  uint64_t query_time_us = 0;
  uint64_t wait_time_us = 0;
  uint64_t wait_count = 0;  // leases taken (each waited wait_time_us / wait_count on average)
  // Histogram counts per latency_bucket() (not cumulative).
  std::array<uint64_t, kLatencyBuckets> query_buckets{};
  std::array<uint64_t, kLatencyBuckets> wait_buckets{};

  Totals& operator+=(const Totals& o);
};

class PoolStats {
 public:
  explicit PoolStats(int slots) : slots_(static_cast<size_t>(slots) + 1) {}

  void add_xact(uint64_t us) { bump(&Slot::xact_count, 1), bump(&Slot::xact_time_us, us); }
  void add_query(uint64_t us) {
    bump(&Slot::query_count, 1), bump(&Slot::query_time_us, us);
    bump_bucket(&Slot::query_buckets, us);
  }
  void add_received(uint64_t n) { bump(&Slot::bytes_received, n); }
  void add_sent(uint64_t n) { bump(&Slot::bytes_sent, n); }
  void add_wait(uint64_t us) {
    bump(&Slot::wait_count, 1), bump(&Slot::wait_time_us, us);
    bump_bucket(&Slot::wait_buckets, us);
  }
  Totals totals() const;

 private:
  using Buckets = std::array<std::atomic<uint64_t>, kLatencyBuckets>;
  struct alignas(64) Slot {
    std::atomic<uint64_t> xact_count{0}, query_count{0}, bytes_received{0}, bytes_sent{0},
        xact_time_us{0}, query_time_us{0}, wait_time_us{0}, wait_count{0};
    Buckets query_buckets{};
    Buckets wait_buckets{};
  };
  Slot& slot() {
    size_t i = static_cast<size_t>(current_slot());
    if (i >= slots_.size()) i = 0;
    return slots_[i];
  }
  // Single writer per slot: a relaxed load+store is enough and avoids a locked RMW.
  static void add(std::atomic<uint64_t>& f, uint64_t n) {
    f.store(f.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void bump(std::atomic<uint64_t> Slot::*field, uint64_t n) { add(slot().*field, n); }
  void bump_bucket(Buckets Slot::*field, uint64_t us) {
    add((slot().*field)[latency_bucket(us)], 1);
  }
  std::vector<Slot> slots_;
};

}  // namespace sluice::stats
