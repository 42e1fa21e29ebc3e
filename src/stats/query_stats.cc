#include "stats/query_stats.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <tuple>

#include "stats/query_fingerprint.h"
#include "stats/query_shape.h"

namespace sluice::stats {

namespace {

constexpr size_t kDefaultEntriesPerWorker = 5000;
// Mixes the labels' key into the fingerprint for the entry index.
constexpr uint64_t kMix = 0x9e3779b97f4a7c15ULL;

std::atomic<size_t> entries_per_worker{kDefaultEntriesPerWorker};

struct Registry {
  std::mutex mutex;
  std::vector<QueryStats*> all;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: workers may outlive statics
  return *r;
}

}  // namespace

uint64_t labels_key(const QueryLabels& l) {
  const std::hash<std::string_view> h;
  uint64_t k = h(l.database);
  k = k * kMix ^ h(l.user);
  k = k * kMix ^ h(l.application_name);
  return k;
}

void QueryEntry::add(const QuerySample& s) {
  ++calls;
  errors += s.error ? 1 : 0;
  rows += s.rows;
  exec_us += s.exec_us;
  wait_us += s.wait_us;
  max_exec_us = std::max(max_exec_us, s.exec_us);
  exec_histogram.add(s.exec_us);
}

void QueryEntry::merge(const QueryEntry& o) {
  calls += o.calls;
  errors += o.errors;
  rows += o.rows;
  exec_us += o.exec_us;
  wait_us += o.wait_us;
  max_exec_us = std::max(max_exec_us, o.max_exec_us);
  exec_histogram.merge(o.exec_histogram);
}

QueryStats::QueryStats(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {
  std::lock_guard lock(registry().mutex);
  registry().all.push_back(this);
}

QueryStats::~QueryStats() {
  std::lock_guard lock(registry().mutex);
  auto& all = registry().all;
  all.erase(std::remove(all.begin(), all.end(), this), all.end());
}

QueryStats& QueryStats::for_this_thread() {
  thread_local QueryStats stats(entries_per_worker.load(std::memory_order_relaxed));
  return stats;
}

void QueryStats::set_entries_per_worker(size_t n) {
  entries_per_worker.store(std::max<size_t>(1, n), std::memory_order_relaxed);
}

QueryRef QueryStats::lookup(std::string_view sql) {
  const uint64_t shape = query_shape_hash(sql);
  if (auto it = memo_index_.find(shape); it != memo_index_.end()) {
    memo_hits_.store(memo_hits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    memo_.splice(memo_.begin(), memo_, it->second);
    return it->second->ref;
  }
  memo_misses_.store(memo_misses_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  QueryIdentity id = identify_query(sql);
  QueryRef ref{id.fingerprint, std::make_shared<const std::string>(std::move(id.normalized)),
               shape};
  memo_.push_front({shape, ref});
  memo_index_.emplace(shape, memo_.begin());
  if (memo_.size() > kMemoEntries) {
    memo_index_.erase(memo_.back().shape);
    memo_.pop_back();
  }
  return ref;
}

void QueryStats::record(const QueryRef& query, const QueryLabels& labels,
                        const QuerySample& sample) {
  const uint64_t key = query.fingerprint ^ (labels.key * kMix);
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(key); it != index_.end()) {
    entries_.splice(entries_.begin(), entries_, it->second);
    it->second->add(sample);
    return;
  }
  QueryEntry e;
  e.fingerprint = query.fingerprint;
  e.normalized = query.normalized;
  e.database = labels.database;
  e.user = labels.user;
  e.application_name = labels.application_name;
  e.index_key = key;
  e.add(sample);
  entries_.push_front(std::move(e));
  index_.emplace(key, entries_.begin());
  while (entries_.size() > capacity_) {
    index_.erase(entries_.back().index_key);
    entries_.pop_back();
    ++evictions_;
  }
}

size_t QueryStats::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

QueryStatsSnapshot QueryStats::snapshot() {
  QueryStatsSnapshot out;
  using Key = std::tuple<uint64_t, std::string, std::string, std::string>;
  std::map<Key, QueryEntry> merged;
  std::lock_guard reg(registry().mutex);
  for (QueryStats* s : registry().all) {
    std::lock_guard lock(s->mutex_);
    out.evictions += s->evictions_;
    out.memo_hits += s->memo_hits_.load(std::memory_order_relaxed);
    out.memo_misses += s->memo_misses_.load(std::memory_order_relaxed);
    for (const QueryEntry& e : s->entries_) {
      auto [it, fresh] =
          merged.try_emplace(Key{e.fingerprint, e.database, e.user, e.application_name}, e);
      if (!fresh) it->second.merge(e);
    }
  }
  out.entries.reserve(merged.size());
  for (auto& [key, e] : merged) out.entries.push_back(std::move(e));
  return out;
}

void QueryStats::reset_all() {
  std::lock_guard reg(registry().mutex);
  for (QueryStats* s : registry().all) {
    std::lock_guard lock(s->mutex_);
    s->entries_.clear();
    s->index_.clear();
    s->evictions_ = 0;
  }
}

}  // namespace sluice::stats
