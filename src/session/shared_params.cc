#include "session/shared_params.h"

#include <unordered_map>

namespace sluice::session {
namespace {

// Per thread, so a shared map's reference count is touched by one worker only. Weak
// references: a map lives as long as a client uses it. Past kMaxInterned entries the
// dead ones are swept, and if that is not enough the table starts over (maps in use
// stay valid; only later logins stop finding them).
constexpr size_t kMaxInterned = 4096;

using InternTable = std::unordered_map<std::string, std::weak_ptr<const SharedParams::Entry>>;

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

void SharedParams::set(ParamMap map) {
  std::string fingerprint = params_fingerprint(map);
  entry_ = std::make_shared<const Entry>(Entry{std::move(map), std::move(fingerprint)});
}

void SharedParams::intern() {
  InternTable& table = interned();
  auto it = table.find(entry_->fingerprint);
  if (it != table.end()) {
    auto existing = it->second.lock();
    if (existing && existing->map == entry_->map) {
      entry_ = std::move(existing);
      return;
    }
    it->second = entry_;
    return;
  }
  make_room(table);
  table.emplace(entry_->fingerprint, entry_);
}

const std::shared_ptr<const SharedParams::Entry>& SharedParams::empty_entry() {
  static const auto empty = std::make_shared<const Entry>(Entry{{}, params_fingerprint({})});
  return empty;
}

}  // namespace sluice::session
