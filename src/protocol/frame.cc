#include "protocol/frame.h"

#include <fmt/format.h>

#include "common/bytes.h"

namespace sluice::protocol {

Frame peek_message(Bytes buf, size_t max_message_size) {
  Frame f;
  if (buf.size() < kHeaderSize) return f;
  const uint32_t len = read_u32(buf.data() + 1);
  if (len < 4) {
    f.status = FrameStatus::kError;
    f.error = fmt::format("invalid message length {}", len);
    return f;
  }
  if (len > max_message_size) {
    f.status = FrameStatus::kError;
    f.error = fmt::format("message of {} bytes exceeds max_message_size {}", len, max_message_size);
    return f;
  }
  const size_t total = size_t{len} + 1;
  if (buf.size() < total) {
    f.need = total;
    return f;
  }
  f.status = FrameStatus::kMessage;
  f.type = static_cast<char>(buf[0]);
  f.body = buf.subspan(kHeaderSize, total - kHeaderSize);
  f.size = total;
  return f;
}

Frame peek_startup_packet(Bytes buf) {
  Frame f;
  if (buf.size() < 4) return f;
  const uint32_t len = read_u32(buf.data());
  if (len < kStartupHeaderSize) {
    f.status = FrameStatus::kError;
    f.error = fmt::format("invalid startup packet length {}", len);
    return f;
  }
  if (len > kMaxStartupPacketSize) {
    f.status = FrameStatus::kError;
    f.error = fmt::format("startup packet of {} bytes exceeds the limit of {} bytes", len,
                          kMaxStartupPacketSize);
    return f;
  }
  if (buf.size() < len) {
    f.need = len;
    return f;
  }
  f.status = FrameStatus::kMessage;
  f.body = buf.subspan(4, len - 4);
  f.size = len;
  return f;
}

}  // namespace sluice::protocol
