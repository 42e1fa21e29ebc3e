// The Unix-domain socket clients may connect through besides TCP (server.unix_socket_dir):
// DIR/.s.PGSQL.PORT, the file libpq opens for host=DIR. Bound at start, or taken over from
// the running proxy (`--takeover`); its file is removed at exit by whichever process owns
// it then, so a takeover never pulls the file from under the process that serves it.
//
// The listening socket is held in the same asio::ip::tcp::acceptor type as the TCP ones,
// and each accepted connection in the same tcp::socket type as TCP clients: the relay,
// parking and stopping only use the descriptor. Unix sockets have no SO_REUSEPORT group,
// so every worker accepts on a copy (dup) of the one socket.
#pragma once

#include <sys/types.h>

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "server/fd_passing.h"

namespace sluice::server {

// Who may connect through the socket file (server.unix_socket_mode, unix_socket_group).
struct SocketFileAccess {
  int mode = 0777;
  std::optional<gid_t> group;  // none: the process's own
};

class UnixSocketFile {
 public:
  // Binds `path` with `access` and listens. A socket file nobody answers on is stale (a
  // server that died) and replaced; a server answering there, or a file that is not a
  // socket, is an error. Throws std::runtime_error naming the problem and the fix.
  static std::unique_ptr<UnixSocketFile> bind(const std::string& path,
                                              const SocketFileAccess& access);
  // The socket at `path` received from a running proxy; the file stays the old
  // process's until set_owned(true).
  static std::unique_ptr<UnixSocketFile> adopt(const std::string& path, UniqueFd fd);
  // Gives the file `access`: a socket taken over keeps the old process's otherwise. ""
  // when done, else what failed and how to fix it.
  std::string set_access(const SocketFileAccess& access) const;

  UnixSocketFile(const UnixSocketFile&) = delete;
  UnixSocketFile& operator=(const UnixSocketFile&) = delete;

  const std::string& path() const { return path_; }
  // The listening socket, for the first worker (the others accept on dup()s of it).
  UniqueFd take_fd() { return std::move(fd_); }
  // Whether remove_file() may remove it: this process bound it, or a takeover gave it
  // here; not once this process handed it to a successor. Any thread.
  void set_owned(bool owned) { owned_ = owned; }
  // Removes the file when owned and still the one bound (not a later server's).
  void remove_file() const;

 private:
  UnixSocketFile(std::string path, UniqueFd fd, bool owned);

  const std::string path_;
  UniqueFd fd_;
  // The file bound (O_PATH), told from a later server's by device and inode: held open, its
  // inode number cannot go to another file, as it could once the socket closes and a
  // later server replaces the file.
  UniqueFd file_;
  std::atomic<bool> owned_;
};

// The path a listening Unix-domain socket is bound to; "" for any other socket.
std::string bound_unix_path(int fd);

// An acceptor on `fd`, a listening Unix-domain socket, for `io`'s event loop. Throws
// std::runtime_error.
std::unique_ptr<asio::ip::tcp::acceptor> unix_acceptor(asio::io_context& io, UniqueFd fd);

}  // namespace sluice::server
