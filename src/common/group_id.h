// A group of this machine by name or number, as server.unix_socket_group takes it.
#pragma once

#include <grp.h>
#include <sys/types.h>

#include <charconv>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

// The group's id, or nullopt when no such group exists. A number no group is named after is
// taken as the id itself (chown(2) needs no entry in /etc/group).
inline std::optional<gid_t> group_id(const std::string& name) {
  if (name.empty()) return std::nullopt;
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);  // getgrnam_r's scratch: member lists can be long
  if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr) {
    return found->gr_gid;
  }
  gid_t number = 0;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (error == std::errc() && end == name.data() + name.size()) return number;
  return std::nullopt;
}

}  // namespace sluice
