#include "net/wake_up.h"

#include <gtest/gtest.h>

#include <asio.hpp>

#include "net/no_throw.h"

namespace sluice::net {
namespace {

// A coroutine that waits twice and counts how far it got.
asio::awaitable<void> wait_twice(WakeUp& wake, int& steps) {
  co_await wake.wait(kNoThrow);
  ++steps;
  co_await wake.wait(kNoThrow);
  ++steps;
}

TEST(WakeUp, NotifyResumesTheWaiterInlineOnItsThread) {
  asio::io_context io;
  WakeUp wake;
  int steps = 0;
  bool checked = false;
  asio::co_spawn(io, wait_twice(wake, steps), asio::detached);
  asio::post(io, [&] {
    ASSERT_TRUE(wake.waiting());
    wake.notify();
    EXPECT_EQ(steps, 1);  // resumed before notify() returned, and waiting again
    EXPECT_TRUE(wake.waiting());
    wake.notify();
    EXPECT_EQ(steps, 2);
    EXPECT_FALSE(wake.waiting());
    wake.notify();  // nobody waits: nothing happens
    checked = true;
  });
  io.run();
  EXPECT_TRUE(checked);
  EXPECT_EQ(steps, 2);
}

TEST(WakeUp, NotifyLaterResumesOnlyThroughTheEventLoop) {
  asio::io_context io;
  WakeUp wake;
  int steps = 0;
  asio::co_spawn(io, wait_twice(wake, steps), asio::detached);
  asio::post(io, [&] {
    wake.notify_later();
    EXPECT_EQ(steps, 0);
    EXPECT_FALSE(wake.waiting());
  });
  io.run_one();  // the coroutine's start
  io.run_one();  // the notify_later() above
  EXPECT_EQ(steps, 0);
  io.run_one();  // the resumption it posted
  EXPECT_EQ(steps, 1);
  EXPECT_TRUE(wake.waiting());
  asio::post(io, [&] { wake.notify(); });
  io.run();
  EXPECT_EQ(steps, 2);
}

}  // namespace
}  // namespace sluice::net
