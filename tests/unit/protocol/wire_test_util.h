// Hand encoding of PostgreSQL wire bytes for the codec tests. Deliberately independent of
// src/protocol/builder.cc so that builder bugs show up as mismatches instead of being
// mirrored by the tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "protocol/frame.h"

namespace sluice::protocol::wire {

// Accumulates a message body field by field, big-endian.
class Wire {
 public:
  Wire& i32(int64_t v) {
    const auto u = static_cast<uint32_t>(v);
    for (int shift = 24; shift >= 0; shift -= 8)
      s_.push_back(static_cast<char>((u >> shift) & 0xFF));
    return *this;
  }
  Wire& i16(int32_t v) {
    const auto u = static_cast<uint16_t>(v);
    s_.push_back(static_cast<char>((u >> 8) & 0xFF));
    s_.push_back(static_cast<char>(u & 0xFF));
    return *this;
  }
  Wire& byte(int v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& cstr(std::string_view v) {
    s_.append(v);
    s_.push_back('\0');
    return *this;
  }
  // One ErrorResponse / NoticeResponse field: code byte, NUL-terminated value.
  Wire& field(char code, std::string_view v) { return byte(code).cstr(v); }
  Wire& raw(std::string_view v) {
    s_.append(v);
    return *this;
  }
  const std::string& str() const { return s_; }
  operator std::string() const { return s_; }  // NOLINT: lets a Wire stand for its bytes

 private:
  std::string s_;
};

// Big-endian 4-byte encoding of `v`.
inline std::string be32(uint32_t v) { return Wire().i32(v).str(); }

// A typed message: type byte, length (counting itself), body.
inline std::string typed(char type, const std::string& body) {
  return std::string(1, type) + be32(static_cast<uint32_t>(body.size() + 4)) + body;
}

// A startup-phase packet: length (counting itself), body (code first).
inline std::string untyped(const std::string& body) {
  return be32(static_cast<uint32_t>(body.size() + 4)) + body;
}

inline Bytes as_bytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

inline std::string to_string(Bytes b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace sluice::protocol::wire
