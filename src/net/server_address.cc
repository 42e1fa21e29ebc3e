#include "net/server_address.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/socket_path.h"

namespace sluice::net {

bool is_unix_socket_dir(std::string_view host) { return host.starts_with('/'); }

std::string server_address(std::string_view host, uint16_t port) {
  if (is_unix_socket_dir(host)) return postgres_socket_path(host, port);
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::error_code connect_unix_socket(tcp::socket& socket, std::string_view dir, uint16_t port) {
  const std::string path = postgres_socket_path(dir, port);
  if (path.size() > kMaxUnixSocketPath) return std::make_error_code(std::errc::filename_too_long);
  const sockaddr_un address = unix_address(path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {errno, std::system_category()};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(fd);
    return {error, std::system_category()};
  }
  std::error_code ec;
  socket.assign(tcp::v4(), fd, ec);
  if (ec) ::close(fd);
  return ec;
}

}  // namespace sluice::net
