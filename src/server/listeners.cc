#include "server/listeners.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::server {

namespace {

constexpr int kListenBacklog = 4096;
// How long the kernel holds a silent connection back (it then hands it over anyway, and
// client_login_timeout applies). PgBouncer's tcp_defer_accept uses the same 45 s.
constexpr int kDeferAcceptSeconds = 45;

// Client connections want TCP_NODELAY (the proxy writes whole batches; Nagle would only
// delay them). Set on the listening socket, every accepted socket inherits it (Linux),
// which saves a system call per connection.
void set_no_delay(Acceptor& acceptor) {
  std::error_code ignored;
  acceptor.set_option(asio::ip::tcp::no_delay(true), ignored);
}

}  // namespace

asio::ip::tcp::endpoint resolve_address(asio::io_context& io, const config::HostPort& hp,
                                        std::string_view what) {
  std::error_code ec;
  auto address = asio::ip::make_address(hp.host == "*" ? "0.0.0.0" : hp.host, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
    if (ec || results.empty()) {
      throw std::runtime_error(
          fmt::format("cannot resolve {} address {}: {}", what, hp.host, ec.message()));
    }
    address = results.begin()->endpoint().address();
  }
  return {address, hp.port};
}

bool someone_listens_on(const asio::ip::tcp::endpoint& ep) {
  const UniqueFd probe(::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return false;  // bind_listener() then says what is wrong
  const int one = 1;         // as the listeners: a port with only TIME_WAIT connections is free
  ::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  return ::bind(probe.get(), ep.data(), static_cast<socklen_t>(ep.size())) != 0 &&
         errno == EADDRINUSE;
}

std::unique_ptr<Acceptor> bind_listener(asio::io_context& io, const asio::ip::tcp::endpoint& ep,
                                        bool reuse_port, std::error_code& ec) {
  auto acceptor = std::make_unique<Acceptor>(io);
  acceptor->open(ep.protocol(), ec);
  if (ec) return nullptr;
  acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (reuse_port) {
    const int one = 1;
    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(kListenBacklog, ec);
  if (!ec) set_no_delay(*acceptor);
  return ec ? nullptr : std::move(acceptor);
}

void set_defer_accept(Acceptor& acceptor, bool on) {
  const int seconds = on ? kDeferAcceptSeconds : 0;
  ::setsockopt(acceptor.native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof(seconds));
}

std::unique_ptr<Acceptor> adopt_listener(asio::io_context& io, UniqueFd fd) {
  const asio::ip::tcp::endpoint ep = bound_address(fd.get());
  auto acceptor = std::make_unique<Acceptor>(io);
  std::error_code ec;
  acceptor->assign(ep.protocol(), fd.get(), ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot accept on the socket for {}: {}", to_string(ep), ec.message()));
  }
  fd.release();  // the acceptor owns it now
  set_no_delay(*acceptor);
  return acceptor;
}

asio::ip::tcp::endpoint bound_address(int fd) {
  asio::ip::tcp::endpoint ep;
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) || len > ep.capacity()) {
    return {};
  }
  std::memcpy(ep.data(), &addr, len);
  ep.resize(len);
  return ep;
}

std::string to_string(const asio::ip::tcp::endpoint& ep) {
  const asio::ip::address a = ep.address();
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port())
                   : fmt::format("{}:{}", a.to_string(), ep.port());
}

}  // namespace sluice::server
