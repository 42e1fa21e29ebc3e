// The priority gate on one event loop: order by priority, aging, reserved shares, load
// shedding and timeouts.
#include "pool/priority_gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace sluice::pool {
namespace {

using std::chrono::milliseconds;

config::ClassConfig cls(std::string name, int priority, int min = 0, int max_waiting = 0) {
  config::ClassConfig c;
  c.name = std::move(name);
  c.priority = priority;
  c.min_connections = min;
  c.max_waiting_clients = max_waiting;
  return c;
}

GateSettings settings(int budget, milliseconds aging = milliseconds(0)) {
  GateSettings s;
  s.budget = budget;
  s.aging = aging;
  s.classes = {cls("admin", 4, 1), cls("high", 3), cls("normal", 2), cls("low", 1, 0, 2)};
  return s;
}

// Runs enter() for each class name in order on one io_context; records who got in, in
// order, and errors by SQLSTATE.
struct Harness {
  asio::io_context io;
  PriorityGate gate;
  std::vector<std::string> admitted;
  std::vector<std::string> errors;
  std::vector<PriorityGate::Ticket> held;

  void enter(std::string name, milliseconds timeout = milliseconds(5000)) {
    asio::co_spawn(
        io,
        [this, name, timeout]() -> asio::awaitable<void> {
          PriorityGate::EnterResult r = co_await gate.enter(name, Clock::now() + timeout);
          if (r.error) {
            errors.push_back(name + ":" + r.error->sqlstate);
          } else {
            admitted.push_back(name);
            held.push_back(std::move(r.ticket));
          }
        },
        asio::detached);
    io.poll();
    io.restart();
  }
  // Frees the oldest held slot.
  void leave_first() {
    gate.leave(held.front());
    held.erase(held.begin());
    io.poll();
    io.restart();
  }
};

TEST(PriorityGateTest, OffWithoutClasses) {
  Harness h;
  h.gate.configure(GateSettings{});
  for (int i = 0; i < 10; ++i) h.enter("low");
  EXPECT_EQ(h.admitted.size(), 10U);
  EXPECT_FALSE(h.held.front());  // nothing to give back
}

TEST(PriorityGateTest, AdminsReservedConnectionIsHeldBack) {
  Harness h;
  h.gate.configure(settings(3));
  h.enter("normal");
  h.enter("normal");
  h.enter("normal");  // waits: the third connection is admin's
  EXPECT_EQ(h.admitted.size(), 2U);
  h.enter("admin");
  EXPECT_EQ(h.admitted.back(), "admin");
}

TEST(PriorityGateTest, HigherClassesAreServedFirstThenArrivalOrder) {
  Harness h;
  h.gate.configure(settings(2));  // one shared slot plus admin's
  h.enter("normal");              // holds the shared slot
  h.enter("low");
  h.enter("normal");
  h.enter("high");
  h.enter("high");
  ASSERT_EQ(h.admitted.size(), 1U);
  for (int i = 0; i < 4; ++i) h.leave_first();
  EXPECT_EQ(h.admitted, (std::vector<std::string>{"normal", "high", "high", "normal", "low"}));
}

TEST(PriorityGateTest, AgingLetsALongWaitingLowClientGoFirst) {
  Harness h;
  h.gate.configure(settings(2, milliseconds(10)));
  h.enter("normal");
  h.enter("low");
  std::this_thread::sleep_for(milliseconds(60));  // low gains 6 > the 2 steps to high
  h.enter("high");
  h.leave_first();
  EXPECT_EQ(h.admitted, (std::vector<std::string>{"normal", "low"}));
}

TEST(PriorityGateTest, PastMaxWaitingClientsTheClassShedsWith53300) {
  Harness h;
  h.gate.configure(settings(2));
  h.enter("low");
  h.enter("low");
  h.enter("low");
  h.enter("low");  // a third waiting: over max_waiting_clients = 2
  EXPECT_EQ(h.errors, (std::vector<std::string>{"low:53300"}));
  h.enter("normal");  // other classes still queue
  EXPECT_EQ(h.errors.size(), 1U);
  const auto snap = h.gate.snapshot();
  const auto low = std::find_if(snap.begin(), snap.end(), [](auto& c) { return c.name == "low"; });
  EXPECT_EQ(low->shed, 1U);
  EXPECT_EQ(low->waiting, 2);
}

TEST(PriorityGateTest, WaitingPastTheDeadlineFailsWithQueryWaitTimeout) {
  Harness h;
  h.gate.configure(settings(2));
  h.enter("normal");
  h.enter("normal", milliseconds(20));
  h.io.run_for(milliseconds(200));
  EXPECT_EQ(h.errors, (std::vector<std::string>{"normal:08P01"}));
}

TEST(PriorityGateTest, ReloadWithABiggerBudgetAdmitsWaiters) {
  Harness h;
  h.gate.configure(settings(2));
  h.enter("normal");
  h.enter("normal");
  EXPECT_EQ(h.admitted.size(), 1U);
  h.gate.configure(settings(3));
  h.io.poll();
  EXPECT_EQ(h.admitted.size(), 2U);
}

}  // namespace
}  // namespace sluice::pool
