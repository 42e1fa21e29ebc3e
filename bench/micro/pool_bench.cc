// Pool hot path: what every transaction costs in transaction mode besides relaying bytes —
// acquiring an idle server connection from its Pool and releasing it, the per-connection
// prepared-statement LRU, and the per-worker traffic counters.
//
// No PostgreSQL is needed: the pool is seeded through release() with connections whose
// sockets are connected to a local listener that never sends anything (so the liveness peek
// acquire() makes on connections idle for 100 ms finds them alive). acquire() then
// takes the idle path, the one every transaction takes once the pool is warm (opening a
// connection is a server round trip and a login, not a micro-benchmark).
#include <benchmark/benchmark.h>

#include <asio.hpp>
#include <memory>
#include <string>
#include <vector>

#include "pool/pool.h"
#include "pool/statement_cache.h"
#include "stats/pool_stats.h"

namespace sluice::bench {
namespace {

struct PoolFixture {
  asio::io_context sockets_ctx;  // owns the seeded sockets (never used for I/O)
  asio::ip::tcp::acceptor listener{sockets_ctx, {asio::ip::address_v4::loopback(), 0}};
  std::vector<asio::ip::tcp::socket> peers;  // the other ends, kept open and silent
  pool::ServerTls tls{""};
  std::shared_ptr<pool::DatabaseState> db = std::make_shared<pool::DatabaseState>();
  std::unique_ptr<pool::Pool> pool;

  explicit PoolFixture(int connections) {
    pool::PoolOptions options;
    options.settings.pool_mode = config::PoolMode::kTransaction;
    options.settings.pool_size = connections;
    options.query_wait_timeout = std::chrono::seconds(10);
    pool::ServerTarget target{"127.0.0.1", 5432, "bench", "bench", config::ServerSslMode::kDisable};
    auto host =
        std::make_shared<pool::ServerHost>(target.host, target.port, pool::BreakerSettings{});
    pool = std::make_unique<pool::Pool>("bench", "bench", target, pool::ServerCredentials{},
                                        options, db, host, tls, /*worker_slots=*/2);
    for (int i = 0; i < connections; ++i) {
      asio::ip::tcp::socket socket(sockets_ctx);
      socket.connect(listener.local_endpoint());
      peers.push_back(listener.accept());
      auto conn = std::make_unique<pool::ServerConnection>(std::move(socket));
      conn->id = static_cast<uint64_t>(i + 1);
      conn->pool = pool.get();
      pool->release(std::move(conn));
    }
  }
};

// Acquire (an idle connection), release, repeat, on this thread's own event loop.
void acquire_release_loop(benchmark::State& state, PoolFixture& f) {
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          pool::AcquireResult r = co_await f.pool->acquire();
          if (!r.conn) {
            state.SkipWithError("acquire() returned no connection");
            break;
          }
          f.pool->release(std::move(r.conn));
        }
      },
      asio::detached);
  io.run();
  state.SetItemsProcessed(state.iterations());
}

// One worker.
void BM_PoolAcquireRelease(benchmark::State& state) {
  PoolFixture f(20);
  acquire_release_loop(state, f);
}
BENCHMARK(BM_PoolAcquireRelease);

// Workers sharing one pool (the mutex every acquire and release takes): each benchmark
// thread is a worker with its own event loop, as in `sluice serve --workers N`.
PoolFixture& shared_fixture() {
  static PoolFixture fixture(20);
  return fixture;
}

void BM_PoolAcquireReleaseShared(benchmark::State& state) {
  acquire_release_loop(state, shared_fixture());
}
BENCHMARK(BM_PoolAcquireReleaseShared)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// A server connection's prepared statements in transaction mode: a client's Parse of a
// statement the connection already has (contains + touch), or a new one (add, evicting the
// least recently used beyond the capacity). Names look like Sluice's server-side names.
std::vector<std::string> statement_names(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("sluice_s_" + std::to_string(1'000'003 * i));
  return names;
}

void BM_StatementCacheHit(benchmark::State& state) {
  const auto names = statement_names(static_cast<int>(state.range(0)));
  pool::ServerStatementCache cache;
  for (const auto& n : names) cache.add(n, names.size());
  size_t i = 0;
  for (auto _ : state) {
    const std::string& name = names[i++ % names.size()];
    if (cache.contains(name)) cache.touch(name);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StatementCacheHit)->Arg(16)->Arg(1000);

void BM_StatementCacheAddEvict(benchmark::State& state) {
  // Twice as many names as the capacity, in a cycle: every add misses and evicts.
  const size_t capacity = static_cast<size_t>(state.range(0));
  const auto names = statement_names(static_cast<int>(2 * capacity));
  pool::ServerStatementCache cache;
  size_t i = 0;
  for (auto _ : state) {
    auto victim = cache.add(names[i++ % names.size()], capacity);
    benchmark::DoNotOptimize(victim);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StatementCacheAddEvict)->Arg(100);

// The per-transaction counters (SHOW STATS): one slot per worker, relaxed stores.
void BM_PoolStatsAddXact(benchmark::State& state) {
  static stats::PoolStats pool_stats(4);
  stats::set_current_slot(state.thread_index() + 1);
  uint64_t us = 0;
  for (auto _ : state) {
    pool_stats.add_xact(++us & 1023);
    pool_stats.add_query(us & 511);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PoolStatsAddXact)->Threads(1)->Threads(2);

}  // namespace
}  // namespace sluice::bench
