// The file of a PostgreSQL Unix-domain socket: DIR/.s.PGSQL.PORT, as libpq builds it from
// host=DIR (a trailing '/' of DIR dropped). PostgreSQL's servers listen there, and so does
// Sluice's own listener (server.unix_socket_dir).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

inline std::string postgres_socket_path(std::string_view dir, uint16_t port) {
  while (dir.size() > 1 && dir.ends_with('/')) dir.remove_suffix(1);
  return fmt::format("{}{}.s.PGSQL.{}", dir, dir.ends_with('/') ? "" : "/", port);
}

}  // namespace sluice
