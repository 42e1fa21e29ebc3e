#include "admin/metrics.h"

#include <map>

#include "admin/show_commands.h"
#include "admin/show_util.h"
#include "pool/server_host.h"
#include "router/statement_classifier.h"
#include "stats/process_stats.h"
#include "stats/prometheus_text.h"
#include "stats/proxy_counters.h"
#include "stats/query_stats.h"

namespace sluice::admin {

namespace {

constexpr double kMicrosPerSecond = 1e6;

using Lines = PoolLines;

double seconds(uint64_t us) { return static_cast<double>(us) / kMicrosPerSecond; }

void pool_gauges(stats::PrometheusText& m, const Lines& lines) {
  m.family("sluice_pool_clients", "gauge", "Logged-in clients per pool by state.");
  for (const auto& [key, l] : lines) {
    const auto& [db, user] = key;
    m.sample("sluice_pool_clients", {{"database", db}, {"user", user}, {"state", "active"}},
             static_cast<uint64_t>(l.cl_active));
    m.sample("sluice_pool_clients", {{"database", db}, {"user", user}, {"state", "waiting"}},
             static_cast<uint64_t>(l.cl_waiting));
  }
  m.family("sluice_pool_servers", "gauge",
           "Server connections per pool by state (used: idle but due a check; always 0, "
           "connections are checked when taken).");
  for (const auto& [key, l] : lines) {
    const auto& [db, user] = key;
    const std::pair<const char*, int> states[] = {
        {"active", l.sv.active}, {"idle", l.sv.idle}, {"used", 0}, {"opening", l.sv.opening}};
    for (const auto& [state, n] : states) {
      m.sample("sluice_pool_servers", {{"database", db}, {"user", user}, {"state", state}},
               static_cast<uint64_t>(n));
    }
  }
  m.family("sluice_pool_size", "gauge", "Configured pool_size per pool.");
  for (const auto& [key, l] : lines) {
    if (!l.pool) continue;
    m.sample("sluice_pool_size", {{"database", key.first}, {"user", key.second}},
             static_cast<uint64_t>(l.pool->options().settings.pool_size));
  }
  m.family("sluice_pool_max_wait_seconds", "gauge",
           "How long the oldest client queued for a server connection has waited.");
  for (const auto& [key, l] : lines) {
    m.sample("sluice_pool_max_wait_seconds", {{"database", key.first}, {"user", key.second}},
             seconds(static_cast<uint64_t>(l.max_wait_us)));
  }
}

void pool_counters(stats::PrometheusText& m, const Lines& lines) {
  std::vector<std::pair<const std::pair<std::string, std::string>*, stats::Totals>> totals;
  for (const auto& [key, l] : lines) {
    if (l.pool) totals.emplace_back(&key, l.pool->stats().totals());
  }
  struct Counter {
    const char* name;
    const char* help;
    uint64_t stats::Totals::*field;
    bool micros;
  };
  const Counter counters[] = {
      {"sluice_transactions_total", "Transactions completed.", &stats::Totals::xact_count, false},
      {"sluice_queries_total", "Requests completed (a Query, or a batch up to Sync).",
       &stats::Totals::query_count, false},
      {"sluice_received_bytes_total", "Bytes received from clients.",
       &stats::Totals::bytes_received, false},
      {"sluice_sent_bytes_total", "Bytes sent to clients.", &stats::Totals::bytes_sent, false},
      {"sluice_transaction_duration_seconds_total", "Time spent in transactions.",
       &stats::Totals::xact_time_us, true},
  };
  for (const Counter& c : counters) {
    m.family(c.name, "counter", c.help);
    for (const auto& [key, t] : totals) {
      const std::initializer_list<stats::Label> labels = {{"database", key->first},
                                                          {"user", key->second}};
      if (c.micros) {
        m.sample(c.name, labels, seconds(t.*c.field));
      } else {
        m.sample(c.name, labels, t.*c.field);
      }
    }
  }
  m.family("sluice_query_duration_seconds", "histogram",
           "Request duration as the client sees it, from the request to ReadyForQuery.");
  for (const auto& [key, t] : totals) {
    m.histogram("sluice_query_duration_seconds", {{"database", key->first}, {"user", key->second}},
                t.query_buckets, stats::kLatencyBoundsUs, kMicrosPerSecond,
                seconds(t.query_time_us));
  }
  m.family("sluice_wait_duration_seconds", "histogram",
           "Time clients waited for a server connection, per lease.");
  for (const auto& [key, t] : totals) {
    m.histogram("sluice_wait_duration_seconds", {{"database", key->first}, {"user", key->second}},
                t.wait_buckets, stats::kLatencyBoundsUs, kMicrosPerSecond, seconds(t.wait_time_us));
  }
}

void proxy_counters(stats::PrometheusText& m, server::ProxyContext& ctx) {
  const stats::CounterTotals t = stats::counters().totals();
  m.family("sluice_errors_total", "counter",
           "ErrorResponses sent to clients, by SQLSTATE class (first two characters).");
  for (const auto& [cls, n] : t.errors_by_class)
    m.sample("sluice_errors_total", {{"class", cls}}, n);
  m.family("sluice_prepared_statement_cache_hits_total", "counter",
           "Client prepared statements found on their server connection (transaction mode).");
  m.sample("sluice_prepared_statement_cache_hits_total", {}, t.statement_cache_hits);
  m.family("sluice_prepared_statement_cache_misses_total", "counter",
           "Client prepared statements that had to be prepared on their server connection.");
  m.sample("sluice_prepared_statement_cache_misses_total", {}, t.statement_cache_misses);
  const stats::QueryStatsSnapshot q = stats::QueryStats::snapshot();
  m.family("sluice_query_stats_entries", "gauge",
           "Per-fingerprint statistics entries held (bounded by stats.query_stats_max).");
  m.sample("sluice_query_stats_entries", {}, static_cast<uint64_t>(q.entries.size()));
  m.family("sluice_query_stats_evictions_total", "counter",
           "Statistics entries evicted, least recently updated first, to stay in bounds.");
  m.sample("sluice_query_stats_evictions_total", {}, q.evictions);
  m.family("sluice_slow_queries_total", "counter",
           "Requests slower than stats.slow_query_threshold.");
  m.sample("sluice_slow_queries_total", {}, t.slow_queries);

  std::array<uint64_t, router::kPinReasonCount> pinned{};
  for (const auto& c : ctx.clients.all()) {
    const uint8_t pins = c->pins.load(std::memory_order_relaxed);
    for (size_t r = 0; r < pinned.size(); ++r) pinned[r] += (pins >> r) & 1u;
  }
  m.family("sluice_pins_total", "counter",
           "Times a client got pinned to its server connection, by reason.");
  for (size_t r = 0; r < pinned.size(); ++r) {
    m.sample("sluice_pins_total",
             {{"reason", router::to_string(static_cast<router::PinReason>(r))}},
             ctx.pins_total[r].load(std::memory_order_relaxed));
  }
  m.family("sluice_pinned_clients", "gauge", "Clients pinned now, by reason.");
  for (size_t r = 0; r < pinned.size(); ++r) {
    m.sample("sluice_pinned_clients",
             {{"reason", router::to_string(static_cast<router::PinReason>(r))}}, pinned[r]);
  }
}

void backend_gauges(stats::PrometheusText& m, server::ProxyContext& ctx) {
  const config::Config& cfg = *ctx.config();
  // Every configured server has series from the start (a host is tracked from its first
  // connection attempt), so alerts and dashboards see 0 rather than nothing.
  std::map<std::string, pool::HostSnapshot> hosts;
  if (cfg.default_server) {
    hosts[cfg.default_server->host + ":" + std::to_string(cfg.default_server->port)] = {};
  }
  for (const auto& [name, db] : cfg.databases) hosts[db.host + ":" + std::to_string(db.port)] = {};
  for (pool::HostSnapshot& h : ctx.pools.hosts()) {
    hosts[h.host + ":" + std::to_string(h.port)] = std::move(h);
  }
  m.family("sluice_breaker_open", "gauge",
           "1 while the circuit breaker of a server is open or half-open (probing).");
  for (const auto& [h, s] : hosts) {
    m.sample("sluice_breaker_open", {{"host", h}},
             uint64_t{s.breaker != pool::BreakerState::kClosed});
  }
  m.family("sluice_server_connect_failures_total", "counter",
           "Failed connection attempts to a server (refused, reset, timed out, starting up).");
  for (const auto& [h, s] : hosts) {
    m.sample("sluice_server_connect_failures_total", {{"host", h}}, s.failed_attempts);
  }
  m.family("sluice_breaker_openings_total", "counter", "Times a server's breaker opened.");
  for (const auto& [h, s] : hosts) {
    m.sample("sluice_breaker_openings_total", {{"host", h}}, s.times_opened);
  }
}

void class_metrics(stats::PrometheusText& m, server::ProxyContext& ctx) {
  std::vector<std::pair<std::string, pool::ClassSnapshot>> classes;
  for (const auto& db : ctx.pools.databases()) {
    for (pool::ClassSnapshot& c : db->gate.snapshot()) classes.emplace_back(db->name, std::move(c));
  }
  if (classes.empty()) return;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    m.family(name, type, help);
    for (const auto& [db, c] : classes) {
      m.sample(name, {{"database", db}, {"class", c.name}}, static_cast<uint64_t>(value(c)));
    }
  };
  family("sluice_class_active", "gauge", "Server connections held by a priority class.",
         [](const pool::ClassSnapshot& c) { return c.active; });
  family("sluice_class_waiting", "gauge", "Clients of a priority class waiting for a slot.",
         [](const pool::ClassSnapshot& c) { return c.waiting; });
  family("sluice_class_served_total", "counter", "Slots granted to a priority class.",
         [](const pool::ClassSnapshot& c) { return c.served; });
  family("sluice_class_shed_total", "counter",
         "Requests refused with 53300 because max_waiting_clients were already waiting.",
         [](const pool::ClassSnapshot& c) { return c.shed; });
  family("sluice_class_wait_timeouts_total", "counter",
         "Clients of a priority class that waited past query_wait_timeout.",
         [](const pool::ClassSnapshot& c) { return c.timed_out; });
}

void process_gauges(stats::PrometheusText& m, server::ProxyContext& ctx) {
  const stats::ProcessStats p = stats::read_process_stats();
  m.family("sluice_process_cpu_seconds_total", "counter", "User and system CPU time.");
  m.sample("sluice_process_cpu_seconds_total", {}, p.cpu_seconds);
  m.family("sluice_process_resident_memory_bytes", "gauge", "Resident memory (VmRSS).");
  m.sample("sluice_process_resident_memory_bytes", {}, p.resident_bytes);
  m.family("sluice_process_virtual_memory_bytes", "gauge", "Virtual memory size.");
  m.sample("sluice_process_virtual_memory_bytes", {}, p.virtual_bytes);
  m.family("sluice_process_open_fds", "gauge", "Open file descriptors.");
  m.sample("sluice_process_open_fds", {}, p.open_fds);
  m.family("sluice_process_threads", "gauge", "Threads.");
  m.sample("sluice_process_threads", {}, p.threads);
  m.family("sluice_process_start_time_seconds", "gauge", "Start time, seconds since the epoch.");
  m.sample("sluice_process_start_time_seconds", {},
           static_cast<double>(
               std::chrono::duration_cast<std::chrono::seconds>(ctx.started.time_since_epoch())
                   .count()));
  m.family("sluice_clients", "gauge", "Connected clients, including those logging in.");
  m.sample("sluice_clients", {}, static_cast<uint64_t>(ctx.clients.size()));
  m.family("sluice_info", "gauge", "Version of the running proxy.");
  m.sample("sluice_info", {{"version", kVersion}}, uint64_t{1});
}

}  // namespace

std::string render_metrics(server::ProxyContext& ctx) {
  stats::PrometheusText m;
  const Lines lines = collect_pool_lines(ctx);
  pool_gauges(m, lines);
  pool_counters(m, lines);
  proxy_counters(m, ctx);
  backend_gauges(m, ctx);
  class_metrics(m, ctx);
  process_gauges(m, ctx);
  return m.take();
}

}  // namespace sluice::admin
