#include "stats/proxy_counters.h"

#include "stats/pool_stats.h"

namespace sluice::stats {

namespace {

int class_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return -1;
}

char digit_char(int d) { return static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10); }

std::unique_ptr<ProxyCounters>& instance() {
  static std::unique_ptr<ProxyCounters> p = std::make_unique<ProxyCounters>(0);
  return p;
}

}  // namespace

ProxyCounters::ProxyCounters(int worker_slots) : slots_(static_cast<size_t>(worker_slots) + 1) {}

ProxyCounters::Slot& ProxyCounters::slot() {
  size_t i = static_cast<size_t>(current_slot());
  if (i >= slots_.size()) i = 0;
  return slots_[i];
}

void ProxyCounters::add_error(std::string_view sqlstate) {
  int hi = sqlstate.size() >= 2 ? class_digit(sqlstate[0]) : -1;
  int lo = sqlstate.size() >= 2 ? class_digit(sqlstate[1]) : -1;
  if (hi < 0 || lo < 0) hi = lo = class_digit('X');
  add(slot().errors[static_cast<size_t>(hi) * kSqlstateDigits + static_cast<size_t>(lo)]);
}

CounterTotals ProxyCounters::totals() const {
  CounterTotals t;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  std::array<uint64_t, kSqlstateClasses> errors{};
  for (const Slot& s : slots_) {
    t.statement_cache_hits += s.cache_hits.load(kRelaxed);
    t.statement_cache_misses += s.cache_misses.load(kRelaxed);
    t.slow_queries += s.slow_queries.load(kRelaxed);
    for (size_t c = 0; c < kSqlstateClasses; ++c) errors[c] += s.errors[c].load(kRelaxed);
  }
  for (size_t c = 0; c < kSqlstateClasses; ++c) {
    if (errors[c] == 0) continue;
    const int hi = static_cast<int>(c / kSqlstateDigits);
    const int lo = static_cast<int>(c % kSqlstateDigits);
    t.errors_by_class[std::string{digit_char(hi), digit_char(lo)}] = errors[c];
  }
  return t;
}

ProxyCounters& counters() { return *instance(); }

void install_counters(int workers) { instance() = std::make_unique<ProxyCounters>(workers); }

}  // namespace sluice::stats
