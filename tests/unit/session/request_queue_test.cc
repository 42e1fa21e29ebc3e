#include "session/request_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::session {
namespace {

TEST(RequestQueue, FirstInFirstOut) {
  RequestQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  q.push_back("a");
  q.push_back("b");
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.front(), "a");
  EXPECT_EQ(q.back(), "b");
  q.pop_front();
  EXPECT_EQ(q.front(), "b");
  q.pop_front();
  EXPECT_TRUE(q.empty());
}

TEST(RequestQueue, NeverEmptiedQueueStaysInOrderAcrossCompactions) {
  // A client that always has requests in flight: push two, pop one, many times.
  RequestQueue<int> q;
  int next_in = 0;
  int next_out = 0;
  q.push_back(next_in++);
  for (int round = 0; round < 10000; ++round) {
    q.push_back(next_in++);
    ASSERT_EQ(q.front(), next_out++);
    q.pop_front();
    if (round % 2 == 0) {
      ASSERT_EQ(q.front(), next_out++);
      q.pop_front();
      q.push_back(next_in++);
    }
  }
  EXPECT_EQ(q.size(), static_cast<size_t>(next_in - next_out));
  while (!q.empty()) {
    EXPECT_EQ(q.front(), next_out++);
    q.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
}

}  // namespace
}  // namespace sluice::session
