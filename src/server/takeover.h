// `sluice serve --takeover`: a new proxy process takes the listening sockets of the running
// one, so that replacing the binary or restarting refuses no connection attempt. A socket
// handed over stays open all along (both processes hold it for a moment), so connections
// queued in it are never dropped; the old process then stops accepting and drains.
//
// The running proxy listens on a Unix SOCK_SEQPACKET control socket
// (server.takeover_socket). One record per line:
//   new -> old   TAKEOVER 1
//   old -> new   SOCKETS <n>              or  REFUSED <reason>
//   old -> new   records of up to kMaxFdsPerRecord descriptors (SCM_RIGHTS), one letter
//                per descriptor: L = a client listener, U = the Unix-domain client
//                listener (server.unix_socket_dir), A = the admin HTTP listener
//   new -> old   GO   once it accepts on all of them and owns the control socket path
//                (closing the connection without GO leaves the old one as it was)
//   old -> new   BYE  it no longer accepts (every new connection is the new one's), drains
//                and exits
// Only a process of the same user (or root) may take over (SO_PEERCRED).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/fd_passing.h"

namespace sluice::server {

// A one-line reason `--takeover` cannot go ahead; `sluice serve` exits with status 2.
class TakeoverError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class SocketKind : char { kListener = 'L', kUnixListener = 'U', kAdmin = 'A' };

struct PassedSocket {
  SocketKind kind = SocketKind::kListener;
  UniqueFd fd;
};

// The running side: the control socket and the thread that answers takeover requests.
class ControlSocket {
 public:
  struct Handlers {
    // Copies (dup) of every listening socket, or an empty vector and *refusal set when the
    // proxy cannot hand them over (it is shutting down). Called on the control thread.
    std::function<std::vector<PassedSocket>(std::string* refusal)> export_sockets;
    // The new process accepts on every socket: stop accepting and drain. Returns once
    // this process no longer accepts (BYE says so). Control thread.
    std::function<void(pid_t new_pid)> handed_over;
  };

  // Binds the control socket at `path` under a temporary name and renames it over whatever
  // is there, so the path never goes missing. When `replacing_live` is false, a sluice that
  // answers on `path` is an error (two proxies on one path would take each other's
  // sockets); a file nobody answers on is stale and replaced.
  static std::shared_ptr<ControlSocket> open(const std::string& path, bool replacing_live);
  // Throws TakeoverError, naming --takeover, when a sluice answers on `path`.
  static void refuse_if_running(const std::string& path);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  // Answers takeover requests on a thread of its own, one at a time, until one succeeds.
  static void serve(std::shared_ptr<ControlSocket> self, Handlers handlers);
  // Removes the file at exit, unless a takeover replaced it (it belongs to the new process).
  void remove_file();
  const std::string& path() const { return path_; }

 private:
  ControlSocket(std::string path, UniqueFd fd, dev_t dev, ino_t ino);
  // One connection: true once the sockets were handed over.
  bool answer(int conn, const Handlers& handlers);

  const std::string path_;
  UniqueFd fd_;
  const dev_t dev_;  // the file we bound, to tell it from a successor's
  const ino_t ino_;
  std::atomic<bool> handed_over_{false};
};

// The new side: the sockets received from the running proxy, and the connection to it.
class Handoff {
 public:
  // Connects to the sluice serving on `path` and receives its listening sockets. Throws
  // TakeoverError when nothing answers there, it refuses, or the exchange fails.
  static std::unique_ptr<Handoff> receive(const std::string& path);

  std::vector<PassedSocket>& sockets() { return sockets_; }
  pid_t old_pid() const { return old_pid_; }
  // Sends GO and waits for BYE; returns "" or why the old process did not confirm.
  std::string release_old();

 private:
  Handoff(UniqueFd conn, pid_t old_pid) : conn_(std::move(conn)), old_pid_(old_pid) {}

  UniqueFd conn_;
  pid_t old_pid_;
  std::vector<PassedSocket> sockets_;
};

}  // namespace sluice::server
