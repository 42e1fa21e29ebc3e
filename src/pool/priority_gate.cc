#include "pool/priority_gate.h"

#include <fmt/format.h>

#include "config/priority_classes.h"
#include "net/no_throw.h"
#include "protocol/builder.h"

namespace sluice::pool {

using net::kNoThrow;

struct PriorityGate::ClassState {
  config::ClassConfig cfg;
  int active = 0;
  std::deque<std::shared_ptr<Waiter>> waiters;  // first come first served within a class
  uint64_t served = 0;
  uint64_t shed = 0;
  uint64_t timed_out = 0;
};

struct PriorityGate::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  Clock::time_point since = Clock::now();
  Ticket cls;            // the class it waits in (moved to "normal" if its class is removed)
  bool granted = false;  // a slot is held for it
};

void PriorityGate::configure(GateSettings settings) {
  std::lock_guard lock(mutex_);
  budget_ = settings.budget;
  aging_ = settings.aging;
  std::map<std::string, std::shared_ptr<ClassState>, std::less<>> next;
  for (config::ClassConfig& c : settings.classes) {
    auto it = classes_.find(c.name);
    auto state = it != classes_.end() ? it->second : std::make_shared<ClassState>();
    state->cfg = std::move(c);
    next[state->cfg.name] = state;
  }
  // Clients waiting in a class that is gone wait on as "normal"; with the gate off, they go.
  auto fallback = next.find(config::kDefaultClass);
  for (auto& [name, old] : classes_) {
    if (next.count(name)) continue;
    for (auto& w : old->waiters) {
      if (fallback != next.end()) {
        w->cls = fallback->second;
        fallback->second->waiters.push_back(w);
      } else {
        w->granted = true;
        w->cls.reset();
        asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
      }
    }
    old->waiters.clear();
  }
  classes_ = std::move(next);
  enabled_.store(!classes_.empty(), std::memory_order_release);
  dispatch_locked(Clock::now());
}

bool PriorityGate::may_take_locked(const ClassState& cls) const {
  int held_back = 0;  // other classes' guaranteed connections they are not using
  for (const auto& [name, other] : classes_) {
    if (other.get() != &cls) held_back += std::max(0, other->cfg.min_connections - other->active);
  }
  return active_ + 1 + held_back <= budget_;
}

void PriorityGate::grant_locked(ClassState& cls) {
  ++cls.active;
  ++cls.served;
  ++active_;
}

void PriorityGate::dispatch_locked(Clock::time_point now) {
  while (active_ < budget_) {
    ClassState* best = nullptr;
    double best_score = 0;
    for (const auto& [name, cls] : classes_) {
      if (cls->waiters.empty() || !may_take_locked(*cls)) continue;
      const Waiter& head = *cls->waiters.front();
      double score = cls->cfg.priority;
      if (aging_.count() > 0) {
        score +=
            std::chrono::duration<double>(now - head.since) / std::chrono::duration<double>(aging_);
      }
      if (best == nullptr || score > best_score ||
          (score == best_score && head.since < best->waiters.front()->since)) {
        best = cls.get();
        best_score = score;
      }
    }
    if (best == nullptr) return;
    std::shared_ptr<Waiter> w = best->waiters.front();
    best->waiters.pop_front();
    grant_locked(*best);
    w->granted = true;
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

asio::awaitable<PriorityGate::EnterResult> PriorityGate::enter(std::string class_name,
                                                               Clock::time_point deadline) {
  EnterResult result;
  if (!enabled()) co_return result;
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> w;
  {
    std::lock_guard lock(mutex_);
    auto it = classes_.find(class_name);
    if (it == classes_.end()) it = classes_.find(config::kDefaultClass);
    if (it == classes_.end()) co_return result;  // switched off meanwhile
    ClassState& cls = *it->second;
    bool anyone_waiting = false;
    for (const auto& [name, other] : classes_) anyone_waiting |= !other->waiters.empty();
    if (!anyone_waiting && may_take_locked(cls)) {
      grant_locked(cls);
      result.ticket = it->second;
      co_return result;
    }
    const int limit = cls.cfg.max_waiting_clients;
    if (limit > 0 && static_cast<int>(cls.waiters.size()) >= limit) {
      ++cls.shed;
      result.error = ServerError{
          std::string(protocol::sqlstate::kTooManyConnections),
          fmt::format("too many clients waiting in priority class \"{}\" (max_waiting_clients = "
                      "{}); try again later",
                      cls.cfg.name, limit),
          "FATAL"};
      co_return result;
    }
    w = std::make_shared<Waiter>(ex);
    w->cls = it->second;
    cls.waiters.push_back(w);
    dispatch_locked(Clock::now());
  }
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (w->granted) {
        result.ticket = std::move(w->cls);
        co_return result;
      }
      if (Clock::now() >= deadline) {
        ClassState& cls = *w->cls;
        std::erase(cls.waiters, w);
        ++cls.timed_out;
        result.error = ServerError{
            std::string(protocol::sqlstate::kProtocolViolation),
            fmt::format("query_wait_timeout (waiting in priority class \"{}\")", cls.cfg.name),
            "FATAL"};
        co_return result;
      }
      w->timer.expires_at(deadline);
    }
    co_await w->timer.async_wait(kNoThrow);
  }
}

void PriorityGate::leave(Ticket& ticket) {
  if (!ticket) return;
  std::lock_guard lock(mutex_);
  --ticket->active;
  --active_;
  ticket.reset();
  dispatch_locked(Clock::now());
}

int PriorityGate::budget() const {
  std::lock_guard lock(mutex_);
  return budget_;
}

std::vector<ClassSnapshot> PriorityGate::snapshot() const {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  std::vector<ClassSnapshot> out;
  for (const auto& [name, cls] : classes_) {
    ClassSnapshot s;
    s.name = name;
    s.priority = cls->cfg.priority;
    s.min_connections = cls->cfg.min_connections;
    s.max_waiting_clients = cls->cfg.max_waiting_clients;
    s.active = cls->active;
    s.waiting = static_cast<int>(cls->waiters.size());
    s.served = cls->served;
    s.shed = cls->shed;
    s.timed_out = cls->timed_out;
    if (!cls->waiters.empty()) {
      s.max_wait =
          std::chrono::duration_cast<std::chrono::microseconds>(now - cls->waiters.front()->since);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sluice::pool
