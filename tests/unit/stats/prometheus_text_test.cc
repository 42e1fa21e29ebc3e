#include "stats/prometheus_text.h"

#include <gtest/gtest.h>

#include <array>

namespace sluice::stats {
namespace {

TEST(PrometheusText, FamiliesSamplesAndEscaping) {
  PrometheusText m;
  m.family("sluice_x_total", "counter", "Things.");
  m.sample("sluice_x_total", {{"db", "a\"b\\c\nd"}}, uint64_t{3});
  m.sample("sluice_x_total", {}, 0.5);
  EXPECT_EQ(m.take(),
            "# HELP sluice_x_total Things.\n# TYPE sluice_x_total counter\n"
            "sluice_x_total{db=\"a\\\"b\\\\c\\nd\"} 3\nsluice_x_total 0.5\n");
}

TEST(PrometheusText, HistogramIsCumulative) {
  PrometheusText m;
  const std::array<uint64_t, 2> bounds{100, 1000};
  const std::array<uint64_t, 3> counts{1, 2, 3};
  m.histogram("h", {{"p", "x"}}, counts, bounds, 1e6, 0.25);
  EXPECT_EQ(m.take(),
            "h_bucket{p=\"x\",le=\"0.0001\"} 1\nh_bucket{p=\"x\",le=\"0.001\"} 3\n"
            "h_bucket{p=\"x\",le=\"+Inf\"} 6\nh_sum{p=\"x\"} 0.25\nh_count{p=\"x\"} 6\n");
}

}  // namespace
}  // namespace sluice::stats
