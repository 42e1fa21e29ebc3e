// Process-wide counters that belong to no pool: errors by SQLSTATE class, the
// prepared-statement cache, slow queries. Same scheme as PoolStats: one slot per worker
// thread (current_slot()), single writer, summed on read.
//
// counters() is a process-wide instance; install_counters() sizes it for the workers once
// at start, before they run (until then, and in unit tests, there is only slot 0).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::stats {

// SQLSTATE classes are two characters of [0-9A-Z].
inline constexpr size_t kSqlstateDigits = 36;
inline constexpr size_t kSqlstateClasses = kSqlstateDigits * kSqlstateDigits;

struct CounterTotals {
  std::map<std::string, uint64_t> errors_by_class;  // "42" -> count, classes seen only
  uint64_t statement_cache_hits = 0;
  uint64_t statement_cache_misses = 0;
  uint64_t slow_queries = 0;
};

class ProxyCounters {
 public:
  explicit ProxyCounters(int worker_slots);

  // An ErrorResponse sent to a client, by the class of its SQLSTATE (malformed codes are
  // counted under "XX", internal error).
  void add_error(std::string_view sqlstate);
  // A client's prepared statement was (hit) or was not (miss) on its server connection.
  void add_statement_cache(bool hit) { bump(hit ? &Slot::cache_hits : &Slot::cache_misses); }
  void add_slow_query() { bump(&Slot::slow_queries); }
  CounterTotals totals() const;

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> cache_hits{0}, cache_misses{0}, slow_queries{0};
    std::array<std::atomic<uint64_t>, kSqlstateClasses> errors{};
  };
  Slot& slot();
  static void add(std::atomic<uint64_t>& f) {
    f.store(f.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void bump(std::atomic<uint64_t> Slot::*field) { add(slot().*field); }
  std::vector<Slot> slots_;
};

ProxyCounters& counters();
void install_counters(int workers);

}  // namespace sluice::stats
