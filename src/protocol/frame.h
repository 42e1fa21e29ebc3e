// Framing of PostgreSQL v3 protocol messages: bytes in, message boundaries out, no I/O.
// Every parser has three outcomes: need more data, a message, or an error. Partial input
// is never an error, and nothing here trusts a length field it has not bounds-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace sluice::protocol {

using Bytes = std::span<const uint8_t>;

// A typed message header is 1 type byte + 4 length bytes (the length counts itself).
inline constexpr size_t kHeaderSize = 5;
// The startup packet has no type byte: 4 length bytes + 4 code bytes.
inline constexpr size_t kStartupHeaderSize = 8;
// PostgreSQL itself refuses startup packets above 10000 bytes.
inline constexpr size_t kMaxStartupPacketSize = 10000;

enum class FrameStatus { kNeedMore, kMessage, kError };

struct Frame {
  FrameStatus status = FrameStatus::kNeedMore;
  char type = 0;          // message type byte; 0 for startup packets
  Bytes body;             // payload after the header
  size_t size = 0;        // whole message size including header (valid for kMessage)
  size_t need = 0;        // for kNeedMore: total bytes needed when known, else 0
  std::string error;      // for kError: what was wrong
  bool io_error = false;  // kError because the connection failed, not the bytes
};

// Looks at the start of `buf` for one typed message (after startup).
Frame peek_message(Bytes buf, size_t max_message_size);

// Looks at the start of `buf` for one startup-phase packet (StartupMessage, SSLRequest,
// GSSENCRequest, CancelRequest): length + body, no type byte.
Frame peek_startup_packet(Bytes buf);

}  // namespace sluice::protocol
