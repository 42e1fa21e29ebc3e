// Closing a listening socket that another process may hold too (`sluice serve --takeover`
// hands them over, src/server/takeover.h).
#pragma once

#include <unistd.h>

#include <asio.hpp>

namespace sluice::net {

// Closes this process's copy. asio's close() leaves the epoll registration to close(2),
// which keeps it while another process holds the socket, so the event loop would go on
// getting its events; release() removes the registration first.
inline void close_listener(asio::ip::tcp::acceptor& acceptor) {
  std::error_code ec;
  const int fd = acceptor.release(ec);
  if (!ec && fd >= 0) ::close(fd);
}

}  // namespace sluice::net
