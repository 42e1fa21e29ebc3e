#include "pool/circuit_breaker.h"

#include <algorithm>

namespace sluice::pool {

namespace {
constexpr int kMaxDoublings = 30;  // base * 2^30 exceeds any sensible connect_retry_max
}

std::string_view to_string(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
  }
  return "closed";
}

std::chrono::milliseconds full_jitter_delay(std::chrono::milliseconds base,
                                            std::chrono::milliseconds max, int failures,
                                            std::mt19937_64& rng) {
  const int doublings = std::clamp(failures - 1, 0, kMaxDoublings);
  const int64_t ceiling = std::min<int64_t>(max.count(), base.count() << doublings);
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  std::uniform_int_distribution<int64_t> pick(0, ceiling);
  return std::chrono::milliseconds(pick(rng));
}

Admission CircuitBreaker::admit(time_point now) {
  Admission a;
  auto go = [&] {
    ++in_flight_;
    a.kind = Admission::Kind::kGo;
    a.started = now;
    return a;
  };
  auto wait_or_fail = [&](time_point until) {
    a.kind = settings_.fail_fast ? Admission::Kind::kFailFast : Admission::Kind::kWait;
    a.until = until;
    return a;
  };
  if (state_ == BreakerState::kOpen) {
    if (now < opened_at_ + settings_.open_time)
      return wait_or_fail(opened_at_ + settings_.open_time);
    state_ = BreakerState::kHalfOpen;
  }
  if (state_ == BreakerState::kHalfOpen) {
    if (in_flight_ > 0) return wait_or_fail(now + kRecheck);  // the probe decides
    return go();
  }
  if (failures_ == 0) return go();
  // Failing but not open: one attempt at a time, each after its backoff.
  a.kind = Admission::Kind::kWait;
  if (now < retry_at_) {
    a.until = retry_at_;
    return a;
  }
  if (in_flight_ > 0) {
    a.until = now + kRecheck;
    return a;
  }
  return go();
}

void CircuitBreaker::on_success() {
  if (in_flight_ > 0) --in_flight_;
  failures_ = 0;
  state_ = BreakerState::kClosed;
}

void CircuitBreaker::on_failure(time_point started, time_point now) {
  if (in_flight_ > 0) --in_flight_;
  const bool same_wave = failures_ > 0 && started < last_failure_;
  if (same_wave && state_ != BreakerState::kHalfOpen) return;
  last_failure_ = now;
  ++failures_;
  retry_at_ = now + full_jitter_delay(settings_.retry_base, settings_.retry_max, failures_, rng_);
  if (state_ == BreakerState::kHalfOpen ||
      (settings_.failures_to_open > 0 && failures_ >= settings_.failures_to_open)) {
    open(now);
  }
}

void CircuitBreaker::open(time_point now) {
  if (state_ != BreakerState::kOpen) ++times_opened_;
  state_ = BreakerState::kOpen;
  opened_at_ = now;
}

BreakerState CircuitBreaker::state(time_point now) const {
  if (state_ == BreakerState::kOpen && now >= opened_at_ + settings_.open_time) {
    return BreakerState::kHalfOpen;
  }
  return state_;
}

CircuitBreaker::time_point CircuitBreaker::next_attempt() const {
  return state_ == BreakerState::kOpen ? opened_at_ + settings_.open_time : retry_at_;
}

}  // namespace sluice::pool
