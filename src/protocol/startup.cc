#include "protocol/startup.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/bytes.h"

namespace sluice::protocol {

std::string_view StartupPacket::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

namespace {

// Reads a NUL-terminated string at `pos`; false when no terminator before the end.
bool read_cstring(Bytes body, size_t& pos, std::string& out) {
  for (size_t i = pos; i < body.size(); ++i) {
    if (body[i] == 0) {
      out.assign(reinterpret_cast<const char*>(body.data() + pos), i - pos);
      pos = i + 1;
      return true;
    }
  }
  return false;
}

StartupPacket invalid(std::string why) {
  StartupPacket p;
  p.kind = StartupKind::kInvalid;
  p.error = std::move(why);
  return p;
}

StartupPacket parse_params(Bytes body) {
  StartupPacket p;
  p.kind = StartupKind::kStartup;
  p.code = kProtocolV3;
  // Two NUL-terminated strings per parameter, and one more at the end: one allocation.
  p.params.reserve(static_cast<size_t>(std::count(body.begin() + 4, body.end(), 0)) / 2);
  size_t pos = 4;
  while (pos < body.size()) {
    if (body[pos] == 0) {
      if (pos + 1 != body.size()) return invalid("trailing bytes after startup parameters");
      if (p.param("user").empty())
        return invalid("no PostgreSQL user name specified in startup packet");
      return p;
    }
    std::string key;
    std::string value;
    if (!read_cstring(body, pos, key) || !read_cstring(body, pos, value)) {
      return invalid("unterminated parameter in startup packet");
    }
    p.params.emplace_back(std::move(key), std::move(value));
  }
  return invalid("startup packet is missing its terminator");
}

}  // namespace

StartupPacket parse_startup_packet(Bytes body) {
  if (body.size() < 4) return invalid("startup packet too short");
  const uint32_t code = read_u32(body.data());
  switch (code) {
    case kSslRequestCode:
    case kGssEncRequestCode: {
      if (body.size() != 4) return invalid("malformed SSL/GSS request");
      StartupPacket p;
      p.kind = code == kSslRequestCode ? StartupKind::kSslRequest : StartupKind::kGssEncRequest;
      p.code = code;
      return p;
    }
    case kCancelRequestCode: {
      if (body.size() != 12) return invalid("malformed cancel request");
      StartupPacket p;
      p.kind = StartupKind::kCancel;
      p.code = code;
      p.cancel_pid = read_i32(body.data() + 4);
      p.cancel_key = read_i32(body.data() + 8);
      return p;
    }
    case kProtocolV3:
      return parse_params(body);
    default:
      break;
  }
  if ((code >> 16) == 3) return parse_params(body);  // 3.x minor versions: serve as 3.0
  return invalid(fmt::format("unsupported frontend protocol {}.{}: server supports 3.0", code >> 16,
                             code & 0xFFFF));
}

}  // namespace sluice::protocol
