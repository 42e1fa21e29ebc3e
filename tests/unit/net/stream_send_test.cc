// Stream::send_all(): what the socket takes at once goes out without the event loop, the
// rest through asio, in order, and a closed peer is an error.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <string>
#include <thread>
#include <vector>

#include "net/stream.h"

namespace sluice::net {
namespace {

// A Stream on one end of a socket pair; `peer` is the other end.
struct StreamPair {
  asio::io_context io;
  int peer = -1;
  std::unique_ptr<Stream> stream;
  StreamPair() {
    int fd[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0);
    peer = fd[1];
    tcp::socket socket(io);
    socket.assign(tcp::v4(), fd[0]);
    stream = std::make_unique<Stream>(std::move(socket));
  }
  ~StreamPair() {
    stream.reset();
    if (peer >= 0) ::close(peer);
  }
  // Runs send_all(bufs) to completion on the event loop.
  std::tuple<std::error_code, size_t> send_all(std::span<const asio::const_buffer> bufs) {
    std::tuple<std::error_code, size_t> result{asio::error::would_block, 0};
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { result = co_await stream->send_all(bufs); },
        asio::detached);
    io.restart();
    io.run();
    return result;
  }
  std::string read_peer(size_t n) {
    std::string got(n, '\0');
    size_t at = 0;
    while (at < n) {
      const ssize_t r = ::read(peer, got.data() + at, n - at);
      if (r <= 0) break;
      at += static_cast<size_t>(r);
    }
    got.resize(at);
    return got;
  }
  std::string read_to_end() {
    std::string got;
    std::array<char, 65536> chunk;
    ssize_t r;
    while ((r = ::read(peer, chunk.data(), chunk.size())) > 0) got.append(chunk.data(), r);
    return got;
  }
};

TEST(StreamSend, PiecesArriveInOrder) {
  StreamPair pair;
  const std::string a = "Q\0\0\0\x0bSELECT 1", b = "X";
  const std::array<asio::const_buffer, 2> bufs{asio::buffer(a), asio::buffer(b)};
  const auto [ec, n] = pair.send_all(bufs);
  EXPECT_FALSE(ec);
  EXPECT_EQ(n, a.size() + b.size());
  EXPECT_EQ(pair.read_peer(a.size() + b.size()), a + b);
}

TEST(StreamSend, MoreThanTheSocketTakesAtOnceGoesOutWhole) {
  StreamPair pair;
  const int small = 4096;
  ASSERT_EQ(::setsockopt(pair.stream->socket().native_handle(), SOL_SOCKET, SO_SNDBUF, &small,
                         sizeof(small)),
            0);
  // Several pieces, far more than the buffer holds: part goes at once, the rest as the
  // peer reads.
  std::vector<std::string> pieces;
  std::vector<asio::const_buffer> bufs;
  std::string expected;
  for (int i = 0; i < 8; ++i) pieces.push_back(std::string(100'000, static_cast<char>('a' + i)));
  for (const auto& p : pieces) {
    bufs.push_back(asio::buffer(p));
    expected += p;
  }
  std::string got;
  std::thread reader([&] { got = pair.read_to_end(); });
  const auto [ec, n] = pair.send_all(bufs);
  pair.stream->close();
  reader.join();
  EXPECT_FALSE(ec);
  EXPECT_EQ(n, expected.size());
  EXPECT_TRUE(got == expected) << "bytes out of order or lost";
}

TEST(StreamSend, AClosedPeerIsAnError) {
  StreamPair pair;
  ::close(std::exchange(pair.peer, -1));
  const std::string a = "Q";
  const std::array<asio::const_buffer, 1> bufs{asio::buffer(a)};
  const auto [ec, n] = pair.send_all(bufs);
  EXPECT_TRUE(ec == std::errc::broken_pipe || ec == std::errc::connection_reset) << ec.message();
}

}  // namespace
}  // namespace sluice::net
