// Decoding of the startup-phase packets a client sends before authentication.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/frame.h"

namespace sluice::protocol {

inline constexpr uint32_t kProtocolV3 = 196608;           // 3.0
inline constexpr uint32_t kSslRequestCode = 80877103;     // 1234.5679
inline constexpr uint32_t kGssEncRequestCode = 80877104;  // 1234.5680
inline constexpr uint32_t kCancelRequestCode = 80877102;  // 1234.5678

enum class StartupKind { kStartup, kSslRequest, kGssEncRequest, kCancel, kInvalid };

struct StartupPacket {
  StartupKind kind = StartupKind::kInvalid;
  uint32_t code = 0;
  std::vector<std::pair<std::string, std::string>> params;  // for kStartup, in order
  int32_t cancel_pid = 0;                                   // for kCancel
  int32_t cancel_key = 0;                                   // for kCancel
  std::string error;                                        // for kInvalid

  // Value of a startup parameter, or "" when absent (a view into `params`).
  std::string_view param(std::string_view name) const;
};

// Decodes the body of a packet framed by peek_startup_packet (length already removed).
StartupPacket parse_startup_packet(Bytes body);

}  // namespace sluice::protocol
