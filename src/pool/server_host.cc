#include "pool/server_host.h"

#include <fmt/format.h>

#include "protocol/builder.h"

namespace sluice::pool {

namespace sqlstate = protocol::sqlstate;

bool is_transient_connect_error(const ServerError& error) {
  const std::string& s = error.sqlstate;
  return s.starts_with("08") || s == sqlstate::kAdminShutdown || s == "57P02" ||
         s == sqlstate::kCannotConnectNow || s == sqlstate::kTooManyConnections;
}

void ServerHost::set_settings(const BreakerSettings& settings) {
  std::lock_guard lock(mutex_);
  breaker_.set_settings(settings);
}

bool ServerHost::fail_fast() const {
  std::lock_guard lock(mutex_);
  return breaker_.settings().fail_fast;
}

Admission ServerHost::admit(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return breaker_.admit(now);
}

void ServerHost::attempt_done(const Admission& admission, const std::optional<ServerError>& error,
                              Clock::time_point now) {
  const bool failed = error && is_transient_connect_error(*error);
  if (failed) mark_suspect(now);  // whatever is still open predates the failure
  std::lock_guard lock(mutex_);
  if (!failed) {
    breaker_.on_success();
    return;
  }
  ++failed_attempts_;
  last_error_ = error;
  breaker_.on_failure(admission.started, now);
}

std::optional<ServerError> ServerHost::failing_error(std::string_view context) const {
  std::lock_guard lock(mutex_);
  if (!breaker_.failing() || !last_error_) return std::nullopt;
  // 57P03 tells the client the server is starting or stopping; anything else is 08006.
  const bool not_now = last_error_->sqlstate == sqlstate::kCannotConnectNow ||
                       last_error_->sqlstate == sqlstate::kAdminShutdown;
  const auto now = Clock::now();
  std::string breaker;
  if (breaker_.state(now) != BreakerState::kClosed) {
    breaker = fmt::format("; circuit breaker {} after {} consecutive failed attempts",
                          to_string(breaker_.state(now)), breaker_.consecutive_failures());
  }
  return ServerError{
      std::string(not_now ? sqlstate::kCannotConnectNow : sqlstate::kConnectionFailure),
      fmt::format("{}: server {}:{} is unavailable ({}){}", context, host_, port_,
                  last_error_->message, breaker),
      "ERROR"};
}

void ServerHost::mark_suspect(Clock::time_point now) {
  const Clock::rep t = now.time_since_epoch().count();
  Clock::rep seen = suspect_before_.load(std::memory_order_relaxed);
  while (seen < t && !suspect_before_.compare_exchange_weak(seen, t, std::memory_order_release)) {
  }
}

HostSnapshot ServerHost::snapshot(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  HostSnapshot s;
  s.host = host_;
  s.port = port_;
  s.breaker = breaker_.state(now);
  s.consecutive_failures = breaker_.consecutive_failures();
  s.failed_attempts = failed_attempts_;
  s.times_opened = breaker_.times_opened();
  if (last_error_) s.last_error = last_error_->message;
  const auto next = breaker_.next_attempt();
  if (breaker_.failing() && next > now) {
    s.next_attempt_in = std::chrono::duration_cast<std::chrono::milliseconds>(next - now);
  }
  return s;
}

}  // namespace sluice::pool
