#include "stats/query_stats.h"

#include <gtest/gtest.h>

#include <string>

#include "stats/percentile_histogram.h"
#include "stats/query_fingerprint.h"

namespace sluice::stats {
namespace {

QueryLabels labels(std::string app = "app") {
  QueryLabels l{"db", "user", std::move(app), 0};
  l.key = labels_key(l);
  return l;
}

TEST(QueryFingerprint, LiteralsDoNotMatter) {
  const QueryIdentity a = identify_query("SELECT * FROM t WHERE id = 1");
  const QueryIdentity b = identify_query("select *  from t where id = 2");
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.normalized, "SELECT * FROM t WHERE id = $1");
  EXPECT_NE(a.fingerprint, identify_query("SELECT * FROM u WHERE id = 1").fingerprint);
}

TEST(QueryFingerprint, UnparsableTextIsHashedAndKept) {
  const QueryIdentity a = identify_query("SELEC 1");
  EXPECT_EQ(a.normalized, "SELEC 1");
  EXPECT_NE(a.fingerprint, identify_query("SELEC 2").fingerprint);
  const std::string huge(100000, 'x');
  EXPECT_LE(identify_query(huge).normalized.size(), kMaxNormalizedBytes);
}

TEST(PercentileHistogram, BucketsAreContiguousAndBounded) {
  for (uint64_t us = 0; us < 100000; ++us) {
    const size_t b = PercentileHistogram::bucket_of(us);
    EXPECT_LE(us, PercentileHistogram::upper_bound(b)) << us;
    if (b > 0) EXPECT_GT(us, PercentileHistogram::upper_bound(b - 1)) << us;
  }
  EXPECT_EQ(PercentileHistogram::bucket_of(UINT64_MAX), PercentileHistogram::kBuckets - 1);
}

TEST(PercentileHistogram, QuantilesWithinABucket) {
  PercentileHistogram h;
  for (uint64_t us = 1; us <= 1000; ++us) h.add(us);
  const uint64_t p50 = h.quantile(0.5);
  const uint64_t p99 = h.quantile(0.99);
  EXPECT_GE(p50, 500u);
  EXPECT_LE(p50, 500u * 5 / 4);
  EXPECT_GE(p99, 990u);
  EXPECT_LE(p99, 990u * 5 / 4);
  EXPECT_EQ(PercentileHistogram().quantile(0.5), 0u);
}

TEST(QueryStats, OneEntryPerFingerprintAndLabels) {
  QueryStats s(100);
  const QueryRef a = s.lookup("SELECT 1 FROM t WHERE x = 1");
  const QueryRef b = s.lookup("SELECT 1 FROM t WHERE x = 2");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  s.record(a, labels(), {100, 5, 1, false});
  s.record(b, labels(), {300, 0, 2, true});
  s.record(b, labels("other"), {10, 0, 0, false});
  EXPECT_EQ(s.size(), 2u);
}

TEST(QueryStats, BoundedUnderManyDistinctTexts) {
  constexpr size_t kCapacity = 500;
  QueryStats s(kCapacity);
  for (int i = 0; i < 100000; ++i) {
    const std::string sql = "SELECT c" + std::to_string(i) +
                            " FROM t WHERE k = " + std::to_string(i) +
                            " -- padding to make texts longer";
    s.record(s.lookup(sql), labels(), {1, 0, 1, false});
    ASSERT_LE(s.size(), kCapacity);
    ASSERT_LE(s.memo_size(), QueryStats::kMemoEntries);
  }
  EXPECT_EQ(s.size(), kCapacity);
  const QueryStatsSnapshot snap = QueryStats::snapshot();
  EXPECT_GE(snap.evictions, 100000u - kCapacity);
}

}  // namespace
}  // namespace sluice::stats
