// Finds message boundaries in relayed traffic so the proxy can forward bytes as they
// arrive, without copying or re-encoding them. Messages the caller must look at (wanted
// by `inspect`) are only reported once complete; all others are reported at their header
// and their body streams through, however large, without being buffered whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/bytes.h"

namespace sluice::session {

enum class ScanAction { kForward, kStopBefore };

struct ScanResult {
  size_t forward = 0;    // bytes from the start of the data that may be forwarded
  bool stopped = false;  // the callback asked to stop before a message
  bool error = false;
  std::string error_message;
};

class MessageScanner {
 public:
  explicit MessageScanner(size_t max_message_size) : max_message_size_(max_message_size) {}

  // `inspect(type)` tells whether a message type must be complete before `on_message`
  // sees it. `on_message(type, body, complete, offset)` gets the whole body when
  // complete, else an empty span, and the message's offset in `data`. Returns how much
  // of `data` can be forwarded now.
  template <typename Inspect, typename OnMessage>
  ScanResult scan(std::span<const uint8_t> data, Inspect inspect, OnMessage on_message) {
    ScanResult r;
    size_t pos = 0;
    while (pos < data.size()) {
      if (remaining_ > 0) {
        const size_t n = std::min(remaining_, data.size() - pos);
        pos += n;
        remaining_ -= n;
        continue;
      }
      if (data.size() - pos < kHeader) break;
      const char type = static_cast<char>(data[pos]);
      const uint32_t len = read_u32(data.data() + pos + 1);
      if (len < 4 || len > max_message_size_) {
        r.error = true;
        r.error_message =
            len < 4 ? "invalid message length"
                    : "message exceeds max_message_size (" + std::to_string(len) + " bytes)";
        break;
      }
      const size_t total = size_t{len} + 1;
      const size_t available = data.size() - pos;
      const bool complete = available >= total;
      if (inspect(type) && !complete) break;
      const auto body =
          complete ? data.subspan(pos + kHeader, total - kHeader) : std::span<const uint8_t>();
      if (on_message(type, body, complete, pos) == ScanAction::kStopBefore) {
        r.stopped = true;
        break;
      }
      if (complete) {
        pos += total;
      } else {
        remaining_ = total - available;
        pos = data.size();
      }
    }
    r.forward = pos;
    return r;
  }

  // True while a message has been partly forwarded.
  bool mid_message() const { return remaining_ > 0; }

 private:
  static constexpr size_t kHeader = 5;
  size_t max_message_size_;
  size_t remaining_ = 0;
};

}  // namespace sluice::session
