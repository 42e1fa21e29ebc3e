// Per-query statistics keyed by fingerprint and by (database, user, application_name):
// calls, errors, rows, execution time with percentiles, and the time spent waiting for a
// server connection, kept apart.
//
// Threading: one QueryStats per worker thread (for_this_thread()), written only by that
// worker; its mutex is uncontended except while a reader (SHOW QUERIES, /api/v1/queries)
// copies it. Readers merge every worker's entries (snapshot()).
//
// Memory is bounded twice: at most `capacity` entries per worker (least recently updated
// evicted first, and counted), and a memo from query shape (the text without its
// constants, query_shape.h) to fingerprint of kMemoEntries per worker, so the hot path
// parses a query once per shape, not per call.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stats/percentile_histogram.h"

namespace sluice::stats {

// Who ran a query: fixed per client session.
struct QueryLabels {
  std::string database;
  std::string user;
  std::string application_name;
  uint64_t key = 0;  // hash of the three, computed once (labels_key())
};
uint64_t labels_key(const QueryLabels& labels);

// A query text resolved to its identity; `normalized` is shared by everything that holds it.
struct QueryRef {
  uint64_t fingerprint = 0;
  std::shared_ptr<const std::string> normalized;
  uint64_t shape = 0;  // query_shape_hash() of the texts it stands for
  explicit operator bool() const { return normalized != nullptr; }
};

struct QuerySample {
  uint64_t exec_us = 0;  // request to ReadyForQuery, minus the wait below
  uint64_t wait_us = 0;  // for a server connection, before this request could run
  uint64_t rows = 0;
  bool error = false;
};

struct QueryEntry {
  uint64_t fingerprint = 0;
  std::shared_ptr<const std::string> normalized;
  std::string database;
  std::string user;
  std::string application_name;
  uint64_t calls = 0;
  uint64_t errors = 0;
  uint64_t rows = 0;
  uint64_t exec_us = 0;
  uint64_t wait_us = 0;
  uint64_t max_exec_us = 0;
  PercentileHistogram exec_histogram;
  uint64_t index_key = 0;  // inside one worker's table

  void add(const QuerySample& s);
  void merge(const QueryEntry& o);
};

struct QueryStatsSnapshot {
  std::vector<QueryEntry> entries;  // merged across workers
  uint64_t evictions = 0;
  uint64_t memo_hits = 0;
  uint64_t memo_misses = 0;
};

class QueryStats {
 public:
  // Query shapes the memo keeps per worker (about 100 bytes each, the texts are not kept).
  static constexpr size_t kMemoEntries = 8192;

  explicit QueryStats(size_t capacity);
  ~QueryStats();
  QueryStats(const QueryStats&) = delete;
  QueryStats& operator=(const QueryStats&) = delete;

  // The calling worker's instance, created (and registered for readers) on first use with
  // the capacity set by set_entries_per_worker().
  static QueryStats& for_this_thread();
  static void set_entries_per_worker(size_t n);

  // The identity of `sql`, memoised by its shape.
  QueryRef lookup(std::string_view sql);
  void record(const QueryRef& query, const QueryLabels& labels, const QuerySample& sample);

  size_t size() const;
  size_t memo_size() const { return memo_.size(); }
  // Every worker's entries merged by (fingerprint, database, user, application_name).
  static QueryStatsSnapshot snapshot();
  // Drops every worker's entries (tests, and a future RESET).
  static void reset_all();

 private:
  struct MemoEntry {
    uint64_t shape;
    QueryRef ref;
  };

  mutable std::mutex mutex_;
  size_t capacity_;
  std::list<QueryEntry> entries_;  // most recently updated first
  std::unordered_map<uint64_t, std::list<QueryEntry>::iterator> index_;
  uint64_t evictions_ = 0;

  // Memo: touched by the owning worker only, so outside mutex_ (the hit and miss counts
  // are single-writer atomics, read for metrics).
  std::list<MemoEntry> memo_;  // most recently used first
  std::unordered_map<uint64_t, std::list<MemoEntry>::iterator> memo_index_;
  std::atomic<uint64_t> memo_hits_{0};
  std::atomic<uint64_t> memo_misses_{0};
};

}  // namespace sluice::stats
