// A FIFO of requests in flight that allocates nothing until first used (std::deque
// allocates ~0.5 KiB up front) and reuses its storage afterwards: one per client, so idle
// clients must stay small.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace sluice::session {

template <typename T>
class RequestQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  void push_back(T item) { items_.push_back(std::move(item)); }
  template <typename... Args>
  void emplace_back(Args&&... args) {
    items_.emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    // The entry is destroyed with the rest at clear(), when the queue runs empty (after
    // each batch, for most clients): resetting each one here cost more than the relay's
    // other work on the message.
    ++head_;
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= kCompactAfter && head_ * 2 >= items_.size()) {
      // A client that pipelines without pause never empties the queue: drop the popped
      // prefix so the storage stays bounded by what is in flight.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  static constexpr size_t kCompactAfter = 64;
  std::vector<T> items_;
  size_t head_ = 0;  // items_[0, head_) are popped
};

}  // namespace sluice::session
