// Fixed latency buckets for the per-pool Prometheus histograms (query and wait duration).
// Fixed bounds keep recording to one short scan and one relaxed store, and let every
// worker's slot be summed bucket by bucket when read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace sluice::stats {

// Upper bounds in microseconds (Prometheus `le`, in seconds: 0.0001 ... 10); one more
// bucket past the last bound counts everything slower (+Inf).
inline constexpr std::array<uint64_t, 16> kLatencyBoundsUs = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
inline constexpr size_t kLatencyBuckets = kLatencyBoundsUs.size() + 1;

inline size_t latency_bucket(uint64_t us) {
  size_t i = 0;
  while (i < kLatencyBoundsUs.size() && us > kLatencyBoundsUs[i]) ++i;
  return i;
}

}  // namespace sluice::stats
