#include "net/read_buffer.h"

#include <algorithm>

namespace sluice::net {

namespace {

// Enough chunks for every connection of a busy worker to have one in flight.
constexpr size_t kFreeListLimit = 1024;

std::vector<std::unique_ptr<uint8_t[]>>& free_list() {
  thread_local std::vector<std::unique_ptr<uint8_t[]>> chunks;
  return chunks;
}

}  // namespace

void ReadBuffer::release() {
  if (buf_ && cap_ == kDefaultChunk && free_list().size() < kFreeListLimit) {
    free_list().push_back(std::move(buf_));
  }
  buf_.reset();
  cap_ = begin_ = end_ = 0;
}

void ReadBuffer::grow(size_t min_free) {
  if (cap_ == 0 && min_free <= kSmallChunk) {
    buf_ = std::make_unique_for_overwrite<uint8_t[]>(kSmallChunk);
    cap_ = kSmallChunk;
    return;
  }
  // prepare() compacted first, so the unread bytes start at 0.
  const size_t used = end_;
  std::unique_ptr<uint8_t[]> bigger;
  size_t new_cap = kDefaultChunk;
  if (used + min_free <= kDefaultChunk) {
    auto& chunks = free_list();
    if (!chunks.empty()) {
      bigger = std::move(chunks.back());
      chunks.pop_back();
    }
  } else {
    new_cap = std::max(cap_, kDefaultChunk);
    while (new_cap - used < min_free) new_cap *= 2;
  }
  if (!bigger) bigger = std::make_unique_for_overwrite<uint8_t[]>(new_cap);
  if (used > 0) std::memcpy(bigger.get(), buf_.get(), used);
  release();
  buf_ = std::move(bigger);
  cap_ = new_cap;
  end_ = used;
}

}  // namespace sluice::net
