#include "session/worker_sessions.h"

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
