// Who gets a released connection when clients on two workers wait for it: one on the
// connection's own worker when it arrived within the slack of the first in line, else
// the first in line. How waits end at query_wait_timeout, kept by one timer per pool for
// all waiters. And try_acquire_idle(), the lease without a wait, and the wait with a
// Pool::Ticket it takes when every connection is busy. No PostgreSQL is needed:
// the pool holds one connection whose socket is connected to a local listener that never
// sends anything.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pool/health_check.h"
#include "pool/pool.h"

namespace sluice::pool {
namespace {

struct OneConnectionPool {
  asio::io_context home;   // the worker the connection's socket is registered with
  asio::io_context other;  // another worker
  asio::ip::tcp::acceptor listener{home, {asio::ip::address_v4::loopback(), 0}};
  asio::ip::tcp::socket peer{home};  // the silent server end
  ServerTls tls{""};
  std::shared_ptr<Pool> pool;
  std::vector<ServerPtr> leased;  // kept, so that no slot frees up behind the test's back

  explicit OneConnectionPool(std::chrono::microseconds slack,
                             std::chrono::milliseconds wait_timeout = std::chrono::seconds(10)) {
    PoolOptions options;
    options.local_hand_off_slack = slack;
    options.settings.pool_mode = config::PoolMode::kTransaction;
    // The seeded connection below is not counted against pool_size (the pool did not open
    // it), so a size of 0 keeps waiters from opening one of their own.
    options.settings.pool_size = 0;
    options.query_wait_timeout = wait_timeout;
    ServerTarget target{"127.0.0.1", 5432, "db", "user", config::ServerSslMode::kDisable};
    auto host = std::make_shared<ServerHost>(target.host, target.port, BreakerSettings{});
    pool = std::make_shared<Pool>("db", "user", target, ServerCredentials{}, options,
                                  std::make_shared<DatabaseState>(), host, tls, 2);
    asio::ip::tcp::socket socket(home);
    socket.connect(listener.local_endpoint());
    peer = listener.accept();
    auto conn = std::make_unique<ServerConnection>(std::move(socket));
    conn->id = 1;
    conn->pool = pool.get();
    pool->release(std::move(conn));
  }

  // Starts a client waiting on `ctx`; `winner` is set to `name` when it gets the connection.
  void wait_on(asio::io_context& ctx, std::string name, std::string& winner) {
    asio::co_spawn(
        ctx,
        [this, name, &winner]() -> asio::awaitable<void> {
          AcquireResult r = co_await pool->acquire();
          if (r.conn && winner.empty()) winner = name;
          leased.push_back(std::move(r.conn));
        },
        asio::detached);
    ctx.poll();  // runs until the client is queued
  }

