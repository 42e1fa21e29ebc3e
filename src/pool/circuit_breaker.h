// When may the proxy try to connect to a server host again? Exponential backoff with full
// jitter between failed attempts, and a circuit breaker that stops attempts (and, when
// configured, fails waiting clients at once) after too many consecutive failures.
//
// Plain state machine: no locking, no I/O, time and randomness passed in, so it can be
// unit-tested. ServerHost (server_host.h) owns one per host:port behind its mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

namespace sluice::pool {

using BreakerClock = std::chrono::steady_clock;

struct BreakerSettings {
  std::chrono::milliseconds retry_base{100};  // connect_retry_base
  std::chrono::milliseconds retry_max{5000};  // connect_retry_max
  int failures_to_open = 5;                   // breaker_failures; 0 = never opens
  std::chrono::milliseconds open_time{5000};  // breaker_open_time
  bool fail_fast = true;                      // breaker_fail_fast
};

enum class BreakerState {
  kClosed,    // attempts allowed (one at a time, after a backoff, while failing)
  kOpen,      // no attempts until open_time has passed
  kHalfOpen,  // one probe attempt decides: success closes, failure opens again
};
std::string_view to_string(BreakerState state);

// The answer to "may I start a connection attempt now?".
struct Admission {
  enum class Kind {
    kGo,        // start it, then report the outcome with on_success()/on_failure()
    kWait,      // ask again at `until`
    kFailFast,  // the breaker is open and fails clients fast: give up now
  };
  Kind kind = Kind::kGo;
  BreakerClock::time_point until{};    // kWait
  BreakerClock::time_point started{};  // kGo: pass back with the outcome
};

// A random delay in [0, min(max, base * 2^(failures - 1))] ("full jitter").
std::chrono::milliseconds full_jitter_delay(std::chrono::milliseconds base,
                                            std::chrono::milliseconds max, int failures,
                                            std::mt19937_64& rng);

class CircuitBreaker {
 public:
  using time_point = BreakerClock::time_point;
  // While an attempt is in flight on a failing host, others ask again after this long.
  static constexpr std::chrono::milliseconds kRecheck{100};

  explicit CircuitBreaker(BreakerSettings settings, uint64_t seed = std::random_device{}())
      : settings_(settings), rng_(seed) {}

  void set_settings(const BreakerSettings& settings) { settings_ = settings; }
  const BreakerSettings& settings() const { return settings_; }

  Admission admit(time_point now);
  // Outcome of an attempt admitted with kGo. A failure of an attempt that started before
  // the last counted failure belongs to the same wave and is not counted again, so a pool
  // whose N connections fail together counts one failure, not N.
  void on_success();
  void on_failure(time_point started, time_point now);

  // kOpen reads as kHalfOpen once open_time has passed (the next admit() probes).
  BreakerState state(time_point now) const;
  int consecutive_failures() const { return failures_; }
  uint64_t times_opened() const { return times_opened_; }
  // Earliest next attempt while failing (closed) or the end of the open period.
  time_point next_attempt() const;
  bool failing() const { return failures_ > 0 || state_ != BreakerState::kClosed; }

 private:
  void open(time_point now);

  BreakerSettings settings_;
  std::mt19937_64 rng_;
  BreakerState state_ = BreakerState::kClosed;
  int failures_ = 0;  // consecutive, counted per wave
  int in_flight_ = 0;
  uint64_t times_opened_ = 0;
  time_point last_failure_{};
  time_point retry_at_{};
  time_point opened_at_{};
};

}  // namespace sluice::pool
