// Records with descriptors attached, over a real socketpair.
#include "server/fd_passing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace sluice::server {
namespace {

struct SocketPair {
  UniqueFd a, b;
  SocketPair() {
    int fds[2] = {-1, -1};
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
    set_timeouts(a.get(), std::chrono::seconds(5));
    set_timeouts(b.get(), std::chrono::seconds(5));
  }
};

TEST(FdPassing, RecordsKeepTheirBoundaries) {
  SocketPair p;
  ASSERT_FALSE(send_record(p.a.get(), "first"));
  ASSERT_FALSE(send_record(p.a.get(), "second"));
  Record r;
  ASSERT_FALSE(receive_record(p.b.get(), r));
  EXPECT_EQ(r.data, "first");
  ASSERT_FALSE(receive_record(p.b.get(), r));
  EXPECT_EQ(r.data, "second");
  EXPECT_TRUE(r.fds.empty());
}

TEST(FdPassing, DescriptorsArriveAsNewOnesForTheSameFile) {
  SocketPair p;
  int pipe_fds[2] = {-1, -1};
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const UniqueFd read_end(pipe_fds[0]);
  const UniqueFd write_end(pipe_fds[1]);
  const std::vector<int> sent = {read_end.get(), write_end.get()};
  ASSERT_FALSE(send_record(p.a.get(), "LL", sent));
  Record r;
  ASSERT_FALSE(receive_record(p.b.get(), r));
  EXPECT_EQ(r.data, "LL");
  ASSERT_EQ(r.fds.size(), 2u);
  EXPECT_NE(r.fds[1].get(), write_end.get());
  EXPECT_NE(::fcntl(r.fds[1].get(), F_GETFD) & FD_CLOEXEC, 0);
  // Written through the received copy, read through the original.
  ASSERT_EQ(::write(r.fds[1].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(FdPassing, TooManyDescriptorsAreRefused) {
  SocketPair p;
  const std::vector<int> many(kMaxFdsPerRecord + 1, p.a.get());
  EXPECT_EQ(send_record(p.a.get(), "x", many), std::errc::message_size);
}

TEST(FdPassing, ClosedPeerIsConnectionReset) {
  SocketPair p;
  p.a.reset();
  Record r;
  EXPECT_EQ(receive_record(p.b.get(), r), std::errc::connection_reset);
}

TEST(FdPassing, UniqueFdClosesAndReleases) {
  int pipe_fds[2] = {-1, -1};
  ASSERT_EQ(::pipe(pipe_fds), 0);
  {
    UniqueFd owned(pipe_fds[0]);
    UniqueFd moved = std::move(owned);
    EXPECT_FALSE(owned);
    EXPECT_EQ(moved.get(), pipe_fds[0]);
  }
  EXPECT_EQ(::fcntl(pipe_fds[0], F_GETFD), -1);  // closed
  UniqueFd kept(pipe_fds[1]);
  EXPECT_EQ(kept.release(), pipe_fds[1]);
  EXPECT_NE(::fcntl(pipe_fds[1], F_GETFD), -1);  // still open
  ::close(pipe_fds[1]);
}

}  // namespace
}  // namespace sluice::server
