// The retry backoff and circuit breaker state machine, with a fake clock.
#include "pool/circuit_breaker.h"

#include <gtest/gtest.h>

namespace sluice::pool {
namespace {

using std::chrono::milliseconds;
using Kind = Admission::Kind;

BreakerSettings settings(int failures_to_open, bool fail_fast) {
  BreakerSettings s;
  s.retry_base = milliseconds(100);
  s.retry_max = milliseconds(1000);
  s.failures_to_open = failures_to_open;
  s.open_time = milliseconds(5000);
  s.fail_fast = fail_fast;
  return s;
}

const BreakerClock::time_point t0{std::chrono::hours(1)};

// Starts an attempt (which must be admitted) and fails it at `now`.
void fail_one(CircuitBreaker& b, BreakerClock::time_point now) {
  const Admission a = b.admit(now);
  ASSERT_EQ(a.kind, Kind::kGo);
  b.on_failure(a.started, now);
}

TEST(FullJitterTest, StaysWithinTheCappedExponentialCeiling) {
  std::mt19937_64 rng(7);
  for (int failures = 1; failures <= 40; ++failures) {
    const int64_t ceiling = std::min<int64_t>(1000, int64_t{100} << std::min(failures - 1, 30));
    int64_t seen_max = 0;
    for (int i = 0; i < 200; ++i) {
      const auto d = full_jitter_delay(milliseconds(100), milliseconds(1000), failures, rng);
      ASSERT_GE(d.count(), 0);
      ASSERT_LE(d.count(), ceiling);
      seen_max = std::max(seen_max, d.count());
    }
    EXPECT_GT(seen_max, ceiling / 2) << "jitter never comes near the ceiling";
  }
}

TEST(CircuitBreakerTest, HealthyHostAdmitsEveryAttemptAtOnce) {
  CircuitBreaker b(settings(3, true), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.admit(t0).kind, Kind::kGo);
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
  EXPECT_FALSE(b.failing());
}

TEST(CircuitBreakerTest, RetriesOneAtATimeAfterTheBackoff) {
  CircuitBreaker b(settings(0, true), 1);
  fail_one(b, t0);
  EXPECT_TRUE(b.failing());
  const Admission wait = b.admit(t0);
  ASSERT_EQ(wait.kind, Kind::kWait);
  EXPECT_LE(wait.until, t0 + milliseconds(100));
  const auto later = t0 + milliseconds(101);
  const Admission go = b.admit(later);
  ASSERT_EQ(go.kind, Kind::kGo);
  // A second attempt waits for the first one's outcome.
  EXPECT_EQ(b.admit(later).kind, Kind::kWait);
  b.on_success();
  EXPECT_FALSE(b.failing());
  EXPECT_EQ(b.admit(later).kind, Kind::kGo);
}

TEST(CircuitBreakerTest, AttemptsFailingTogetherCountOnce) {
  CircuitBreaker b(settings(3, true), 1);
  const Admission a1 = b.admit(t0);
  const Admission a2 = b.admit(t0);
  const Admission a3 = b.admit(t0);
  b.on_failure(a1.started, t0 + milliseconds(1));
  b.on_failure(a2.started, t0 + milliseconds(2));
  b.on_failure(a3.started, t0 + milliseconds(3));
  EXPECT_EQ(b.consecutive_failures(), 1);
  EXPECT_EQ(b.state(t0 + milliseconds(3)), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndFailsFast) {
  CircuitBreaker b(settings(3, true), 1);
  auto now = t0;
  for (int i = 0; i < 3; ++i) {
    now += milliseconds(2000);  // past any backoff
    fail_one(b, now);
  }
  EXPECT_EQ(b.state(now), BreakerState::kOpen);
  EXPECT_EQ(b.times_opened(), 1u);
  EXPECT_EQ(b.admit(now).kind, Kind::kFailFast);
  EXPECT_EQ(b.admit(now + milliseconds(4999)).kind, Kind::kFailFast);
}

TEST(CircuitBreakerTest, WithoutFailFastClientsWaitForTheProbe) {
  CircuitBreaker b(settings(1, false), 1);
  fail_one(b, t0);
  const Admission a = b.admit(t0 + milliseconds(10));
  ASSERT_EQ(a.kind, Kind::kWait);
  EXPECT_EQ(a.until, t0 + milliseconds(5000));
}

TEST(CircuitBreakerTest, HalfOpenProbeClosesOnSuccess) {
  CircuitBreaker b(settings(1, true), 1);
  fail_one(b, t0);
  const auto later = t0 + milliseconds(5000);
  EXPECT_EQ(b.state(later), BreakerState::kHalfOpen);
  const Admission probe = b.admit(later);
  ASSERT_EQ(probe.kind, Kind::kGo);
  EXPECT_EQ(b.admit(later).kind, Kind::kFailFast) << "only one probe at a time";
  b.on_success();
  EXPECT_EQ(b.state(later), BreakerState::kClosed);
  EXPECT_EQ(b.admit(later).kind, Kind::kGo);
}

TEST(CircuitBreakerTest, HalfOpenProbeFailureOpensAgain) {
  CircuitBreaker b(settings(1, true), 1);
  fail_one(b, t0);
  const auto later = t0 + milliseconds(5000);
  fail_one(b, later);
  EXPECT_EQ(b.state(later), BreakerState::kOpen);
  EXPECT_EQ(b.times_opened(), 2u);
  EXPECT_EQ(b.next_attempt(), later + milliseconds(5000));
}

TEST(CircuitBreakerTest, ZeroFailuresToOpenNeverOpens) {
  CircuitBreaker b(settings(0, true), 1);
  auto now = t0;
  for (int i = 0; i < 50; ++i) {
    now += milliseconds(2000);
    fail_one(b, now);
  }
  EXPECT_EQ(b.state(now), BreakerState::kClosed);
  EXPECT_EQ(b.consecutive_failures(), 50);
}

}  // namespace
}  // namespace sluice::pool
