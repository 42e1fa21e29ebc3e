// Slows down repeated failed password logins from one client address, as PostgreSQL's
// auth_delay does, but growing: the first failure from an address is answered at once;
// each further consecutive one waits before its error is sent, `delay` for the second,
// doubling per failure up to `delay_max`. A successful login from the address, or
// `forget_after` without a failure from it, starts it over. Failures of other addresses
// are not affected. Addresses are IPv4 addresses and IPv6 /64 prefixes (one host usually
// holds a whole /64); at most kMaxAddresses are remembered, the least recently failing
// are forgotten first.
//
// The caller waits (an asio timer in its coroutine: the event loop runs on); this class
// only keeps the counts.
//
// Threading: one instance per process (ProxyContext), used by every worker; state is
// guarded by mutex_. on_success() takes no lock while nothing is tracked.
#pragma once

#include <asio/ip/address.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::session {

class AuthFailures {
 public:
  using Clock = std::chrono::steady_clock;
  using Millis = std::chrono::milliseconds;

  struct Settings {
    Millis delay{0};  // 0 = off: nothing is tracked or delayed
    Millis delay_max{0};
    Millis forget_after{0};
  };

  static constexpr size_t kMaxAddresses = 10000;

  explicit AuthFailures(size_t max_addresses = kMaxAddresses) : max_addresses_(max_addresses) {}

  // Records a failed login from `address`; returns how long to wait before answering it.
  Millis on_failure(const std::string& address, const Settings& s, Clock::time_point now);
  // A successful login from `address`: its failures are forgotten.
  void on_success(const std::string& address);
  // Consecutive failures remembered for `address` (0 when none or forgotten by `now`).
  int failures(const std::string& address, const Settings& s, Clock::time_point now) const;
  size_t size() const;
  bool empty() const { return tracked_.load(std::memory_order_relaxed) == 0; }

  // The key an address is counted under: the IPv4 address (also for IPv4-mapped IPv6),
  // or the IPv6 /64 prefix ("2001:db8:1:2::/64").
  static std::string address_key(const asio::ip::address& address);
  // The delay for the n-th consecutive failure (n >= 1).
  static Millis delay_for(int n, const Settings& s);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point last;
    std::list<std::string>::iterator order;  // position in by_last_
  };
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it);
  void prune_locked(const Settings& s, Clock::time_point now);

  const size_t max_addresses_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> by_last_;  // least recent failure first
  std::atomic<size_t> tracked_{0};  // entries_.size(), readable without the lock
};

}  // namespace sluice::session
