// A StartupPacket with the given parameters, for tests of what a login works out.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "protocol/startup.h"

namespace sluice::session::test_support {

inline protocol::StartupPacket startup(std::vector<std::pair<std::string, std::string>> params) {
  protocol::StartupPacket p;
  p.kind = protocol::StartupKind::kStartup;
  p.params = std::move(params);
  return p;
}

}  // namespace sluice::session::test_support
