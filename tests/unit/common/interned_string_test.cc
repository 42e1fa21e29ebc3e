#include "common/interned_string.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(InternedString, EqualValuesShareOneCopy) {
  const InternedString a("10.0.0.1");
  const InternedString b(std::string("10.0.") + "0.1");
  EXPECT_EQ(&a.str(), &b.str());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.str(), "10.0.0.1");
}

TEST(InternedString, DifferentValuesStayApart) {
  const InternedString a("db1.internal");
  const InternedString b("db2.internal");
  const InternedString a_again("db1.internal");  // after b: past the per-thread shortcut
  EXPECT_EQ(a.str(), "db1.internal");
  EXPECT_EQ(b.str(), "db2.internal");
  EXPECT_FALSE(a == b);
  EXPECT_EQ(&a.str(), &a_again.str());
}

TEST(InternedString, DefaultIsTheEmptyString) {
  const InternedString none;
  EXPECT_EQ(none.str(), "");
  EXPECT_EQ(none, InternedString(""));
}

TEST(InternedString, ThreadsInterningTheSameValuesAgree) {
  constexpr int kThreads = 4;
  std::vector<const std::string*> seen(kThreads * 2);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([i, &seen] {
      for (int round = 0; round < 1000; ++round) {
        seen[static_cast<size_t>(i) * 2] = &InternedString("::1").str();
        seen[static_cast<size_t>(i) * 2 + 1] = &InternedString("127.0.0.1").str();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 1; i < kThreads; ++i) {
    EXPECT_EQ(seen[static_cast<size_t>(i) * 2], seen[0]);
    EXPECT_EQ(seen[static_cast<size_t>(i) * 2 + 1], seen[1]);
  }
  EXPECT_EQ(*seen[0], "::1");
  EXPECT_EQ(*seen[1], "127.0.0.1");
}

}  // namespace
}  // namespace sluice
