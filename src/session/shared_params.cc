#include "session/shared_params.h"

#include <unordered_map>

namespace sluice::session {
namespace {

// Per thread, so a shared map's reference count is touched by one worker only. Weak
// references: a map lives as long as a client uses it. Past kMaxInterned entries the
// dead ones are swept, and if that is not enough the table starts over (maps in use
// stay valid; only later logins stop finding them).
constexpr size_t kMaxInterned = 4096;

using InternTable = std::unordered_map<std::string, std::weak_ptr<const ParamMap>>;

InternTable& interned() {
  thread_local InternTable table;
  return table;
}

void make_room(InternTable& table) {
  if (table.size() < kMaxInterned) return;
  std::erase_if(table, [](const auto& entry) { return entry.second.expired(); });
  if (table.size() >= kMaxInterned) table.clear();
}

}  // namespace

void SharedParams::intern(const std::string& fingerprint) {
  InternTable& table = interned();
  auto it = table.find(fingerprint);
  if (it != table.end()) {
    if (auto existing = it->second.lock(); existing && *existing == *map_) {
      map_ = std::move(existing);
      return;
    }
    it->second = map_;
    return;
  }
  make_room(table);
  table.emplace(fingerprint, map_);
}

const std::shared_ptr<const ParamMap>& SharedParams::empty_map() {
  static const auto empty = std::make_shared<const ParamMap>();
  return empty;
}

}  // namespace sluice::session
