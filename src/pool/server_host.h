// What the proxy knows about one server host:port, shared by every pool that connects to
// it: the circuit breaker and retry backoff for new connections, the last connection
// error, and the moment before which existing connections are suspect (the server failed
// or restarted since they were last known good).
//
// Thread-safety: any worker may call any method; state is behind one mutex, taken once per
// connection attempt, never per query. suspect_before() is a lock-free read (per acquire).
// Lock order: a Pool's mutex may be held when calling in; ServerHost never calls a Pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "pool/circuit_breaker.h"
#include "pool/server_connection.h"

namespace sluice::pool {

// Numbers for SHOW DATABASES / SHOW SERVERS and, later, a metrics endpoint.
struct HostSnapshot {
  std::string host;
  uint16_t port = 0;
  BreakerState breaker = BreakerState::kClosed;
  int consecutive_failures = 0;
  uint64_t failed_attempts = 0;  // since start
  uint64_t times_opened = 0;     // breaker openings since start
  std::string last_error;        // of the last failed attempt ("" = none yet)
  // Until the next attempt may start (0 when one may start now).
  std::chrono::milliseconds next_attempt_in{0};
};

class ServerHost {
 public:
  ServerHost(std::string host, uint16_t port, BreakerSettings settings)
      : host_(std::move(host)), port_(port), breaker_(settings) {}

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  void set_settings(const BreakerSettings& settings);
  bool fail_fast() const;

  // May a connection attempt start now? Every kGo must be followed by attempt_done().
  Admission admit(Clock::time_point now);
  // Reports an attempt's outcome: `error` unset = connected. Only transient failures
  // (see is_transient_connect_error) count against the host; any other answer (a wrong
  // password, say) shows the server is up.
  void attempt_done(const Admission& admission, const std::optional<ServerError>& error,
                    Clock::time_point now);

  // The error waiting clients get while the breaker fails them fast, or when they waited
  // out query_wait_timeout on a failing host; nullopt when the host is not failing.
  std::optional<ServerError> failing_error(std::string_view context) const;

  // Connections last known good before this moment must be checked before reuse.
  Clock::time_point suspect_before() const {
    return Clock::time_point(Clock::duration(suspect_before_.load(std::memory_order_acquire)));
  }
  void mark_suspect(Clock::time_point now);

  HostSnapshot snapshot(Clock::time_point now) const;

 private:
  const std::string host_;
  const uint16_t port_;
  mutable std::mutex mutex_;
  CircuitBreaker breaker_;
  std::optional<ServerError> last_error_;
  uint64_t failed_attempts_ = 0;
  std::atomic<Clock::rep> suspect_before_{0};
};

// Connection refused/reset/timed out (08xxx), the server starting up or shutting down
// (57P01..57P03), or out of connection slots (53300): worth retrying.
bool is_transient_connect_error(const ServerError& error);

}  // namespace sluice::pool
