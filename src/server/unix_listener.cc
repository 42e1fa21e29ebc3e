#include "server/unix_listener.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/socket_path.h"

namespace sluice::server {

namespace {

constexpr int kListenBacklog = 4096;  // as the TCP listeners (listeners.cc)

std::string errno_text() { return std::strerror(errno); }

UniqueFd stream_socket() { return UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)); }

std::runtime_error in_use(const std::string& path) {
  return std::runtime_error(fmt::format(
      "another server is listening on the Unix socket {} (a sluice, PgBouncer or PostgreSQL "
      "with the same directory and port): stop it, or set another server.unix_socket_dir "
      "(--unix-socket-dir) or listen port",
      path));
}

// Clears the way for bind(): nothing there, or a stale socket file, which is removed.
void remove_if_stale(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // nothing there (else bind() says what)
  if (!S_ISSOCK(st.st_mode)) {
    throw std::runtime_error(fmt::format(
        "{} exists and is not a socket: remove it, or set another server.unix_socket_dir "
        "(--unix-socket-dir)",
        path));
  }
  // Non-blocking: a server whose queue is full answers EAGAIN instead of blocking here.
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const sockaddr_un addr = unix_address(path);
  if (probe &&
      ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    throw in_use(path);
  }
  if (errno == EAGAIN) throw in_use(path);
  if (errno != ECONNREFUSED) {
    throw std::runtime_error(fmt::format(
        "cannot tell whether a server listens on the Unix socket {}: {}", path, errno_text()));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error(
        fmt::format("cannot remove the stale Unix socket {}: {}", path, errno_text()));
  }
  spdlog::info("removed the stale Unix socket {} (nothing listened on it)", path);
}

}  // namespace

UnixSocketFile::UnixSocketFile(std::string path, UniqueFd fd, bool owned)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      file_(::open(path_.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC)),
      owned_(owned) {}

std::unique_ptr<UnixSocketFile> UnixSocketFile::bind(const std::string& path,
                                                     const SocketFileAccess& access) {
  remove_if_stale(path);
  auto fail = [&path](std::string_view step) {
    return std::runtime_error(fmt::format(
        "cannot listen on the Unix socket {} ({}: {}): check that the directory exists and "
        "this user may write to it, or set another server.unix_socket_dir (--unix-socket-dir)",
        path, step, errno_text()));
  };
  UniqueFd fd = stream_socket();
  if (!fd) throw fail("socket");
  const sockaddr_un addr = unix_address(path);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EADDRINUSE) throw in_use(path);  // bound since remove_if_stale() looked
    throw fail("bind");
  }
  // The file is ours from here: removed again when what follows fails.
  std::unique_ptr<UnixSocketFile> file(new UnixSocketFile(path, std::move(fd), true));
  std::string problem = file->set_access(access);
  if (problem.empty() && ::listen(file->fd_.get(), kListenBacklog) != 0) {
    problem = fail("listen").what();
  }
  if (!problem.empty()) {
    file->remove_file();
    throw std::runtime_error(problem);
  }
  return file;
}

std::string UnixSocketFile::set_access(const SocketFileAccess& access) const {
  if (::chmod(path_.c_str(), static_cast<mode_t>(access.mode)) != 0) {
    return fmt::format(
        "cannot set the mode of the Unix socket {} to {:04o} ({}): check that this user owns "
        "it, or set another server.unix_socket_dir (--unix-socket-dir)",
        path_, access.mode, errno_text());
  }
  if (access.group && ::chown(path_.c_str(), static_cast<uid_t>(-1), *access.group) != 0) {
    return fmt::format(
        "cannot give the Unix socket {} the group {} ({}): run sluice as a member of that "
        "group (or as root), or change server.unix_socket_group",
        path_, *access.group, errno_text());
  }
  return {};
}

std::unique_ptr<UnixSocketFile> UnixSocketFile::adopt(const std::string& path, UniqueFd fd) {
  return std::unique_ptr<UnixSocketFile>(new UnixSocketFile(path, std::move(fd), false));
}

void UnixSocketFile::remove_file() const {
  if (!owned_ || !file_) return;
  struct stat ours {};
  struct stat there {};
  if (::fstat(file_.get(), &ours) == 0 && ::lstat(path_.c_str(), &there) == 0 &&
      ours.st_dev == there.st_dev && ours.st_ino == there.st_ino) {
    ::unlink(path_.c_str());
  }
}

std::string bound_unix_path(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path)) {
    return {};
  }
  const size_t max = len - offsetof(sockaddr_un, sun_path);
  return {addr.sun_path, ::strnlen(addr.sun_path, max)};
}

std::unique_ptr<asio::ip::tcp::acceptor> unix_acceptor(asio::io_context& io, UniqueFd fd) {
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io);
  std::error_code ec;
  // (The protocol only tells asio the address family of sockets it opens itself; this
  // one and those it accepts are Unix-domain whatever it says.)
  acceptor->assign(asio::ip::tcp::v4(), fd.get(), ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot accept on the Unix socket {}: {}",
                                         bound_unix_path(fd.get()), ec.message()));
  }
  fd.release();  // the acceptor owns it now
  return acceptor;
}

}  // namespace sluice::server
