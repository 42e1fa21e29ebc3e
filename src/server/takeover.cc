#include "server/takeover.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

#include "common/socket_path.h"

namespace sluice::server {

namespace {

constexpr std::string_view kHello = "TAKEOVER 1";
constexpr std::string_view kSockets = "SOCKETS ";
constexpr std::string_view kRefused = "REFUSED ";
constexpr std::string_view kGo = "GO";
constexpr std::string_view kBye = "BYE";
// Each step of the exchange; the old process waits longer for GO, which comes once the new
// one has started its workers.
constexpr std::chrono::seconds kExchangeTimeout{10};
constexpr std::chrono::seconds kGoTimeout{60};
constexpr int kControlBacklog = 8;
constexpr size_t kMaxSockets = 1 << 16;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

std::string errno_text(int err) { return std::strerror(err); }

UniqueFd control_socket() { return UniqueFd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)); }

// Connects to `path`; returns the socket, or an invalid one with errno set.
UniqueFd connect_to(const std::string& path) {
  UniqueFd fd = control_socket();
  if (!fd) return fd;
  const sockaddr_un addr = unix_address(path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    fd.reset();
    errno = err;
  }
  return fd;
}

ucred peer_of(int sock) {
  ucred peer{};
  socklen_t len = sizeof(peer);
  ::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &len);
  return peer;
}

}  // namespace

ControlSocket::ControlSocket(std::string path, UniqueFd fd, dev_t dev, ino_t ino)
    : path_(std::move(path)), fd_(std::move(fd)), dev_(dev), ino_(ino) {}

ControlSocket::~ControlSocket() = default;

void ControlSocket::refuse_if_running(const std::string& path) {
  if (connect_to(path)) {
    throw TakeoverError(fmt::format(
        "another sluice is running with takeover socket {}: replace it with `sluice serve "
        "--takeover`, or give this one its own server.takeover_socket",
        path));
  }
}

std::shared_ptr<ControlSocket> ControlSocket::open(const std::string& path, bool replacing_live) {
  if (!replacing_live) refuse_if_running(path);
  auto fail = [&path](std::string_view step) {
    return std::runtime_error(fmt::format(
        "cannot create the takeover socket {} ({}: {}): set server.takeover_socket to another "
        "path, or to \"\" for none",
        path, step, errno_text(errno)));
  };
  const std::string temp = fmt::format("{}.new.{}", path, ::getpid());
  ::unlink(temp.c_str());
  UniqueFd fd = control_socket();
  if (!fd) throw fail("socket");
  const sockaddr_un addr = unix_address(temp);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw fail("bind");
  }
  // Owner only before it gets its real name: whoever connects can take the listeners.
  struct stat st {};
  const char* step = ::chmod(temp.c_str(), S_IRUSR | S_IWUSR) != 0 ? "chmod"
                     : ::listen(fd.get(), kControlBacklog) != 0    ? "listen"
                     : ::stat(temp.c_str(), &st) != 0              ? "stat"
                     : ::rename(temp.c_str(), path.c_str()) != 0   ? "rename"
                                                                   : nullptr;
  if (step != nullptr) {
    const int err = errno;
    ::unlink(temp.c_str());
    errno = err;
    throw fail(step);
  }
  return std::shared_ptr<ControlSocket>(
      new ControlSocket(path, std::move(fd), st.st_dev, st.st_ino));
}

void ControlSocket::serve(std::shared_ptr<ControlSocket> self, Handlers handlers) {
  std::thread([self = std::move(self), handlers = std::move(handlers)] {
    for (;;) {
      const int conn = ::accept4(self->fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        spdlog::warn("takeover socket {}: accept failed: {}", self->path_, errno_text(errno));
        std::this_thread::sleep_for(kAcceptRetry);
        continue;
      }
      const UniqueFd owned(conn);
      if (self->answer(conn, handlers)) {
        self->fd_.reset();  // the new process owns the path now
        return;
      }
    }
  }).detach();
}

