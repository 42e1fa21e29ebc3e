#include "session/worker_sessions.h"

namespace sluice::session {

std::unordered_set<ClientSession*>& WorkerSessions::current() {
  thread_local std::unordered_set<ClientSession*> sessions;
  return sessions;
}

}  // namespace sluice::session
