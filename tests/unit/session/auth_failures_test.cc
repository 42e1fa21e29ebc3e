// AuthFailures: growing delays per address, the cap, forgetting after a success or a
// quiet period, the bound on tracked addresses, and the address keys.
#include "session/auth_failures.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::session {
namespace {

using Millis = AuthFailures::Millis;
using std::chrono::seconds;

const AuthFailures::Settings kSettings{Millis(100), Millis(1000), seconds(60)};

std::vector<int64_t> delays(AuthFailures& f, const std::string& address, int n,
                            AuthFailures::Clock::time_point now) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(f.on_failure(address, kSettings, now).count());
  return out;
}

TEST(AuthFailuresTest, FirstFailureIsFreeThenDoublingUpToTheCap) {
  AuthFailures f;
  const auto now = AuthFailures::Clock::now();
  EXPECT_EQ(delays(f, "10.0.0.1", 7, now),
            (std::vector<int64_t>{0, 100, 200, 400, 800, 1000, 1000}));
  EXPECT_EQ(f.failures("10.0.0.1", kSettings, now), 7);
}

TEST(AuthFailuresTest, OtherAddressesAreNotSlowed) {
  AuthFailures f;
  const auto now = AuthFailures::Clock::now();
  delays(f, "10.0.0.1", 5, now);
  EXPECT_EQ(f.on_failure("10.0.0.2", kSettings, now), Millis(0));
  EXPECT_EQ(f.on_failure("10.0.0.2", kSettings, now), Millis(100));
  EXPECT_EQ(f.on_failure("10.0.0.1", kSettings, now), Millis(1000));
}

TEST(AuthFailuresTest, SuccessForgetsTheAddress) {
  AuthFailures f;
  const auto now = AuthFailures::Clock::now();
  delays(f, "10.0.0.1", 4, now);
  delays(f, "10.0.0.2", 2, now);
  f.on_success("10.0.0.1");
  EXPECT_EQ(f.failures("10.0.0.1", kSettings, now), 0);
  EXPECT_EQ(f.failures("10.0.0.2", kSettings, now), 2);
  EXPECT_EQ(f.on_failure("10.0.0.1", kSettings, now), Millis(0));
  f.on_success("10.0.0.9");  // unknown: nothing happens
  EXPECT_EQ(f.size(), 2u);
}

TEST(AuthFailuresTest, QuietPeriodForgets) {
  AuthFailures f;
  const auto t0 = AuthFailures::Clock::now();
  delays(f, "10.0.0.1", 3, t0);
  // Failures closer together than forget_after keep counting...
  EXPECT_EQ(f.on_failure("10.0.0.1", kSettings, t0 + seconds(59)), Millis(400));
  // ... a quiet period as long starts over.
  const auto later = t0 + seconds(59) + seconds(60);
  EXPECT_EQ(f.failures("10.0.0.1", kSettings, later), 0);
  EXPECT_EQ(f.on_failure("10.0.0.1", kSettings, later), Millis(0));
  EXPECT_EQ(f.size(), 1u);
}

TEST(AuthFailuresTest, ForgottenEntriesArePrunedOnTheNextFailure) {
  AuthFailures f;
  const auto t0 = AuthFailures::Clock::now();
  for (int i = 0; i < 50; ++i) f.on_failure("10.0.1." + std::to_string(i), kSettings, t0);
  EXPECT_EQ(f.size(), 50u);
  f.on_failure("10.0.2.1", kSettings, t0 + seconds(61));
  EXPECT_EQ(f.size(), 1u);
}

TEST(AuthFailuresTest, TrackedAddressesAreBounded) {
  AuthFailures f(/*max_addresses=*/3);
  const auto now = AuthFailures::Clock::now();
  delays(f, "a", 3, now);
  delays(f, "b", 3, now);
  delays(f, "c", 3, now);
  delays(f, "a", 1, now);  // "a" failed most recently now: "b" is the oldest
  delays(f, "d", 1, now);
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f.failures("b", kSettings, now), 0);
  EXPECT_EQ(f.failures("a", kSettings, now), 4);
  EXPECT_EQ(f.failures("c", kSettings, now), 3);
  EXPECT_EQ(f.failures("d", kSettings, now), 1);
}

TEST(AuthFailuresTest, ZeroDelayTurnsItOff) {
  AuthFailures f;
  const AuthFailures::Settings off{Millis(0), Millis(1000), seconds(60)};
  const auto now = AuthFailures::Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.on_failure("10.0.0.1", off, now), Millis(0));
  EXPECT_TRUE(f.empty());
}

TEST(AuthFailuresTest, ManyFailuresDoNotOverflow) {
  AuthFailures f;
  const AuthFailures::Settings big{Millis(1000), seconds(8760 * 3600), seconds(60)};
  const auto now = AuthFailures::Clock::now();
  Millis last{0};
  for (int i = 0; i < 200; ++i) {
    const Millis d = f.on_failure("10.0.0.1", big, now);
    EXPECT_GE(d, last);
    EXPECT_LE(d, big.delay_max);
    last = d;
  }
  EXPECT_EQ(last, big.delay_max);
}

TEST(AuthFailuresTest, AddressKeys) {
  auto key = [](const char* a) { return AuthFailures::address_key(asio::ip::make_address(a)); };
  EXPECT_EQ(key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(key("::ffff:192.0.2.7"), "192.0.2.7");  // IPv4 client on a [::] listener
  EXPECT_EQ(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  EXPECT_EQ(key("::1"), "::/64");
}

}  // namespace
}  // namespace sluice::session
