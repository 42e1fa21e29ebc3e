#include "session/auth_failures.h"

#include <algorithm>

namespace sluice::session {

namespace {

constexpr size_t kIpv6PrefixBytes = 8;  // a /64
constexpr int kMaxCount = 64;           // consecutive failures counted (2^62 is past any cap)

}  // namespace

std::string AuthFailures::address_key(const asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  const asio::ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  }
  asio::ip::address_v6::bytes_type bytes = v6.to_bytes();
  std::fill(bytes.begin() + kIpv6PrefixBytes, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

AuthFailures::Millis AuthFailures::delay_for(int n, const Settings& s) {
  if (n < 2 || s.delay.count() <= 0) return Millis(0);
  const Millis cap = std::max(s.delay, s.delay_max);
  Millis d = s.delay;
  for (int i = 0; i < n - 2 && d < cap; ++i) d *= 2;  // stops at the cap: no overflow
  return std::min(d, cap);
}

void AuthFailures::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
  by_last_.erase(it->second.order);
  entries_.erase(it);
}

void AuthFailures::prune_locked(const Settings& s, Clock::time_point now) {
  // by_last_ is ordered by last failure: the forgotten ones are at its front.
  while (!by_last_.empty()) {
    auto it = entries_.find(by_last_.front());
    if (it == entries_.end()) {  // cannot happen; keeps the two in step regardless
      by_last_.pop_front();
      continue;
    }
    if (now - it->second.last < s.forget_after && entries_.size() <= max_addresses_) break;
    erase_locked(it);
  }
}

AuthFailures::Millis AuthFailures::on_failure(const std::string& address, const Settings& s,
                                              Clock::time_point now) {
  if (s.delay.count() <= 0) return Millis(0);
  std::lock_guard lock(mutex_);
  prune_locked(s, now);
  auto [it, added] = entries_.try_emplace(address);
  Entry& e = it->second;
  if (added) {
    e.order = by_last_.insert(by_last_.end(), address);
  } else {
    by_last_.splice(by_last_.end(), by_last_, e.order);
  }
  e.failures = std::min(e.failures + 1, kMaxCount);
  e.last = now;
  if (entries_.size() > max_addresses_) prune_locked(s, now);  // drops the oldest
  tracked_.store(entries_.size(), std::memory_order_relaxed);
  return delay_for(e.failures, s);
}

void AuthFailures::on_success(const std::string& address) {
  if (empty()) return;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(address);
  if (it == entries_.end()) return;
  erase_locked(it);
  tracked_.store(entries_.size(), std::memory_order_relaxed);
}

int AuthFailures::failures(const std::string& address, const Settings& s,
                           Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(address);
  if (it == entries_.end() || now - it->second.last >= s.forget_after) return 0;
  return it->second.failures;
}

size_t AuthFailures::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace sluice::session
