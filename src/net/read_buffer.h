// Receive buffer for one connection: unread bytes live in [begin_, end_). Buffers of the
// default size come from a per-thread free list and go back to it whenever the buffer is
// drained and released, so an idle client holds no buffer at all and a busy one does not
// pay for malloc on every message.
#pragma once

#include <asio/buffer.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace sluice::net {

class ReadBuffer {
 public:
  static constexpr size_t kDefaultChunk = size_t{16} * 1024;
  static constexpr size_t kKeepLimit = size_t{64} * 1024;  // larger buffers are freed when drained
  // prepare() of at most this much on an empty buffer gets a buffer of this size from
  // malloc instead of a default chunk (logins): a burst of them then leaves no pile of
  // default chunks behind in the free list once the clients go idle; the first read that
  // asks for more moves to a default chunk.
  static constexpr size_t kSmallChunk = 512;

  ReadBuffer() = default;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  ~ReadBuffer() { release(); }

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
    if (cap_ - end_ < min_free) grow(min_free);
    return {buf_.get() + end_, cap_ - end_};
  }
  void commit(size_t n) { end_ += n; }

  // Gives the memory back (to the thread's free list when it has the default size).
  void release();
  // release() when nothing is buffered: called before waiting on an idle connection.
  void release_if_empty() {
    if (empty()) release();
  }

 private:
  void grow(size_t min_free);

  std::unique_ptr<uint8_t[]> buf_;
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace sluice::net
