// Classing clients by the config's rules, built-in classes, and the budget check.
#include "config/priority_classes.h"

#include <gtest/gtest.h>

#include "config/load.h"

namespace sluice::config {
namespace {

Config load(const std::string& text) { return load_config_string(text, ""); }

TEST(PriorityClassesTest, NoClassesMeansNoBuiltIns) {
  EXPECT_TRUE(load("[pool]\npool_size = 5\n").classes.empty());
}

TEST(PriorityClassesTest, OneClassBringsTheBuiltInsAndKeepsItsOwnSettings) {
  const Config c = load("[classes.high]\nmin_connections = 2\n[classes.etl]\npriority = 0\n");
  ASSERT_EQ(c.classes.size(), 5U);
  EXPECT_EQ(c.classes.at("admin").min_connections, 1);
  EXPECT_EQ(c.classes.at("high").priority, 3);  // a built-in's default, not overwritten
  EXPECT_EQ(c.classes.at("high").min_connections, 2);
  EXPECT_EQ(c.classes.at("etl").priority, 0);
}

TEST(PriorityClassesTest, RulesMatchOnEveryListAndTheHighestPriorityWins) {
  const Config c = load(R"(
[classes.low]
application_names = ["batch-*", "reports"]
[classes.high]
users = ["web"]
application_names = ["batch-urgent"]
[classes.admin]
users = ["dba"]
)");
  EXPECT_EQ(classify_client(c, "app", "db", "batch-nightly", ""), "low");
  EXPECT_EQ(classify_client(c, "app", "db", "reports", ""), "low");
  EXPECT_EQ(classify_client(c, "app", "db", "reportsX", ""), "normal");
  // Both low and high match: high has the higher priority.
  EXPECT_EQ(classify_client(c, "web", "db", "batch-urgent", ""), "high");
  // high needs both its user and its application_name.
  EXPECT_EQ(classify_client(c, "app", "db", "batch-urgent", ""), "low");
  EXPECT_EQ(classify_client(c, "dba", "db", "psql", ""), "admin");
  // What the client asked for wins.
  EXPECT_EQ(classify_client(c, "dba", "db", "psql", "low"), "low");
}

TEST(PriorityClassesTest, BudgetIsMaxDbConnectionsElsePoolSize) {
  const Config c = load(R"(
[pool]
pool_size = 7
[databases.a]
host = "h"
[databases.b]
host = "h"
max_db_connections = 3
)");
  EXPECT_EQ(class_budget(c, c.databases.at("a")), 7);
  EXPECT_EQ(class_budget(c, c.databases.at("b")), 3);
}

TEST(PriorityClassesTest, SharesThatDoNotFitTheBudgetAreRefusedNamingTheDatabase) {
  try {
    load(
        "[pool]\npool_size = 10\n[databases.small]\nhost = \"h\"\npool_size = 2\n"
        "[classes.high]\nmin_connections = 2\n");
    FAIL() << "accepted min_connections 3 in a budget of 2";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("databases.small"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("min_connections add up to 3"), std::string::npos)
        << e.what();
  }
}

TEST(PriorityClassesTest, BadClassNamesAndKeysAreRefused) {
  EXPECT_THROW(load("[classes.\"a b\"]\npriority = 1\n"), ConfigError);
  EXPECT_THROW(load("[classes.low]\npriority = 1001\n"), ConfigError);
  EXPECT_THROW(load("[classes.low]\nusers = \"dba\"\n"), ConfigError);
  EXPECT_THROW(load("[classes]\nlow = 1\n"), ConfigError);
}

}  // namespace
}  // namespace sluice::config
