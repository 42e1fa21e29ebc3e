#include "net/stream.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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

namespace {

using SendResult = std::tuple<std::error_code, size_t>;

// On asio's epoll reactor, send_all() writes at once what the socket takes: asio would make
// the same sendmsg(2) before anything else, but through an operation, a trip through the
// event loop's queue and a coroutine resumption (-19% instructions per pgbench -S
// transaction). On io_uring asio queues the send instead and submits it with the loop's
// other work in one io_uring_enter(2); a system call per write there cost 25% more CPU
// per transaction in interleaved pgbench -S -c 16 runs.
#if defined(ASIO_HAS_IO_URING)
constexpr bool kSendAtOnce = false;
#else
constexpr bool kSendAtOnce = true;
#endif

awaitable<SendResult> sent_already(std::error_code ec, size_t n) { co_return SendResult{ec, n}; }

size_t total_size(std::span<const asio::const_buffer> bufs) {
  size_t total = 0;
  for (const auto& b : bufs) total += b.size();
  return total;
}

}  // namespace

size_t Stream::send_now(std::span<const asio::const_buffer> bufs, std::error_code& ec) {
  ec.clear();
  if (tls_ || !socket_.is_open()) return 0;
  std::array<iovec, kMaxSendNowBuffers> iov;
  if (bufs.size() > iov.size()) return 0;
  for (size_t i = 0; i < bufs.size(); ++i) {
    iov[i] = {const_cast<void*>(bufs[i].data()), bufs[i].size()};
  }
  msghdr message{};
  message.msg_iov = iov.data();
  message.msg_iovlen = bufs.size();
  for (;;) {
    const ssize_t n = ::sendmsg(socket_.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      ec = std::error_code(errno, std::system_category());
    return 0;
  }
}

awaitable<SendResult> Stream::send_rest(std::span<const asio::const_buffer> bufs, size_t sent) {
  // (Rare: the socket's buffer took part of the bytes. The rest, from where it stopped.)
  std::vector<asio::const_buffer> rest;
  for (const auto& b : bufs) {
    const size_t skip = std::min(sent, b.size());
    sent -= skip;
    if (skip < b.size()) rest.push_back(b + skip);
  }
  auto [ec, n] = co_await asio::async_write(socket_, rest, kNoThrow);
  co_return SendResult{ec, total_size(bufs) - total_size(rest) + n};
}

awaitable<SendResult> Stream::send_all(std::span<const asio::const_buffer> bufs) {
  // (Not a coroutine, as read_some: the common case costs no frame but sent_already()'s.)
  if (tls_) return asio::async_write(*tls_, bufs, kNoThrow);
  if (!kSendAtOnce) return asio::async_write(socket_, bufs, kNoThrow);
  std::error_code ec;
  const size_t sent = send_now(bufs, ec);
  const size_t total = total_size(bufs);
  if (ec || sent == total) return sent_already(ec, sent);
  if (sent == 0) return asio::async_write(socket_, bufs, kNoThrow);
  return send_rest(bufs, sent);
}

awaitable<std::error_code> Stream::write_all_at_once(asio::const_buffer buf) {
  std::error_code ec;
  const size_t sent = send_now(std::span<const asio::const_buffer>(&buf, 1), ec);
  if (ec || sent == buf.size()) co_return ec;
  co_return co_await write_all(buf + sent);
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
