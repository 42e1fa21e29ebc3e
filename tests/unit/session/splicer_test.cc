#include "session/splicer.h"

#include <gtest/gtest.h>

#include "../common/allocation_count.h"

namespace sluice::session {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string joined(std::span<const asio::const_buffer> bufs) {
  std::string out;
  for (const auto& b : bufs) out.append(static_cast<const char*>(b.data()), b.size());
  return out;
}

TEST(Splicer, AppliesInsertsDropsAndReplacementsInOrder) {
  const std::string chunk = "aaaBBBcccDDDeee";
  std::unique_ptr<SpliceStore> store;
  Splicer splice(bytes(chunk), store);
  splice.insert(0, "<");
  splice.drop(3, 6);             // BBB
  splice.replace(9, 12, "ddd");  // DDD
  splice.insert(15, ">");
  EXPECT_TRUE(splice.edited());
  EXPECT_EQ(joined(splice.finish(15)),
            "<aaacccddd"
            "eee>");
}

TEST(Splicer, BuffersPointIntoItsBytesAfterTheyGrew) {
  // Bytes appended after an edit may move the earlier ones: buffers are made at finish().
  const std::string chunk = "0123456789";
  std::unique_ptr<SpliceStore> store;
  Splicer splice(bytes(chunk), store);
  splice.insert(2, "x");
  splice.insert(5, std::string(3000, 'y'));
  EXPECT_EQ(joined(splice.finish(10)), "01x234" + std::string(3000, 'y') + "56789");
}

TEST(Splicer, ReusedStoreEditsWithoutAnAllocation) {
  // What a client of named prepared statements makes the relay do in each transaction:
  // its Bind rewritten for the server's name of the statement.
  const std::string chunk = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBEEEEESSSSS";
  const std::string bind = "B with the server's name of the statement, longer";
  std::unique_ptr<SpliceStore> store;
  for (int round = 0; round < 3; ++round) {
    const size_t before = test::allocations_on_this_thread();
    Splicer splice(bytes(chunk), store);
    splice.replace(0, 30, bind);
    const std::span<const asio::const_buffer> bufs = splice.finish(chunk.size());
    const size_t made = test::allocations_on_this_thread() - before;
    EXPECT_EQ(joined(bufs), bind + "EEEEESSSSS");
    if (round > 0) EXPECT_EQ(made, 0u) << "round " << round;
  }
}

TEST(Splicer, UnchangedChunkIsNotEditedAndMakesNoStore) {
  const std::string chunk = "abc";
  std::unique_ptr<SpliceStore> store;
  Splicer splice(bytes(chunk), store);
  EXPECT_FALSE(splice.edited());
  EXPECT_EQ(store, nullptr);  // idle clients keep no store
}

}  // namespace
}  // namespace sluice::session
