// Server addresses: TCP hosts and Unix-domain socket directories.
#include "net/server_address.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio.hpp>
#include <filesystem>

#include "common/socket_path.h"

namespace sluice::net {
namespace {

TEST(ServerAddress, SocketPathAsLibpqBuildsIt) {
  EXPECT_TRUE(is_unix_socket_dir("/var/run/postgresql"));
  EXPECT_FALSE(is_unix_socket_dir("localhost"));
  EXPECT_FALSE(is_unix_socket_dir("::1"));
  EXPECT_EQ(postgres_socket_path("/var/run/postgresql", 5432), "/var/run/postgresql/.s.PGSQL.5432");
  EXPECT_EQ(postgres_socket_path("/tmp/", 6000), "/tmp/.s.PGSQL.6000");
  EXPECT_EQ(postgres_socket_path("/", 5432), "/.s.PGSQL.5432");
  EXPECT_EQ(server_address("/tmp", 5432), "/tmp/.s.PGSQL.5432");
  EXPECT_EQ(server_address("db.example.com", 6432), "db.example.com:6432");
  EXPECT_EQ(server_address("::1", 5432), "[::1]:5432");
}

// A listening Unix-domain socket at DIR/.s.PGSQL.PORT, removed with its directory.
struct SocketDir {
  std::filesystem::path dir;
  int listener = -1;
  SocketDir() {
    char tmpl[] = "/tmp/sluice-sock-XXXXXX";
    dir = ::mkdtemp(tmpl);
    listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un address = unix_address(postgres_socket_path(dir.string(), 5432));
    EXPECT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listener, 4), 0);
  }
  ~SocketDir() {
    ::close(listener);
    std::filesystem::remove_all(dir);
  }
};

TEST(ServerAddress, ConnectsToTheSocketAndRelaysBytes) {
  SocketDir server;
  asio::io_context io;
  tcp::socket socket(io);
  ASSERT_FALSE(connect_unix_socket(socket, server.dir.string(), 5432));
  const int accepted = ::accept(server.listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  ASSERT_EQ(::write(accepted, "hello", 5), 5);

  // Asynchronous reads and writes go through the descriptor, as on a TCP connection.
  std::array<char, 8> got{};
  size_t got_size = 0;
  asio::async_read(socket, asio::buffer(got.data(), 5),
                   [&](std::error_code ec, size_t n) { got_size = ec ? 0 : n; });
  asio::async_write(socket, asio::buffer("ping", 4), [](std::error_code, size_t) {});
  io.run();
  EXPECT_EQ(std::string(got.data(), got_size), "hello");
  std::array<char, 8> echoed{};
  EXPECT_EQ(::read(accepted, echoed.data(), echoed.size()), 4);
  EXPECT_EQ(std::string(echoed.data(), 4), "ping");
  ::close(accepted);
}

TEST(ServerAddress, NoServerIsAnErrorNotAWait) {
  SocketDir server;
  asio::io_context io;
  tcp::socket socket(io);
  EXPECT_TRUE(connect_unix_socket(socket, server.dir.string(), 5433) ==
              std::errc::no_such_file_or_directory);
  EXPECT_FALSE(socket.is_open());
  const std::string long_dir = "/" + std::string(120, 'd');
  EXPECT_TRUE(connect_unix_socket(socket, long_dir, 5432) == std::errc::filename_too_long);
}

}  // namespace
}  // namespace sluice::net