  void run_both() {
    for (int i = 0; i < 20; ++i) {
      home.poll();
      other.poll();
      home.restart();
      other.restart();
    }
  }
};

ServerPtr take(OneConnectionPool& p) {
  ServerPtr conn;
  asio::co_spawn(
      p.home, [&p, &conn]() -> asio::awaitable<void> { conn = (co_await p.pool->acquire()).conn; },
      asio::detached);
  p.home.poll();
  p.home.restart();
  return conn;
}

TEST(PoolHandOff, AClientOnTheConnectionsWorkerThatArrivedJustAfterGoesFirst) {
  OneConnectionPool p(std::chrono::seconds(5));  // "just after" however slow the machine
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  std::string winner;
  p.wait_on(p.other, "first in line, other worker", winner);
  p.wait_on(p.home, "just after, same worker", winner);
  p.pool->release(std::move(held));
  p.run_both();
  EXPECT_EQ(winner, "just after, same worker");
  EXPECT_EQ(p.pool->snapshot().waiting, 1);
}

TEST(PoolHandOff, ArrivalOrderWinsBeyondTheSlack) {
  OneConnectionPool p(std::chrono::milliseconds(1));
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  std::string winner;
  p.wait_on(p.other, "first in line, other worker", winner);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // well past the slack
  p.wait_on(p.home, "much later, same worker", winner);
  p.pool->release(std::move(held));
  p.run_both();
  EXPECT_EQ(winner, "first in line, other worker");
  EXPECT_EQ(p.pool->snapshot().waiting, 1);
}

TEST(PoolHandOff, ReleaseCanResumeAWaiterOnItsOwnWorkerInline) {
  // What the pump does at a transaction's end: the next client on that worker runs at
  // once, inside release(), instead of an event-loop round later.
  OneConnectionPool p(std::chrono::milliseconds(1));
  std::string winner;
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  p.wait_on(p.home, "waiter", winner);
  p.home.restart();
  std::string seen_in_release;  // who had the connection when release() returned
  asio::post(p.home, [&] {
    p.pool->release(std::move(held), Clock::now(), /*resume_here=*/true);
    seen_in_release = winner;
  });
  p.home.poll_one();  // runs the release only
  EXPECT_EQ(seen_in_release, "waiter");
  ASSERT_EQ(p.leased.size(), 1u);
  // Without resume_here, the next one waits for its event loop's next round.
  std::string second;
  p.home.restart();
  p.wait_on(p.home, "second", second);
  p.home.restart();
  asio::post(p.home, [&] {
    p.pool->release(std::move(p.leased.back()), Clock::now());
    seen_in_release = second;
  });
  p.home.poll_one();
  EXPECT_EQ(seen_in_release, "");
  p.run_both();
  EXPECT_EQ(second, "second");
}

// A client that waits for a connection on `ctx`; `ended_after` is set when its wait ends,
// with `error` (empty when it got a connection).
struct TimedWait {
  std::optional<std::chrono::milliseconds> ended_after;
  std::string error;
};

void wait_timed(asio::io_context& ctx, std::shared_ptr<Pool> pool, TimedWait& out) {
  asio::co_spawn(
      ctx,
      [pool, &out]() -> asio::awaitable<void> {
        const auto start = Clock::now();
        AcquireResult r = co_await pool->acquire();
        out.ended_after =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        if (r.error) out.error = r.error->message;
      },
      asio::detached);
  ctx.poll();  // runs until the client is queued
  ctx.restart();
}

// Runs `ctx` until `w`'s wait ends, for up to 5 s.
void run_until_ended(asio::io_context& ctx, const TimedWait& w) {
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (!w.ended_after && Clock::now() < give_up) {
    ctx.run_for(std::chrono::milliseconds(10));
    ctx.restart();
  }
}

// `w` ended with query_wait_timeout's error, well before the 30 s a lost timer would take.
void expect_timed_out(const TimedWait& w) {
  ASSERT_TRUE(w.ended_after);
  EXPECT_LT(w.ended_after->count(), 2000);
  EXPECT_NE(w.error.find("query_wait_timeout"), std::string::npos) << w.error;
}

TEST(PoolWait, EndsAtQueryWaitTimeout) {
  OneConnectionPool p(std::chrono::milliseconds(1), std::chrono::milliseconds(150));
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  TimedWait w;
  wait_timed(p.home, p.pool, w);
  EXPECT_EQ(p.pool->snapshot().waiting, 1);
  run_until_ended(p.home, w);
  expect_timed_out(w);
  EXPECT_GE(w.ended_after->count(), 140);
  EXPECT_EQ(p.pool->snapshot().waiting, 0);
}

TEST(PoolWait, EachWaiterKeepsItsOwnLimitAfterAReload) {
  // The pool's one timer is set for the earliest limit: a later arrival with a shorter
  // one (after a RELOAD) must not wait for the longer limit of the client ahead of it.
  OneConnectionPool p(std::chrono::milliseconds(1), std::chrono::seconds(30));
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  TimedWait patient;
  wait_timed(p.home, p.pool, patient);
  PoolOptions shorter = p.pool->options();
  shorter.query_wait_timeout = std::chrono::milliseconds(150);
  p.pool->set_options(shorter);
  TimedWait impatient;
  wait_timed(p.home, p.pool, impatient);
  run_until_ended(p.home, impatient);
  expect_timed_out(impatient);
  EXPECT_FALSE(patient.ended_after);  // still waiting, its place kept
  EXPECT_EQ(p.pool->snapshot().waiting, 1);
  // And it still gets the connection when it comes back.
  p.pool->release(std::move(held));
  run_until_ended(p.home, patient);
  ASSERT_TRUE(patient.ended_after);
  EXPECT_EQ(patient.error, "");
}

TEST(PoolTryAcquireIdle, LeasesARecentlyUsedIdleConnectionAtOnce) {
  OneConnectionPool p(std::chrono::milliseconds(1));
  ServerPtr conn = p.pool->try_acquire_idle(p.home.get_executor(), Clock::now());
  ASSERT_TRUE(conn);
  EXPECT_EQ(conn->id, 1);
  EXPECT_EQ(p.pool->snapshot().idle, 0);
  EXPECT_FALSE(p.pool->try_acquire_idle(p.home.get_executor(), Clock::now()));  // none left
  p.pool->release(std::move(conn));
  EXPECT_EQ(p.pool->snapshot().idle, 1);
}

TEST(PoolTryAcquireIdle, LeavesConnectionsThatNeedALookToAcquire) {
  OneConnectionPool p(std::chrono::milliseconds(1));
  // Idle long enough that acquire() first makes sure the server has not closed it.
  const auto later = Clock::now() + kPeekAfterIdle + std::chrono::milliseconds(1);
  EXPECT_FALSE(p.pool->try_acquire_idle(p.home.get_executor(), later));
  EXPECT_EQ(p.pool->snapshot().idle, 1);  // still there, for acquire()
  ServerPtr conn = take(p);
  ASSERT_TRUE(conn);
  EXPECT_EQ(conn->id, 1);
}

// try_acquire_idle() with every connection busy: nothing leased, `ticket` queued.
void queue_with_ticket(OneConnectionPool& p, Pool::Ticket& ticket) {
  EXPECT_FALSE(p.pool->try_acquire_idle(p.home.get_executor(), Clock::now(), &ticket));
}

// A client waiting with a ticket on `ctx`: `woken` once wait_turn() completes.
void wait_with_ticket(asio::io_context& ctx, Pool& pool, Pool::Ticket& ticket, bool& woken) {
  asio::co_spawn(
      ctx,
      [&pool, &ticket, &woken]() -> asio::awaitable<void> {
        co_await pool.wait_turn(ticket, asio::use_awaitable);
        woken = true;
      },
      asio::detached);
  ctx.poll();
  ctx.restart();
}

TEST(PoolTicket, ABusyPoolQueuesTheCallerForTheNextRelease) {
  OneConnectionPool p(std::chrono::milliseconds(1));
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  Pool::Ticket ticket;
  queue_with_ticket(p, ticket);
  ASSERT_TRUE(ticket.queued());
  EXPECT_EQ(p.pool->snapshot().waiting, 1);
  bool woken = false;
  wait_with_ticket(p.home, *p.pool, ticket, woken);
  EXPECT_FALSE(woken);
  p.pool->release(std::move(held));
  p.run_both();
  EXPECT_TRUE(woken);
  Pool::Handed handed = p.pool->take_handed(ticket);
  ASSERT_TRUE(handed.conn);
  EXPECT_EQ(handed.conn->id, 1);
  EXPECT_GE(handed.waited.count(), 0);
  EXPECT_FALSE(ticket.queued());
  EXPECT_EQ(p.pool->snapshot().waiting, 0);
  EXPECT_EQ(p.pool->snapshot().active, 1);
}

TEST(PoolTicket, AHandOverBeforeTheWaitBeginsIsNotLost) {
  OneConnectionPool p(std::chrono::milliseconds(1));
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  Pool::Ticket ticket;
  queue_with_ticket(p, ticket);
  p.pool->release(std::move(held));  // before the client's wait_turn()
  bool woken = false;
  wait_with_ticket(p.home, *p.pool, ticket, woken);
  p.run_both();
  EXPECT_TRUE(woken);
  EXPECT_TRUE(p.pool->take_handed(ticket).conn);
}

TEST(PoolTicket, ArrivalOrderHoldsBetweenTicketsAndAcquire) {
  OneConnectionPool p(std::chrono::milliseconds(1));
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  Pool::Ticket ticket;
  queue_with_ticket(p, ticket);
  bool woken = false;
  wait_with_ticket(p.home, *p.pool, ticket, woken);
  std::string winner;
  p.wait_on(p.home, "later, through acquire()", winner);
  p.pool->release(std::move(held));
  p.run_both();
  EXPECT_TRUE(woken);
  EXPECT_TRUE(p.pool->take_handed(ticket).conn);
  EXPECT_EQ(winner, "");
  EXPECT_EQ(p.pool->snapshot().waiting, 1);
}

TEST(PoolTicket, AWaitThatEndsWithoutAConnectionGoesOnInAcquire) {
  OneConnectionPool p(std::chrono::milliseconds(1), std::chrono::milliseconds(150));
  ServerPtr held = take(p);
  ASSERT_TRUE(held);
  Pool::Ticket ticket;
  queue_with_ticket(p, ticket);
  bool woken = false;
  wait_with_ticket(p.home, *p.pool, ticket, woken);
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (!woken && Clock::now() < give_up) {
    p.home.run_for(std::chrono::milliseconds(10));
    p.home.restart();
  }
  ASSERT_TRUE(woken);  // by its time limit
  EXPECT_FALSE(p.pool->take_handed(ticket).conn);
  ASSERT_TRUE(ticket.queued());  // kept for acquire()
  std::optional<AcquireResult> result;
  asio::co_spawn(
      p.home,
      [&]() -> asio::awaitable<void> { result = co_await p.pool->acquire(std::move(ticket)); },
      asio::detached);
  p.home.poll();
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->conn);
  ASSERT_TRUE(result->error);
  EXPECT_NE(result->error->message.find("query_wait_timeout"), std::string::npos);
  EXPECT_GE(result->waited.count(), 140000);
  EXPECT_EQ(p.pool->snapshot().waiting, 0);
}

TEST(PoolTicket, AnIdleConnectionIsLeasedWithoutOne) {
  OneConnectionPool p(std::chrono::milliseconds(1));
  Pool::Ticket ticket;
  ServerPtr conn = p.pool->try_acquire_idle(p.home.get_executor(), Clock::now(), &ticket);
  EXPECT_TRUE(conn);
  EXPECT_FALSE(ticket.queued());
  EXPECT_EQ(p.pool->snapshot().waiting, 0);
}

}  // namespace
}  // namespace sluice::pool
