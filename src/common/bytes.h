// Network byte order helpers; PostgreSQL's wire protocol is big-endian throughout.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace sluice {

inline uint32_t read_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint16_t read_u16(const uint8_t* p) {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | uint16_t{p[1]});
}
inline int32_t read_i32(const uint8_t* p) { return static_cast<int32_t>(read_u32(p)); }
inline int16_t read_i16(const uint8_t* p) { return static_cast<int16_t>(read_u16(p)); }

inline void write_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace sluice
