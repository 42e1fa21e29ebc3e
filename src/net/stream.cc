#include "net/stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/no_throw.h"

namespace sluice::net {

awaitable<std::error_code> Stream::accept_tls(asio::ssl::context& ctx) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, ctx);
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, kNoThrow);
  co_return ec;
}

awaitable<std::error_code> Stream::connect_tls(asio::ssl::context& ctx, const std::string& sni,
                                               bool verify_host) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, ctx);
  if (!sni.empty()) SSL_set_tlsext_host_name(tls_->native_handle(), sni.c_str());
  if (verify_host) tls_->set_verify_callback(asio::ssl::host_name_verification(sni));
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow);
  co_return ec;
}

awaitable<std::tuple<std::error_code, size_t>> Stream::read_some(asio::mutable_buffer buf) {
  // (Not a coroutine: asio's own awaitable is handed over, one coroutine frame less.)
  if (tls_) return tls_->async_read_some(buf, kNoThrow);
  return socket_.async_read_some(buf, kNoThrow);
}

size_t Stream::read_available(asio::mutable_buffer buf, std::error_code& ec) {
  ec.clear();
  if (tls_ || !socket_.is_open() || buf.size() == 0) return 0;
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) {
      ec = asio::error::eof;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = std::error_code(errno, std::system_category());
    }
    return 0;
  }
}

awaitable<std::error_code> Stream::write_all(asio::const_buffer buf) {
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buf, kNoThrow);
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(socket_, buf, kNoThrow);
  co_return ec;
}

awaitable<std::error_code> Stream::write_all(std::span<const asio::const_buffer> bufs) {
  auto [ec, n] = co_await send_all(bufs);
  co_return ec;
}

awaitable<std::tuple<std::error_code, size_t>> Stream::send_all(
    std::span<const asio::const_buffer> bufs) {
  // (Not a coroutine, as read_some.)
  if (tls_) return asio::async_write(*tls_, bufs, kNoThrow);
  return asio::async_write(socket_, bufs, kNoThrow);
}

awaitable<std::error_code> Stream::write_all_at_once(asio::const_buffer buf) {
  if (!tls_ && socket_.is_open()) {
    const ssize_t n =
        ::send(socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(buf.size())) co_return std::error_code();
    if (n > 0) {
      buf += static_cast<size_t>(n);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      co_return std::error_code(errno, std::system_category());
    }
  }
  co_return co_await write_all(buf);
}

void Stream::rebind(const asio::any_io_executor& ex) {
  if (!socket_.is_open() || socket_.get_executor() == ex) return;
  if (!learn_protocol()) return;
  std::error_code ec;
  const auto fd = socket_.release(ec);
  if (ec) return;
  // Move-assigning keeps the object's address, so a TLS layer referring to it stays valid.
  socket_ = tcp::socket(ex);
  socket_.assign(*protocol_, fd, ec);
}

void Stream::close() {
  // (No shutdown() first: closing the only descriptor sends the FIN anyway, and with a
  // new connection per transaction every system call counts.)
  std::error_code ignored;
  if (socket_.is_open()) socket_.close(ignored);
}

tcp::endpoint Stream::remote_endpoint() const {
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  return ec ? tcp::endpoint() : ep;
}

tcp::endpoint Stream::local_endpoint() {
  std::error_code ec;
  auto ep = socket_.local_endpoint(ec);
  if (ec) return {};
  protocol_ = ep.protocol();
  return ep;
}

bool Stream::learn_protocol() {
  // (local_endpoint() records it; a bound TCP socket never has port 0.)
  return protocol_ || local_endpoint().port() != 0;
}

DetachedSocket Stream::detach() {
  if (tls_ || !socket_.is_open() || !learn_protocol()) return {};
  std::error_code ec;
  const auto fd = socket_.release(ec);
  if (ec) return {};
  return {fd, *protocol_};
}

void Stream::attach(DetachedSocket detached) {
  std::error_code ec;
  socket_.assign(detached.protocol, detached.fd, ec);
  protocol_ = detached.protocol;
  if (ec) ::close(detached.fd);  // (the socket stays closed: the next read ends the session)
}

}  // namespace sluice::net
