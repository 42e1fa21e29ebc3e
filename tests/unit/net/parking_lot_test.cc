#include "net/parking_lot.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <vector>

namespace sluice::net {
namespace {

std::vector<void*>* woken = nullptr;

void record_wake(void* owner) { woken->push_back(owner); }

// A connected pair of stream sockets: [0] is parked, [1] plays the client.
struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0); }
  ~SocketPair() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  void send_from_client() { ASSERT_EQ(::write(fd[1], "Q", 1), 1); }
};

class ParkingLotTest : public ::testing::Test {
 protected:
  void SetUp() override { woken = &wakes; }
  void TearDown() override { woken = nullptr; }
  // Runs the event loop until it has nothing ready (or a little while has passed).
  void run_a_while() {
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }

  asio::io_context io;
  std::vector<void*> wakes;
  ParkingLot lot{io.get_executor(), &record_wake};
};

TEST_F(ParkingLotTest, WakesTheOwnerOnceWhenTheClientSends) {
  SocketPair a;
  SocketPair b;
  int owner_a = 0;
  int owner_b = 0;
  ASSERT_TRUE(lot.park(a.fd[0], &owner_a, false));
  ASSERT_TRUE(lot.park(b.fd[0], &owner_b, false));
  run_a_while();
  EXPECT_TRUE(wakes.empty()) << "nothing was sent yet";

  a.send_from_client();
  run_a_while();
  ASSERT_EQ(wakes.size(), 1U);
  EXPECT_EQ(wakes[0], &owner_a);

  // The byte is still unread, but a woken descriptor is no longer watched.
  a.send_from_client();
  run_a_while();
  EXPECT_EQ(wakes.size(), 1U);
}

TEST_F(ParkingLotTest, ParkingAgainWatchesTheDescriptorAgain) {
  SocketPair a;
  int owner = 0;
  ASSERT_TRUE(lot.park(a.fd[0], &owner, false));
  a.send_from_client();
  run_a_while();
  ASSERT_EQ(wakes.size(), 1U);
  char byte = 0;
  ASSERT_EQ(::read(a.fd[0], &byte, 1), 1);  // served: the message is read

  ASSERT_TRUE(lot.park(a.fd[0], &owner, /*again=*/true));
  run_a_while();
  EXPECT_EQ(wakes.size(), 1U);
  a.send_from_client();
  run_a_while();
  EXPECT_EQ(wakes.size(), 2U);
}

TEST_F(ParkingLotTest, TheClientClosingWakesItsOwner) {
  SocketPair a;
  int owner = 0;
  ASSERT_TRUE(lot.park(a.fd[0], &owner, false));
  ::close(a.fd[1]);
  a.fd[1] = -1;
  run_a_while();
  ASSERT_EQ(wakes.size(), 1U);
  EXPECT_EQ(wakes[0], &owner);
}

TEST_F(ParkingLotTest, AnUnparkedDescriptorWakesNobody) {
  SocketPair a;
  int owner = 0;
  ASSERT_TRUE(lot.park(a.fd[0], &owner, false));
  lot.unpark(a.fd[0]);
  a.send_from_client();
  run_a_while();
  EXPECT_TRUE(wakes.empty());
  // ... and can be parked again after.
  ASSERT_TRUE(lot.park(a.fd[0], &owner, /*again=*/true));
  run_a_while();
  EXPECT_EQ(wakes.size(), 1U);
}

TEST_F(ParkingLotTest, ManyReadyAtOnceAreAllWoken) {
  // More than one epoll_wait batch (64) ready in the same turn of the event loop.
  std::vector<SocketPair> pairs(150);
  std::vector<int> owners(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i)
    ASSERT_TRUE(lot.park(pairs[i].fd[0], &owners[i], false));
  for (auto& p : pairs) p.send_from_client();
  run_a_while();
  ASSERT_EQ(wakes.size(), pairs.size());
  std::vector<void*> expected;
  for (auto& o : owners) expected.push_back(&o);
  std::sort(wakes.begin(), wakes.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(wakes, expected);
}

TEST_F(ParkingLotTest, RefusesADescriptorEpollCannotWatch) {
  int owner = 0;
  EXPECT_FALSE(lot.park(-1, &owner, false));
  char path[] = "/tmp/sluice-parking-lot-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  ::unlink(path);
  EXPECT_FALSE(lot.park(file, &owner, false)) << "regular files cannot be polled";
  ::close(file);
}

}  // namespace
}  // namespace sluice::net
