#include "net/read_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace sluice::net {
namespace {

// `min_free` as the relay asks (a default chunk) unless given, as logins do, smaller.
void append(ReadBuffer& buf, const std::string& s, size_t min_free = ReadBuffer::kDefaultChunk) {
  auto space = buf.prepare(std::max(min_free, s.size()));
  ASSERT_GE(space.size(), s.size());
  std::memcpy(space.data(), s.data(), s.size());
  buf.commit(s.size());
}

std::string contents(const ReadBuffer& buf) {
  return {reinterpret_cast<const char*>(buf.data().data()), buf.size()};
}

TEST(ReadBufferTest, StartsWithoutMemoryAndKeepsBytesAcrossGrowth) {
  ReadBuffer buf;
  EXPECT_TRUE(buf.empty());
  append(buf, "hello ");
  buf.consume(2);  // "llo " left, not at offset 0
  const std::string big(3 * ReadBuffer::kDefaultChunk, 'x');
  append(buf, big);
  EXPECT_EQ(contents(buf), "llo " + big);
  buf.consume(buf.size());
  EXPECT_TRUE(buf.empty());
}

TEST(ReadBufferTest, ReleasedChunksAreReused) {
  ReadBuffer a;
  append(a, "abc");
  const auto* first = a.data().data();
  a.consume(3);
  a.release_if_empty();
  ReadBuffer b;
  append(b, "def");
  EXPECT_EQ(b.data().data(), first);  // the same chunk, from the thread's free list
  EXPECT_EQ(contents(b), "def");
}

TEST(ReadBufferTest, SmallReadsTakeASmallBufferAndMoveToAChunkWhenRelaying) {
  ReadBuffer login;
  auto space = login.prepare(64);
  EXPECT_GE(space.size(), 64U);
  EXPECT_LT(space.size(), ReadBuffer::kDefaultChunk);  // a login burst holds no 16 KiB chunks
  append(login, "startup", 64);
  login.consume(3);
  EXPECT_GE(login.prepare().size(), ReadBuffer::kDefaultChunk);
  EXPECT_EQ(contents(login), "rtup");
}

TEST(ReadBufferTest, ReleaseIfEmptyKeepsUnreadBytes) {
  ReadBuffer buf;
  append(buf, "partial");
  buf.release_if_empty();
  EXPECT_EQ(contents(buf), "partial");
}

}  // namespace
}  // namespace sluice::net
