// A compact log-linear histogram of microseconds for per-query percentiles: four buckets
// per power of two (each bucket within 25% of its lower bound), exact below 4 us, up to
// ~2^33 us (2.4 hours; slower values land in the last bucket). 132 uint32 counts = 528
// bytes, so thousands of query entries stay a few megabytes.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace sluice::stats {

class PercentileHistogram {
 public:
  static constexpr size_t kBuckets = 132;

  static size_t bucket_of(uint64_t us) {
    if (us < 4) return static_cast<size_t>(us);
    const int msb = 63 - std::countl_zero(us);
    const size_t sub = static_cast<size_t>((us >> (msb - 2)) & 3);
    const size_t i = 4 * static_cast<size_t>(msb - 1) + sub;
    return i < kBuckets ? i : kBuckets - 1;
  }
  // The largest value that falls in bucket i.
  static uint64_t upper_bound(size_t i) {
    if (i < 4) return i;
    const int msb = static_cast<int>(i / 4) + 1;
    const uint64_t width = uint64_t{1} << (msb - 2);
    return (4 + i % 4) * width + width - 1;
  }

  void add(uint64_t us) {
    uint32_t& c = counts_[bucket_of(us)];
    if (c != UINT32_MAX) ++c;
  }
  void merge(const PercentileHistogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) {
      const uint64_t sum = uint64_t{counts_[i]} + o.counts_[i];
      counts_[i] = sum > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(sum);
    }
  }
  // The value at quantile q (0..1): the upper bound of the bucket holding that rank; 0
  // when empty.
  uint64_t quantile(double q) const {
    uint64_t total = 0;
    for (uint32_t c : counts_) total += c;
    if (total == 0) return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(total) + 0.999999);
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return upper_bound(i);
    }
    return upper_bound(kBuckets - 1);
  }

 private:
  std::array<uint32_t, kBuckets> counts_{};
};

}  // namespace sluice::stats
