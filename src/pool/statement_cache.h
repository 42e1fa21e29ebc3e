// The prepared statements one server connection holds (by their server-side names),
// least recently used first. Owned by its ServerConnection; used by whoever leases it.
#pragma once

#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace sluice::pool {

class ServerStatementCache {
 public:
  // Marks `name` used, if held; returns whether it is (one lookup: once per Bind).
  bool touch(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return false;
    order_.splice(order_.end(), order_, it->second);
    return true;
  }
  // Adds `name`; returns the least recently used name evicted to stay within `capacity`.
  std::optional<std::string> add(const std::string& name, size_t capacity) {
    if (touch(name)) return std::nullopt;
    order_.push_back(name);
    index_[name] = std::prev(order_.end());
    if (index_.size() <= capacity) return std::nullopt;
    std::string victim = order_.front();
    remove(victim);
    return victim;
  }
  void remove(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  void clear() {
    order_.clear();
    index_.clear();
    stale_.clear();
  }
  // The statement exists on the server but its plan went stale (its result type changed
  // after DDL): it is no longer usable, and must be closed before it is prepared again.
  void mark_stale(const std::string& name) {
    remove(name);
    stale_.insert(name);
  }
  // Whether `name` was stale; it is not any more (the caller closes it).
  bool take_stale(const std::string& name) { return !stale_.empty() && stale_.erase(name) > 0; }
  size_t size() const { return index_.size(); }

 private:
  std::list<std::string> order_;  // front = least recently used
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
  std::unordered_set<std::string> stale_;  // still on the server, to close before re-use
};

}  // namespace sluice::pool
