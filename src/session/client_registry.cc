#include "session/client_registry.h"

#include <openssl/rand.h>

#include <random>

namespace sluice::session {

const char* to_string(ClientState s) {
  switch (s) {
    case ClientState::kLogin:
      return "login";
    case ClientState::kIdle:
      return "idle";
    case ClientState::kActive:
      return "active";
    case ClientState::kWaiting:
      return "waiting";
  }
  return "unknown";
}

std::shared_ptr<ClientInfo> ClientRegistry::add() {
  auto info = std::make_shared<ClientInfo>();
  std::lock_guard lock(mutex_);
  info->id = next_id_++;
  // Cancel keys must be unguessable: a CancelRequest is unauthenticated.
  do {
    const uint64_t rnd = next_random_locked();
    info->cancel_pid = static_cast<int32_t>(rnd >> 32) & 0x7FFFFFFF;
    info->cancel_key = static_cast<int32_t>(rnd & 0xFFFFFFFF);
  } while (by_key_.count({info->cancel_pid, info->cancel_key}));
  by_key_[{info->cancel_pid, info->cancel_key}] = info;
  return info;
}

uint64_t ClientRegistry::next_random_locked() {
  if (random_left_ == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(random_.data()),
                   static_cast<int>(sizeof(random_))) != 1) {
      // (Never seen: OpenSSL's generator is seeded from the kernel.) Still unguessable.
      std::random_device dev;
      for (uint64_t& r : random_) r = (uint64_t{dev()} << 32) | dev();
    }
    random_left_ = random_.size();
  }
  return random_[--random_left_];
}

void ClientRegistry::remove(const ClientInfo& info) {
  std::lock_guard lock(mutex_);
  by_key_.erase({info.cancel_pid, info.cancel_key});
}

std::shared_ptr<ClientInfo> ClientRegistry::find_by_cancel_key(int32_t pid, int32_t key) const {
  std::lock_guard lock(mutex_);
  auto it = by_key_.find({pid, key});
  return it == by_key_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<ClientInfo>> ClientRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<ClientInfo>> out;
  out.reserve(by_key_.size());
  for (const auto& [k, v] : by_key_) out.push_back(v);
  return out;
}

size_t ClientRegistry::size() const {
  std::lock_guard lock(mutex_);
  return by_key_.size();
}

}  // namespace sluice::session
