#include "session/worker_sessions.h"

#include <algorithm>
#include <utility>

namespace sluice::session {

WorkerSessions::List& WorkerSessions::current() {
  thread_local List sessions;
  return sessions;
}

std::vector<ClientSession*> WorkerSessions::all() {
  const List& list = current();
  std::vector<ClientSession*> out;
  out.reserve(list.size);
  for (const Registration* r = list.head; r != nullptr; r = r->next_) out.push_back(r->session_);
  return out;
}

size_t WorkerSessions::count() { return current().size; }

size_t WorkerSessions::take_park_count() { return std::exchange(current().parks, 0); }

ClientSession* WorkerSessions::add_fresh_login(ClientSession* s) {
  auto& fresh = current().fresh;
  ClientSession* oldest = nullptr;
  if (fresh.size() >= kMaxFreshLogins) {
    oldest = fresh.front();
    fresh.erase(fresh.begin());
  }
  fresh.push_back(s);
  return oldest;
}

void WorkerSessions::remove_fresh_login(ClientSession* s) {
  auto& fresh = current().fresh;
  const auto it = std::find(fresh.begin(), fresh.end(), s);
  if (it != fresh.end()) fresh.erase(it);
}

WorkerSessions::Registration::Registration(ClientSession* s) : session_(s) {
  List& list = current();
  next_ = list.head;
  if (next_ != nullptr) next_->prev_ = this;
  list.head = this;
  ++list.size;
}

WorkerSessions::Registration::~Registration() {
  List& list = current();
  if (prev_ != nullptr) {
    prev_->next_ = next_;
  } else {
    list.head = next_;
  }
  if (next_ != nullptr) next_->prev_ = prev_;
  --list.size;
}

}  // namespace sluice::session
