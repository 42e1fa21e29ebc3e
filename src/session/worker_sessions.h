// The sessions living on the current worker thread, so the worker can sweep them for
// timeouts and close them at shutdown. Thread-local: only the owning worker touches it.
#pragma once

#include <unordered_set>

namespace sluice::session {

class ClientSession;

class WorkerSessions {
 public:
  static std::unordered_set<ClientSession*>& current();

  // Registers a session for its lifetime on this thread.
  class Registration {
   public:
    explicit Registration(ClientSession* s) : s_(s) { current().insert(s_); }
    ~Registration() { current().erase(s_); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    ClientSession* s_;
  };
};

}  // namespace sluice::session
