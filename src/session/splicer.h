// Builds the scatter-gather list that forwards a received chunk with some messages
// dropped, replaced or preceded by the proxy's own bytes — without copying the bytes
// that pass through unchanged. Edits must come in increasing offset order.
#pragma once

#include <asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::session {

// What a Splicer fills, kept from one received chunk to the next (one per direction of a
// session): once grown to fit a batch's edits, editing allocates nothing. A client of
// named prepared statements has its Bind rewritten in every transaction.
struct SpliceStore {
  struct Piece {
    bool own;  // from `own` (the proxy's bytes), else from the chunk
    size_t offset;
    size_t size;
  };
  std::string own;  // the proxy's bytes, back to back
  std::vector<Piece> pieces;
  std::vector<asio::const_buffer> bufs;
};

class Splicer {
 public:
  // Starts over with `store` (what an earlier Splicer left there must be written by now).
  Splicer(std::span<const uint8_t> base, SpliceStore& store) : base_(base), store_(store) {
    if (store_.own.capacity() > kKeptCapacity) std::string().swap(store_.own);
    store_.own.clear();
    store_.pieces.clear();
  }

  // Where the proxy's bytes for the next edit are appended, before insert_from() or
  // replace_from() puts them in place.
  std::string& out() { return store_.own; }
  // Puts what was appended to out() since `mark` at offset `at` of the chunk.
  void insert_from(size_t mark, size_t at) {
    keep_until(at);
    if (store_.own.size() > mark) store_.pieces.push_back({true, mark, store_.own.size() - mark});
    edited_ = true;
  }
  void insert(size_t at, std::string_view bytes) {
    const size_t mark = store_.own.size();
    store_.own.append(bytes);
    insert_from(mark, at);
  }
  void drop(size_t from, size_t to) {
    keep_until(from);
    run_start_ = to;
    edited_ = true;
  }
  // Puts what was appended to out() since `mark` in place of the chunk's [from, to).
  void replace_from(size_t mark, size_t from, size_t to) {
    insert_from(mark, from);
    run_start_ = to;
  }
  bool edited() const { return edited_; }

  // The buffers for the chunk's [0, end) with the edits applied (valid until the next
  // Splicer on the same store).
  std::span<const asio::const_buffer> finish(size_t end) {
    keep_until(end);
    // (Addresses only now: out() may have moved as it grew.)
    store_.bufs.clear();
    for (const SpliceStore::Piece& p : store_.pieces) {
      const void* data = p.own ? static_cast<const void*>(store_.own.data() + p.offset)
                               : static_cast<const void*>(base_.data() + p.offset);
      store_.bufs.emplace_back(data, p.size);
    }
    return store_.bufs;
  }

 private:
  // A store keeps at most this much of the proxy's bytes between chunks (a batch sent
  // again after a stale statement can be 64 KiB).
  static constexpr size_t kKeptCapacity = 4096;

  void keep_until(size_t at) {
    if (at <= run_start_) return;
    store_.pieces.push_back({false, run_start_, at - run_start_});
    run_start_ = at;
  }

  std::span<const uint8_t> base_;
  SpliceStore& store_;
  size_t run_start_ = 0;
  bool edited_ = false;
};

}  // namespace sluice::session
