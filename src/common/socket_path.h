// Unix-domain socket paths. A PostgreSQL socket's file is DIR/.s.PGSQL.PORT, as libpq builds
// it from host=DIR (a trailing '/' of DIR dropped): PostgreSQL's servers listen there, and so
// does Sluice's own listener (server.unix_socket_dir).
#pragma once

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice {

// The longest path a socket address holds (107 bytes on Linux).
inline constexpr size_t kMaxUnixSocketPath = sizeof(sockaddr_un::sun_path) - 1;

inline std::string postgres_socket_path(std::string_view dir, uint16_t port) {
  while (dir.size() > 1 && dir.ends_with('/')) dir.remove_suffix(1);
  return fmt::format("{}{}.s.PGSQL.{}", dir, dir.ends_with('/') ? "" : "/", port);
}

// The address to bind or connect `path` with. A longer path than kMaxUnixSocketPath is cut:
// callers check first (config does for the paths it takes).
inline sockaddr_un unix_address(std::string_view path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), kMaxUnixSocketPath));
  return addr;
}

}  // namespace sluice
