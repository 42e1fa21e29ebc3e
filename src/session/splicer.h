// Builds the scatter-gather list that forwards a received chunk with some messages
// dropped, replaced or preceded by the proxy's own bytes — without copying the bytes
// that pass through unchanged. Edits must come in increasing offset order.
#pragma once

#include <asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::session {

// What a Splicer fills, kept from one received chunk to the next (one per direction of a
// session, made at its first edit): once grown to fit a batch's edits, editing allocates
// nothing. A client of
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
  // Starts over with the store `slot` holds (what an earlier Splicer left there must be
  // written by now). The store is made at the first edit: a session whose bytes are never
  // edited (most of them) does without, which 10,000 idle clients notice.
  Splicer(std::span<const uint8_t> base, std::unique_ptr<SpliceStore>& slot)
      : base_(base), slot_(slot) {
    if (!slot_) return;
    SpliceStore& store = *slot_;
    if (store.own.capacity() > kKeptCapacity) std::string().swap(store.own);
    store.own.clear();
    store.pieces.clear();
  }

  // Puts `bytes` (copied into the store) at offset `at` of the chunk.
  void insert(size_t at, std::string_view bytes) {
    keep_until(at);
    SpliceStore& s = store();
    const size_t mark = s.own.size();
    s.own.append(bytes);
    if (!bytes.empty()) s.pieces.push_back({true, mark, bytes.size()});
    edited_ = true;
  }
  void drop(size_t from, size_t to) {
    keep_until(from);
    run_start_ = to;
    edited_ = true;
  }
  // Puts `bytes` (copied into the store) in place of the chunk's [from, to).
  void replace(size_t from, size_t to, std::string_view bytes) {
    insert(from, bytes);
    run_start_ = to;
  }
  bool edited() const { return edited_; }

  // The buffers for the chunk's [0, end) with the edits applied (valid until the next
  // Splicer on the same store).
  std::span<const asio::const_buffer> finish(size_t end) {
    keep_until(end);
    // (Addresses only now: the store's bytes may have moved as they grew.)
    SpliceStore& s = store();
    s.bufs.clear();
    for (const SpliceStore::Piece& p : s.pieces) {
      const void* data = p.own ? static_cast<const void*>(s.own.data() + p.offset)
                               : static_cast<const void*>(base_.data() + p.offset);
      s.bufs.emplace_back(data, p.size);
    }
    return s.bufs;
  }

 private:
  // A store keeps at most this much of the proxy's bytes between chunks (a batch sent
  // again after a stale statement can be 64 KiB).
  static constexpr size_t kKeptCapacity = 4096;

  SpliceStore& store() {
    if (!slot_) slot_ = std::make_unique<SpliceStore>();
    return *slot_;
  }
  void keep_until(size_t at) {
    if (at <= run_start_) return;
    store().pieces.push_back({false, run_start_, at - run_start_});
    run_start_ = at;
  }

  std::span<const uint8_t> base_;
  std::unique_ptr<SpliceStore>& slot_;
  size_t run_start_ = 0;
  bool edited_ = false;
};

}  // namespace sluice::session