bool ControlSocket::answer(int conn, const Handlers& handlers) {
  set_timeouts(conn, kExchangeTimeout);
  const ucred peer = peer_of(conn);
  Record hello;
  // Anything else is a liveness probe (a proxy starting on this path) or not a sluice.
  if (receive_record(conn, hello) || hello.data != kHello) return false;
  if (peer.uid != ::geteuid() && peer.uid != 0) {
    spdlog::warn("takeover refused: pid {} runs as uid {}, this proxy as uid {}", peer.pid,
                 peer.uid, ::geteuid());
    send_record(conn, fmt::format("{}pid {} runs as uid {}, this sluice as uid {}: run "
                                  "--takeover as the same user",
                                  kRefused, peer.pid, peer.uid, ::geteuid()));
    return false;
  }
  std::string refusal;
  std::vector<PassedSocket> sockets = handlers.export_sockets(&refusal);
  if (sockets.empty()) {
    spdlog::info("takeover by pid {} refused: {}", peer.pid, refusal);
    send_record(conn, fmt::format("{}{}", kRefused, refusal));
    return false;
  }
  std::error_code ec = send_record(conn, fmt::format("{}{}", kSockets, sockets.size()));
  for (size_t i = 0; !ec && i < sockets.size(); i += kMaxFdsPerRecord) {
    std::string kinds;
    std::vector<int> fds;
    for (size_t j = i; j < std::min(sockets.size(), i + kMaxFdsPerRecord); ++j) {
      kinds += static_cast<char>(sockets[j].kind);
      fds.push_back(sockets[j].fd.get());
    }
    ec = send_record(conn, kinds, fds);
  }
  sockets.clear();  // our copies of the copies: the originals keep accepting until GO
  if (ec) {
    spdlog::warn("takeover by pid {} failed while sending the sockets: {}", peer.pid, ec.message());
    return false;
  }
  spdlog::info("takeover: sent the listening sockets to pid {}; waiting for it to accept on them",
               peer.pid);
  set_timeouts(conn, kGoTimeout);
  Record go;
  ec = receive_record(conn, go);
  if (ec || go.data != kGo) {
    spdlog::warn("takeover by pid {} abandoned ({}); still serving as before", peer.pid,
                 ec ? ec.message() : go.data);
    return false;
  }
  handed_over_ = true;
  handlers.handed_over(peer.pid);
  send_record(conn, kBye);
  return true;
}

void ControlSocket::remove_file() {
  if (handed_over_) return;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
}

std::unique_ptr<Handoff> Handoff::receive(const std::string& path) {
  UniqueFd conn = connect_to(path);
  if (!conn) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED) {
      throw TakeoverError(
          fmt::format("--takeover: no running sluice on {} ({}): start without --takeover", path,
                      errno_text(err)));
    }
    throw TakeoverError(fmt::format("--takeover: cannot connect to {}: {}", path, errno_text(err)));
  }
  set_timeouts(conn.get(), kExchangeTimeout);
  const pid_t old_pid = peer_of(conn.get()).pid;
  auto lost = [&](std::error_code ec) {
    return TakeoverError(fmt::format("--takeover: lost the running sluice on {} (pid {}): {}", path,
                                     old_pid, ec.message()));
  };
  Record r;
  std::error_code ec = send_record(conn.get(), kHello);
  if (!ec) ec = receive_record(conn.get(), r);
  if (ec) throw lost(ec);
  if (r.data.starts_with(kRefused)) {
    throw TakeoverError(fmt::format("--takeover: the running sluice on {} (pid {}) refused: {}",
                                    path, old_pid, r.data.substr(kRefused.size())));
  }
  size_t expected = 0;
  const std::string_view count = std::string_view(r.data).substr(kSockets.size());
  if (!r.data.starts_with(kSockets) ||
      std::from_chars(count.data(), count.data() + count.size(), expected).ec != std::errc() ||
      expected == 0 || expected > kMaxSockets) {
    throw TakeoverError(
        fmt::format("--takeover: {} (pid {}) does not speak the takeover protocol (it said \"{}\")",
                    path, old_pid, r.data));
  }
  std::unique_ptr<Handoff> h(new Handoff(std::move(conn), old_pid));
  while (h->sockets_.size() < expected) {
    ec = receive_record(h->conn_.get(), r);
    if (!ec && (r.fds.empty() || r.data.size() != r.fds.size())) {
      ec = std::make_error_code(std::errc::protocol_error);
    }
    if (ec) throw lost(ec);
    for (size_t i = 0; i < r.fds.size(); ++i) {
      SocketKind kind = SocketKind::kListener;
      for (const SocketKind k : {SocketKind::kUnixListener, SocketKind::kAdmin}) {
        if (r.data[i] == static_cast<char>(k)) kind = k;
      }
      h->sockets_.push_back(PassedSocket{kind, std::move(r.fds[i])});
    }
  }
  return h;
}

std::string Handoff::release_old() {
  Record bye;
  std::error_code ec = send_record(conn_.get(), kGo);
  if (!ec) ec = receive_record(conn_.get(), bye);
  conn_.reset();
  if (ec) return ec.message();
  if (bye.data != kBye) return fmt::format("it answered \"{}\"", bye.data);
  return {};
}

}  // namespace sluice::server
