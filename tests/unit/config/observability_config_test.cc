// [admin] admin_listen / admin_token and the [stats] section.
#include <gtest/gtest.h>

#include "config/load.h"

namespace sluice::config {
namespace {

constexpr std::string_view kServer = "[server]\ndefault_server = \"postgresql://u@h:5432/d\"\n";

Config load(std::string_view extra) {
  return load_config_string(std::string(kServer) + std::string(extra), "sluice.toml");
}

std::string error_for(std::string_view extra) {
  try {
    load(extra);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ObservabilityConfig, Defaults) {
  const Config c = load("");
  EXPECT_FALSE(c.admin_listen);
  EXPECT_TRUE(c.query_stats);
  EXPECT_EQ(c.slow_query_threshold.count(), 0);
  EXPECT_FALSE(c.log_parameters);
}

TEST(ObservabilityConfig, StatsSection) {
  const Config c = load(
      "[stats]\nquery_stats = false\nquery_stats_max = 100\nslow_query_threshold = 250\n"
      "slow_query_log = \"/tmp/slow.jsonl\"\nlog_parameters = true\n");
  EXPECT_FALSE(c.query_stats);
  EXPECT_EQ(c.query_stats_max, 100);
  EXPECT_EQ(c.slow_query_threshold.count(), 250);  // integers are milliseconds here
  EXPECT_EQ(c.slow_query_log, "/tmp/slow.jsonl");
  EXPECT_TRUE(c.log_parameters);
  EXPECT_EQ(load("[stats]\nslow_query_threshold = \"2s\"\n").slow_query_threshold.count(), 2000);
  EXPECT_NE(error_for("[stats]\nquery_stats_max = 1\n").find("stats.query_stats_max = 1"),
            std::string::npos);
  EXPECT_NE(error_for("[stats]\nslow_query_treshold = 5\n").find("did you mean"),
            std::string::npos);
}

TEST(ObservabilityConfig, AdminListenBeyondLoopbackNeedsAToken) {
  EXPECT_EQ(load("[admin]\nadmin_listen = \"127.0.0.1:9187\"\n").admin_listen->port, 9187);
  const std::string error = error_for("[admin]\nadmin_listen = \"0.0.0.0:9187\"\n");
  EXPECT_NE(error.find("needs admin.admin_token"), std::string::npos) << error;
  const Config c = load("[admin]\nadmin_listen = \"0.0.0.0:9187\"\nadmin_token = \"t\"\n");
  EXPECT_EQ(c.admin_listen->host, "0.0.0.0");
  EXPECT_NE(error_for("[admin]\nadmin_listen = \"nope\"\n").find("admin.admin_listen"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::config
