#include "stats/query_shape.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace sluice::stats {
namespace {

uint64_t h(std::string_view s) { return query_shape_hash(s); }

TEST(QueryShape, ConstantsDoNotMatter) {
  EXPECT_EQ(h("SELECT abalance FROM a WHERE aid = 17;"),
            h("SELECT abalance FROM a WHERE aid = 4242;"));
  EXPECT_EQ(h("SELECT 'x', 1.5, 2e10"), h("SELECT 'it''s', .25, 3E-7"));
  EXPECT_EQ(h("SELECT E'a\\'b'"), h("SELECT E'c'"));
  EXPECT_EQ(h("SELECT  1\n\tFROM t"), h("SELECT  2\n\tFROM t"));
}

TEST(QueryShape, EverythingElseMatters) {
  EXPECT_NE(h("SELECT a FROM t1"), h("SELECT a FROM t2"));  // digits in identifiers
  EXPECT_NE(h("SELECT $1"), h("SELECT $2"));                // parameters are not constants
  EXPECT_NE(h("SELECT \"c1\""), h("SELECT \"c2\""));        // quoted identifiers
  EXPECT_NE(h("SELECT $$a$$"), h("SELECT $$b$$"));          // dollar-quoted bodies
  EXPECT_NE(h("SELECT $f$a$f$"), h("SELECT $f$b$f$"));
  EXPECT_NE(h("SELECT 1 FROM a"), h("SELECT 1 FROM b"));
  EXPECT_NE(h("SELECT a b"), h("SELECT ab"));
  EXPECT_NE(h("SELECT 1, 2"), h("SELECT 1"));
}

TEST(QueryShape, QuotesInCommentsAndIdentifiersDoNotOpenStrings) {
  // Were the quote in the comment read as a string, the two would share a shape.
  EXPECT_NE(h("SELECT 1 -- don't\nFROM a WHERE x = 'y'"),
            h("SELECT 1 -- don't\nFROM b WHERE x = 'y'"));
  EXPECT_NE(h("SELECT /* it's */ a FROM t"), h("SELECT /* it's */ b FROM t"));
  EXPECT_NE(h("SELECT \"it's\" FROM a, 'x'"), h("SELECT \"it's\" FROM b, 'x'"));
  EXPECT_NE(h("SELECT $q$it's$q$ FROM a"), h("SELECT $q$it's$q$ FROM b"));
}

TEST(QueryShape, DistinctShapesGetDistinctHashes) {
  // Names of every length around the 8-byte words the hash takes at once.
  std::unordered_set<uint64_t> seen;
  for (int n = 0; n < 20000; ++n) {
    const std::string name =
        "t" + std::string(static_cast<size_t>(n % 20), 'x') + std::to_string(n);
    ASSERT_TRUE(seen.insert(h("SELECT * FROM " + name + " WHERE id = 1")).second) << name;
  }
  EXPECT_NE(h("SELECT a"), h(std::string_view("SELECT a\0", 9)));
  EXPECT_NE(h("SELECT abcdefgh"), h("SELECT abcdefg h"));
}

TEST(QueryShape, ConstantsAnywhereAmongTheEightByteWords) {
  // The kept bytes before a constant fill 0 to 7 bytes of a word the hash takes at once.
  for (size_t n = 0; n < 20; ++n) {
    const std::string before = "SELECT " + std::string(n, 'c') + " = ";
    for (const std::string after : {"", " AND d", " AND abcdefghijklmnop = 2"}) {
      EXPECT_EQ(h(before + "1" + after), h(before + "'it''s'" + after)) << n << after;
      EXPECT_NE(h(before + "1" + after), h(before + "a" + after)) << n << after;
      EXPECT_NE(h(before + "1" + after), h(before + after)) << n << after;
    }
  }
}

TEST(QueryShape, UnterminatedInputIsFine) {
  EXPECT_NE(h("SELECT 'abc"), h("SELECT \"abc"));
  h("SELECT /* open");
  h("SELECT $x$ open");
  h("");
  h("'");
  h("E'\\");
}

}  // namespace
}  // namespace sluice::stats
