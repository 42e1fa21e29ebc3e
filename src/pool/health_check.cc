#include "pool/health_check.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>

namespace sluice::pool {

bool looks_dead(ServerConnection& conn) {
  if (!conn.stream.is_open()) return true;
  char byte;
  const ssize_t n = ::recv(conn.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return true;  // 0: closed; > 0: data nobody asked for
  return errno != EAGAIN && errno != EWOULDBLOCK;
}

asio::awaitable<bool> check_server_connection(ServerConnection& conn, const std::string& sql,
                                              std::chrono::milliseconds timeout,
                                              size_t max_message_size) {
  auto ex = co_await asio::this_coro::executor;
  conn.stream.rebind(ex);
  // No answer in time (a frozen or unreachable server): closing fails the pending read.
  // The flag outlives this frame: an expiry already queued when the query ends does nothing.
  struct Watch {
    bool done = false;
    bool timed_out = false;
  };
  auto watch = std::make_shared<Watch>();
  asio::steady_timer deadline(ex, timeout);
  deadline.async_wait([&conn, watch](std::error_code ec) {
    if (ec || watch->done) return;
    watch->timed_out = true;
    conn.stream.close();
  });
  QueryResult r = co_await run_simple_query(conn, sql, max_message_size);
  watch->done = true;
  deadline.cancel();
  const bool timed_out = watch->timed_out;
  const bool ok = !r.io_failed && !r.error && !timed_out && conn.tx_status == 'I';
  if (ok) {
    conn.checked = Clock::now();
  } else {
    spdlog::info("server connection {} to {}:{} failed its check{}: dropped", conn.id, conn.host,
                 conn.port, timed_out ? " (no answer in time)" : "");
    conn.broken = true;
  }
  co_return ok;
}

}  // namespace sluice::pool
