// Builds the scatter-gather list that forwards a received chunk with some messages
// dropped, replaced or preceded by the proxy's own bytes — without copying the bytes
// that pass through unchanged. Edits must come in increasing offset order.
#pragma once

#include <asio/buffer.hpp>
#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <vector>

namespace sluice::session {

class Splicer {
 public:
  explicit Splicer(std::span<const uint8_t> base) : base_(base) {}

  void insert(size_t at, std::string bytes) {
    keep_until(at);
    owned_.push_back(std::move(bytes));
    if (!owned_.back().empty()) bufs_.emplace_back(asio::buffer(owned_.back()));
    edited_ = true;
  }
  void drop(size_t from, size_t to) {
    keep_until(from);
    run_start_ = to;
    edited_ = true;
  }
  void replace(size_t from, size_t to, std::string bytes) {
    insert(from, std::move(bytes));
    run_start_ = to;
  }
  bool edited() const { return edited_; }

  // The buffers for base[0, end) with the edits applied.
  const std::vector<asio::const_buffer>& finish(size_t end) {
    keep_until(end);
    return bufs_;
  }

 private:
  void keep_until(size_t at) {
    if (at > run_start_) bufs_.emplace_back(base_.data() + run_start_, at - run_start_);
    if (at > run_start_) run_start_ = at;
  }

  std::span<const uint8_t> base_;
  size_t run_start_ = 0;
  bool edited_ = false;
  // list: stable addresses for the buffers, and no allocation until something is inserted
  std::list<std::string> owned_;
  std::vector<asio::const_buffer> bufs_;
};

}  // namespace sluice::session
