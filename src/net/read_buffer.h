// Receive buffer for one connection: unread bytes live in [begin_, end_). It starts empty
// and is released again when drained past a large size, so idle clients hold no big
// buffers.
#pragma once

#include <asio/buffer.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace sluice::net {

class ReadBuffer {
 public:
  static constexpr size_t kDefaultChunk = 16 * 1024;
  static constexpr size_t kKeepLimit = 64 * 1024;  // larger buffers are freed when drained

  std::span<const uint8_t> data() const { return {buf_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
      if (cap_ > kKeepLimit) release();
    }
  }

  // Room for at least `min_free` more bytes (compacting or growing as needed).
  asio::mutable_buffer prepare(size_t min_free = kDefaultChunk) {
    if (begin_ > 0 && cap_ - end_ < min_free) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < min_free) {
      size_t new_cap = cap_ == 0 ? kDefaultChunk : cap_;
      while (new_cap - end_ < min_free) new_cap *= 2;
      auto bigger = std::make_unique<uint8_t[]>(new_cap);
      if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      cap_ = new_cap;
    }
    return {buf_.get() + end_, cap_ - end_};
  }
  void commit(size_t n) { end_ += n; }

  void release() {
    buf_.reset();
    cap_ = begin_ = end_ = 0;
  }

 private:
  std::unique_ptr<uint8_t[]> buf_;
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace sluice::net
