// A TCP connection that may be upgraded to TLS after PostgreSQL's SSLRequest exchange.
// Coroutine-friendly: operations return error codes instead of throwing (no exceptions on
// the data plane). One coroutine at a time may read, and one may write.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

namespace sluice::net {

using asio::awaitable;
using tcp = asio::ip::tcp;

// A socket's descriptor without its event-loop state (Stream::detach()).
struct DetachedSocket {
  int fd = -1;
  tcp protocol = tcp::v4();
};

class Stream {
 public:
  explicit Stream(tcp::socket socket) : socket_(std::move(socket)) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // TLS as the server side (towards a client that sent SSLRequest).
  awaitable<std::error_code> accept_tls(asio::ssl::context& ctx);
  // TLS as the client side (towards a PostgreSQL server); sni may be empty.
  awaitable<std::error_code> connect_tls(asio::ssl::context& ctx, const std::string& sni,
                                         bool verify_host);

  awaitable<std::tuple<std::error_code, size_t>> read_some(asio::mutable_buffer buf);
  // Reads what has already arrived, without waiting: one non-blocking recv(2). For bytes
  // the caller expects to be there (a client's first packet once the listener's deferred
  // accept has handed the connection over): on io_uring asio queues every read, even of
  // bytes already there, and finishes it only on the event loop's next round. Returns 0
  // with no error when nothing has arrived, or on TLS (whose bytes need decrypting); eof
  // when the peer closed.
  size_t read_available(asio::mutable_buffer buf, std::error_code& ec);
  awaitable<std::error_code> write_all(asio::const_buffer buf);
  awaitable<std::error_code> write_all(std::span<const asio::const_buffer> bufs);
  // write_all() with asio's own result (error, bytes written), for the relay's writes. On
  // the epoll backend, bytes the socket's buffer takes at once (nearly always) go out with
  // one sendmsg(2) (send_now()), and the caller goes on without an operation through the
  // event loop; what is left goes through asio (see stream.cc for io_uring).
  awaitable<std::tuple<std::error_code, size_t>> send_all(std::span<const asio::const_buffer> bufs);
  // One non-blocking sendmsg(2) of `bufs`; the bytes it took (0 when the buffer is full, on
  // TLS, or with more than kMaxSendNowBuffers pieces); `ec` only for a failed connection.
  static constexpr size_t kMaxSendNowBuffers = 64;
  size_t send_now(std::span<const asio::const_buffer> bufs, std::error_code& ec);
  // write_all() for the answers of a login, while nothing else can write to the socket:
  // one non-blocking send(2) first, which a fresh connection's buffer always takes, so the
  // coroutine goes on without a round trip through the event loop (two per login: the
  // SSLRequest's answer and the AuthenticationOk batch); the rest goes through write_all().
  awaitable<std::error_code> write_all_at_once(asio::const_buffer buf);

  // Re-registers the socket with another event loop (a server connection leased by a
  // client on another worker), so its I/O completes on the caller's thread without a
  // cross-thread hop per read. No operation may be pending.
  void rebind(const asio::any_io_executor& ex);
  // Parking (net/parking_lot.h): gives the descriptor up, with the event loop's state for
  // it, leaving the socket closed; fd -1 when it cannot (TLS or closed). No operation may
  // be pending. attach() takes a detached descriptor (back), on the socket's executor.
  DetachedSocket detach();
  void attach(DetachedSocket detached);
  // The event loop (worker) the socket is registered with.
  asio::any_io_executor executor() { return socket_.get_executor(); }

  // Cancels pending operations and closes; safe to call more than once.
  void close();
  bool is_open() const { return socket_.is_open(); }
  bool is_tls() const { return tls_ != nullptr; }
  tcp::socket& socket() { return socket_; }
  // The peer's and our own address (default-constructed if the socket has none): one
  // system call each, so ask once per connection.
  tcp::endpoint remote_endpoint() const;
  tcp::endpoint local_endpoint();
  // The socket's protocol, when the caller knows it (saves detach() a system call).
  void set_protocol(tcp protocol) { protocol_ = protocol; }

 private:
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  // Learnt from local_endpoint() or at the first rebind()/detach(): one system call less.
  std::optional<tcp> protocol_;
  bool learn_protocol();
  awaitable<std::tuple<std::error_code, size_t>> send_rest(std::span<const asio::const_buffer> bufs,
                                                           size_t sent);
};

}  // namespace sluice::net
