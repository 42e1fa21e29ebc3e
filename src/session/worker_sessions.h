// The sessions living on the current worker thread, so the worker can sweep them for
// timeouts and count them while draining. Thread-local: only the owning worker touches it.
// An intrusive list: each session carries its two links (16 bytes) rather than a hash-set
// node and bucket (~45 bytes), which counts with many thousands of idle clients.
#pragma once

#include <cstddef>
#include <vector>

namespace sluice::session {

class ClientSession;

class WorkerSessions {
 public:
  // This thread's sessions (a copy: the sweep may end some while going through them).
  static std::vector<ClientSession*> all();
  static size_t count();
  // Sessions parked since the last take_park_count() (the sweep trims malloc after many).
  static void count_park() { ++current().parks; }
  static size_t take_park_count();

  // Clients that logged in and sent nothing yet, oldest first. They keep their coroutine
  // and pending read for a moment rather than park at once, as most send their first
  // query right away (a connection per request, pgbench -C), and parking then waking costs
  // more than waiting: a tenth of a login's instructions and the parking lot's system
  // calls. Logins that stay silent park all the same: when kMaxFreshLogins later logins on
  // this worker are silent too (a burst, such as a client pool filling up), or at the next
  // sweep, so memory per idle client stays close to a parked one's (docs/architecture.md).
  static constexpr size_t kMaxFreshLogins = 32;
  // Adds `s`; returns the oldest fresh login when that makes one too many (it is taken
  // off the list: the caller parks it), else null.
  static ClientSession* add_fresh_login(ClientSession* s);
  static void remove_fresh_login(ClientSession* s);

  // Registers a session for its lifetime on this thread.
  class Registration {
   public:
    explicit Registration(ClientSession* s);
    ~Registration();
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    friend class WorkerSessions;
    ClientSession* session_;
    Registration* prev_ = nullptr;
    Registration* next_ = nullptr;
  };

 private:
  struct List {
    Registration* head = nullptr;
    size_t size = 0;
    size_t parks = 0;
    std::vector<ClientSession*> fresh;  // at most kMaxFreshLogins
  };
  static List& current();
};

}  // namespace sluice::session
