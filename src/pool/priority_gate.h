// Admission by priority class (docs/operations.md#priority-classes): the classes of one
// database share its budget of server connections. A client takes a slot from the gate
// before it leases a connection from its pool and gives it back with the lease, so at most
// `budget` leases run at once. Waiting clients are served highest effective priority first
// (the class priority plus one per class_aging waited, so nothing starves); a class's
// unused min_connections are held back from the others; past max_waiting_clients a class
// sheds load with 53300. Hand-written: no library queues by priority with aging and
// reservations, and this is the pool's own policy.
//
// Thread-safety: every member is guarded by mutex_; waiters are woken on their own
// executor. With no classes configured the gate is off and costs one atomic load.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "pool/server_connection.h"

namespace sluice::pool {

struct GateSettings {
  int budget = 0;
  std::chrono::milliseconds aging{0};
  std::vector<config::ClassConfig> classes;  // empty = the gate is off
};

// Numbers for SHOW CLASSES and /metrics, per class.
struct ClassSnapshot {
  std::string name;
  int priority = 0;
  int min_connections = 0;
  int max_waiting_clients = 0;
  int active = 0;   // slots held (leases running)
  int waiting = 0;  // clients queued
  uint64_t served = 0;
  uint64_t shed = 0;  // refused with 53300 (max_waiting_clients)
  uint64_t timed_out = 0;
  std::chrono::microseconds max_wait{0};
};

class PriorityGate {
 public:
  struct ClassState;
  // A held slot; released by leave(). Empty when the gate is off.
  using Ticket = std::shared_ptr<ClassState>;
  struct EnterResult {
    Ticket ticket;
    std::optional<ServerError> error;
  };

  void configure(GateSettings settings);
  bool enabled() const { return enabled_.load(std::memory_order_acquire); }

  // A slot for a client of class `class_name` (unknown names fall back to "normal"),
  // waiting until `deadline` at most.
  asio::awaitable<EnterResult> enter(std::string class_name, Clock::time_point deadline);
  void leave(Ticket& ticket);

  int budget() const;
  std::vector<ClassSnapshot> snapshot() const;

 private:
  struct Waiter;
  bool may_take_locked(const ClassState& cls) const;
  // Hands free slots to the waiters that should have them.
  void dispatch_locked(Clock::time_point now);
  void grant_locked(ClassState& cls);

  std::atomic<bool> enabled_{false};
  mutable std::mutex mutex_;
  int budget_ = 0;
  int active_ = 0;  // slots held, over every class (including classes since removed)
  std::chrono::milliseconds aging_{0};
  std::map<std::string, std::shared_ptr<ClassState>, std::less<>> classes_;
};

}  // namespace sluice::pool
