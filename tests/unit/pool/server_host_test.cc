// ServerHost: which connection errors count against a host, the error clients get while it
// fails, and the suspect mark for connections older than a failure.
#include "pool/server_host.h"

#include <gtest/gtest.h>

namespace sluice::pool {
namespace {

using std::chrono::milliseconds;

ServerError error(std::string sqlstate, std::string message) {
  return ServerError{std::move(sqlstate), std::move(message), "FATAL"};
}

BreakerSettings two_failures_open() {
  BreakerSettings s;
  s.retry_base = milliseconds(1);
  s.retry_max = milliseconds(1);
  s.failures_to_open = 2;
  s.open_time = milliseconds(60000);
  return s;
}

// Fails one admitted attempt with `e` at `now`.
void fail(ServerHost& host, const ServerError& e, Clock::time_point now) {
  const Admission a = host.admit(now);
  ASSERT_EQ(a.kind, Admission::Kind::kGo);
  host.attempt_done(a, e, now);
}

TEST(ServerHostTest, TransientErrors) {
  EXPECT_TRUE(is_transient_connect_error(error("08006", "refused")));
  EXPECT_TRUE(is_transient_connect_error(error("08001", "unable")));
  EXPECT_TRUE(is_transient_connect_error(error("57P03", "starting up")));
  EXPECT_TRUE(is_transient_connect_error(error("57P01", "admin shutdown")));
  EXPECT_TRUE(is_transient_connect_error(error("53300", "too many connections")));
  EXPECT_FALSE(is_transient_connect_error(error("28P01", "password authentication failed")));
  EXPECT_FALSE(is_transient_connect_error(error("3D000", "no such database")));
}

TEST(ServerHostTest, AnAnswerFromTheServerIsNotAFailure) {
  ServerHost host("db", 5432, two_failures_open());
  const auto now = Clock::now();
  fail(host, error("28P01", "password authentication failed"), now);
  fail(host, error("28P01", "password authentication failed"), now + milliseconds(10));
  const HostSnapshot s = host.snapshot(now + milliseconds(10));
  EXPECT_EQ(s.breaker, BreakerState::kClosed);
  EXPECT_EQ(s.failed_attempts, 0u);
  EXPECT_FALSE(host.failing_error("x"));
}

TEST(ServerHostTest, FailingErrorNamesTheCauseAndTheBreaker) {
  ServerHost host("db.example", 6543, two_failures_open());
  auto now = Clock::now();
  fail(host, error("08006", "could not connect to server db.example:6543: Connection refused"),
       now);
  auto e = host.failing_error("no server connection within query_wait_timeout (2s)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sqlstate, "08006");
  EXPECT_EQ(e->message,
            "no server connection within query_wait_timeout (2s): server db.example:6543 is "
            "unavailable (could not connect to server db.example:6543: Connection refused)");
  now += milliseconds(10);
  fail(host, error("57P03", "the database system is starting up"), now);
  e = host.failing_error("failing fast");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sqlstate, "57P03");
  EXPECT_NE(e->message.find("circuit breaker open after 2 consecutive failed attempts"),
            std::string::npos)
      << e->message;
  const HostSnapshot s = host.snapshot(now);
  EXPECT_EQ(s.breaker, BreakerState::kOpen);
  EXPECT_EQ(s.failed_attempts, 2u);
  EXPECT_EQ(s.times_opened, 1u);
  EXPECT_GT(s.next_attempt_in.count(), 0);
  EXPECT_EQ(s.last_error, "the database system is starting up");
}

TEST(ServerHostTest, FailuresMarkOlderConnectionsSuspect) {
  ServerHost host("db", 5432, two_failures_open());
  EXPECT_EQ(host.suspect_before(), Clock::time_point());
  const auto now = Clock::now();
  fail(host, error("08006", "refused"), now);
  EXPECT_EQ(host.suspect_before(), now);
  host.mark_suspect(now - milliseconds(5));  // never moves back
  EXPECT_EQ(host.suspect_before(), now);
  host.mark_suspect(now + milliseconds(5));
  EXPECT_EQ(host.suspect_before(), now + milliseconds(5));
}

}  // namespace
}  // namespace sluice::pool
