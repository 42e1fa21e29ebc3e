// Every connected client, for CancelRequest routing and the admin console. Touched once at
// connect and once at disconnect (under a mutex); the fields readers need while the client
// runs are atomics written only by the client's own worker thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/interned_string.h"

namespace sluice::session {

enum class ClientState : uint8_t {
  kLogin,    // authenticating
  kIdle,     // logged in, no server connection (transaction mode between transactions)
  kActive,   // holds a server connection
  kWaiting,  // queued for a server connection
};
const char* to_string(ClientState s);

// Fields are ordered by size: one is kept per connected client.
struct ClientInfo {
  uint64_t id = 0;
  int32_t cancel_pid = 0;  // what the client got in BackendKeyData
  int32_t cancel_key = 0;
  std::chrono::system_clock::time_point connect_time = std::chrono::system_clock::now();
  std::string addr;
  InternedString local_addr;  // one of the proxy's own addresses
  uint16_t port = 0;
  uint16_t local_port = 0;
  bool tls = false;
  std::atomic<ClientState> state{ClientState::kLogin};
  // Bit i set: pinned to its server connection for router::PinReason i (transaction mode).
  std::atomic<uint8_t> pins{0};
  // Set once at login, before the entry becomes visible to other threads' lookups by name.
  std::string user;
  std::string database;
  std::string application_name;

  std::atomic<int64_t> request_time_us{0};  // wall clock of the last request
  std::atomic<int64_t> wait_start_us{0};    // while kWaiting
  // The server connection currently serving this client (for CancelRequest).
  std::atomic<int32_t> server_pid{0};
  std::atomic<int32_t> server_key{0};
  std::atomic<uint64_t> server_id{0};
  InternedString server_host;  // fixed per pool; written before server_pid is published
  uint16_t server_port = 0;
};

class ClientRegistry {
 public:
  // Registers a client and assigns its id and cancel key.
  std::shared_ptr<ClientInfo> add();
  void remove(const ClientInfo& info);
  std::shared_ptr<ClientInfo> find_by_cancel_key(int32_t pid, int32_t key) const;
  std::vector<std::shared_ptr<ClientInfo>> all() const;
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  uint64_t next_id_ = 1;
  // Random bits for cancel keys, drawn from the CSPRNG a batch at a time (one RAND_bytes
  // per connection showed in profiles of a new connection per transaction).
  std::array<uint64_t, 64> random_{};
  size_t random_left_ = 0;
  uint64_t next_random_locked();
  std::map<std::pair<int32_t, int32_t>, std::shared_ptr<ClientInfo>> by_key_;
};

}  // namespace sluice::session
