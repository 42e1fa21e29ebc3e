// Config model behaviour: database resolution, pool settings merge, enum names.
#include <gtest/gtest.h>

#include "config/config.h"

namespace sluice::config {
namespace {

TEST(ConfigModelTest, ResolvesMappedDatabaseWithDbnameDefaultingToName) {
  Config cfg;
  DatabaseConfig app;
  app.name = "app";
  app.host = "db1";
  cfg.databases["app"] = app;
  DatabaseConfig renamed;
  renamed.name = "reports";
  renamed.dbname = "analytics";
  cfg.databases["reports"] = renamed;

  auto a = cfg.resolve_database("app");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "db1");
  EXPECT_EQ(a->dbname, "app");
  auto r = cfg.resolve_database("reports");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dbname, "analytics");
  EXPECT_EQ(r->name, "reports");
  EXPECT_FALSE(cfg.resolve_database("other"));
}

TEST(ConfigModelTest, DefaultServerPassesClientDatabaseThrough) {
  Config cfg;
  DatabaseConfig def;
  def.host = "backend";
  def.port = 5433;
  def.dbname = "ignored";
  def.user = "svc";
  cfg.default_server = def;
  DatabaseConfig mapped;
  mapped.host = "other";
  cfg.databases["mapped"] = mapped;

  auto db = cfg.resolve_database("shop");
  ASSERT_TRUE(db);
  EXPECT_EQ(db->name, "shop");
  EXPECT_EQ(db->dbname, "shop");
  EXPECT_EQ(db->host, "backend");
  EXPECT_EQ(db->port, 5433);
  EXPECT_EQ(db->user, "svc");
  // An entry in [databases] wins over the default server.
  EXPECT_EQ(cfg.resolve_database("mapped")->host, "other");
}

TEST(ConfigModelTest, PoolSettingsMergePerDatabaseOverGlobal) {
  Config cfg;
  cfg.pool.pool_size = 10;
  cfg.pool.min_pool_size = 2;
  cfg.pool.max_db_connections = 50;
  DatabaseConfig db;
  db.pool_mode = PoolMode::kTransaction;
  db.pool_size = 30;
  PoolSettings s = cfg.pool_settings_for(db);
  EXPECT_EQ(s.pool_mode, PoolMode::kTransaction);
  EXPECT_EQ(s.pool_size, 30);
  EXPECT_EQ(s.min_pool_size, 2);
  EXPECT_EQ(s.max_db_connections, 50);
  EXPECT_EQ(s.reserve_pool_timeout, cfg.pool.reserve_pool_timeout);
}

TEST(ConfigModelTest, SslModeForPrefersDatabaseSetting) {
  Config cfg;
  cfg.server_tls.sslmode = ServerSslMode::kRequire;
  DatabaseConfig db;
  EXPECT_EQ(cfg.sslmode_for(db), ServerSslMode::kRequire);
  db.sslmode = ServerSslMode::kDisable;
  EXPECT_EQ(cfg.sslmode_for(db), ServerSslMode::kDisable);
}

TEST(ConfigModelTest, EnumNamesRoundTrip) {
  EXPECT_EQ(to_string(PoolMode::kSession), "session");
  EXPECT_EQ(to_string(PoolMode::kTransaction), "transaction");
  EXPECT_EQ(to_string(AuthType::kTrust), "trust");
  EXPECT_EQ(to_string(AuthType::kMd5), "md5");
  EXPECT_EQ(to_string(AuthType::kScramSha256), "scram-sha-256");
  EXPECT_EQ(to_string(ServerSslMode::kDisable), "disable");
  EXPECT_EQ(to_string(ServerSslMode::kPrefer), "prefer");
  EXPECT_EQ(to_string(ServerSslMode::kRequire), "require");
  EXPECT_EQ(to_string(ServerSslMode::kVerifyCa), "verify-ca");
  EXPECT_EQ(to_string(ServerSslMode::kVerifyFull), "verify-full");
  for (auto m : {PoolMode::kSession, PoolMode::kTransaction}) {
    EXPECT_EQ(parse_pool_mode(to_string(m)), m);
  }
  for (auto t : {AuthType::kTrust, AuthType::kMd5, AuthType::kScramSha256}) {
    EXPECT_EQ(parse_auth_type(to_string(t)), t);
  }
  for (auto m : {ServerSslMode::kDisable, ServerSslMode::kPrefer, ServerSslMode::kRequire,
                 ServerSslMode::kVerifyCa, ServerSslMode::kVerifyFull}) {
    EXPECT_EQ(parse_server_sslmode(to_string(m)), m);
  }
  EXPECT_FALSE(parse_pool_mode("Session"));
  EXPECT_FALSE(parse_auth_type("scram"));
  EXPECT_FALSE(parse_server_sslmode("allow"));
  EXPECT_TRUE(is_valid_log_level("warn"));
  EXPECT_FALSE(is_valid_log_level("warning"));
}

}  // namespace
}  // namespace sluice::config
