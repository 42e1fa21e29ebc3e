#include "session/cancel.h"

#include <tuple>

#include "net/no_throw.h"
#include "net/server_address.h"
#include "net/stream.h"
#include "protocol/builder.h"

namespace sluice::session {

using net::kNoThrow;

namespace {
constexpr auto kCancelTimeout = std::chrono::seconds(10);
}

asio::awaitable<void> cancel_server_query(const ClientInfo& target) {
  const int32_t pid = target.server_pid.load(std::memory_order_acquire);
  const int32_t key = target.server_key.load(std::memory_order_relaxed);
  if (pid == 0) co_return;
  auto ex = co_await asio::this_coro::executor;
  net::tcp::socket sock(ex);
  const std::string host = target.server_host.str();
  // A frozen or unreachable server never answers: give up after a while.
  auto done = std::make_shared<bool>(false);
  asio::steady_timer deadline(ex, kCancelTimeout);
  deadline.async_wait([&sock, done](std::error_code ec) {
    if (!ec && !*done) sock.close();
  });
  std::error_code ec;
  if (net::is_unix_socket_dir(host)) {
    ec = net::connect_unix_socket(sock, host, target.server_port);
  } else {
    net::tcp::resolver resolver(ex);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(host, std::to_string(target.server_port), kNoThrow);
    ec = rec;
    if (!ec) std::tie(ec, std::ignore) = co_await asio::async_connect(sock, endpoints, kNoThrow);
  }
  if (ec) {
    *done = true;
    co_return;
  }
  std::string out;
  protocol::append_cancel_request(out, pid, key);
  co_await asio::async_write(sock, asio::buffer(out), kNoThrow);
  // The server closes the connection once it has taken the request.
  char byte;
  co_await sock.async_read_some(asio::buffer(&byte, 1), kNoThrow);
  *done = true;
}

}  // namespace sluice::session
