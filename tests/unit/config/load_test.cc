// sluice.toml loading: a full file, defaults, durations and the shipped example.
#include "config/load.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sluice::config {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::string_view kFull = R"toml(
[server]
listen = ["0.0.0.0:6432", "[::1]:7432"]
workers = 4
io_backend = "epoll"
max_client_conn = 500
max_message_size = 1048576
tcp_defer_accept = false
log_level = "debug"
default_server = "postgresql://svc:p%40ss@db.internal:5433/ignored?sslmode=require"

[pool]
pool_mode = "transaction"
pool_size = 40
min_pool_size = 5
reserve_pool_size = 3
reserve_pool_timeout = "250ms"
max_db_connections = 100
query_wait_timeout = 30
server_connect_timeout = "5s"
server_idle_timeout = "5m"
server_lifetime = "1h"
client_idle_timeout = 0
idle_transaction_timeout = "90s"
query_timeout = "2m"
client_login_timeout = "10s"
server_reset_query = "DISCARD ALL; SET search_path = public"
server_reset_query_always = true
server_check_query = "SELECT 42"
server_check_delay = "500ms"
connect_retry_base = "50ms"
connect_retry_max = "2s"
breaker_failures = 3
breaker_open_time = "10s"
breaker_fail_fast = false

[auth]
type = "scram-sha-256"
file = "/etc/sluice/userlist.txt"
query = "SELECT usename, passwd FROM pg_shadow WHERE usename = $1"
user = "sluice_auth"
failure_delay = "250ms"
failure_delay_max = "4s"
failure_forget_after = "10m"

[tls]
client_cert = "/etc/sluice/server.crt"
client_key = "/etc/sluice/server.key"
client_ca = "/etc/sluice/clients-ca.crt"
client_require = true
server_sslmode = "verify-full"
server_ca = "/etc/sluice/pg-ca.crt"

[admin]
users = ["admin", "ops"]
stats_users = ["grafana"]

[databases.app]
url = "postgresql://app_user:secret@10.0.0.5:5432/app_prod?sslmode=verify-ca"
pool_mode = "session"
pool_size = 60
min_pool_size = 10
reserve_pool_size = 2
max_db_connections = 80

[databases.reports]
host = "replica.internal"
port = 6543
dbname = "analytics"
user = "reader"
password = "r3ad"
)toml";

TEST(ConfigLoadTest, FullFileSetsEveryField) {
  Config c = load_config_string(kFull, "full.toml");
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].host, "0.0.0.0");
  EXPECT_EQ(c.listen[0].port, 6432);
  EXPECT_EQ(c.listen[1].host, "::1");
  EXPECT_EQ(c.listen[1].port, 7432);
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.io_backend, IoBackend::kEpoll);
  EXPECT_EQ(c.max_client_conn, 500);
  EXPECT_EQ(c.max_message_size, 1048576u);
  EXPECT_FALSE(c.tcp_defer_accept);
  EXPECT_EQ(c.log_level, "debug");
  ASSERT_TRUE(c.default_server);
  EXPECT_EQ(c.default_server->host, "db.internal");
  EXPECT_EQ(c.default_server->port, 5433);
  EXPECT_EQ(c.default_server->user, "svc");
  EXPECT_EQ(c.default_server->password, "p@ss");
  EXPECT_EQ(c.default_server->sslmode, ServerSslMode::kRequire);

  EXPECT_EQ(c.pool.pool_mode, PoolMode::kTransaction);
  EXPECT_EQ(c.pool.pool_size, 40);
  EXPECT_EQ(c.pool.min_pool_size, 5);
  EXPECT_EQ(c.pool.reserve_pool_size, 3);
  EXPECT_EQ(c.pool.reserve_pool_timeout, Millis(250));
  EXPECT_EQ(c.pool.max_db_connections, 100);
  EXPECT_EQ(c.query_wait_timeout, seconds(30));
  EXPECT_EQ(c.server_connect_timeout, seconds(5));
  EXPECT_EQ(c.server_idle_timeout, minutes(5));
  EXPECT_EQ(c.server_lifetime, hours(1));
  EXPECT_EQ(c.client_idle_timeout, Millis(0));
  EXPECT_EQ(c.idle_transaction_timeout, seconds(90));
  EXPECT_EQ(c.query_timeout, minutes(2));
  EXPECT_EQ(c.client_login_timeout, seconds(10));
  EXPECT_EQ(c.server_reset_query, "DISCARD ALL; SET search_path = public");
  EXPECT_TRUE(c.server_reset_query_always);
  EXPECT_EQ(c.server_check_query, "SELECT 42");
  EXPECT_EQ(c.server_check_delay, Millis(500));
  EXPECT_EQ(c.connect_retry_base, Millis(50));
  EXPECT_EQ(c.connect_retry_max, seconds(2));
  EXPECT_EQ(c.breaker_failures, 3);
  EXPECT_EQ(c.breaker_open_time, seconds(10));
  EXPECT_FALSE(c.breaker_fail_fast);

  EXPECT_EQ(c.auth.type, AuthType::kScramSha256);
  EXPECT_EQ(c.auth.auth_file, "/etc/sluice/userlist.txt");
  EXPECT_EQ(c.auth.auth_query, "SELECT usename, passwd FROM pg_shadow WHERE usename = $1");
  EXPECT_EQ(c.auth.auth_user, "sluice_auth");
  EXPECT_EQ(c.auth.failure_delay, Millis(250));
  EXPECT_EQ(c.auth.failure_delay_max, seconds(4));
  EXPECT_EQ(c.auth.failure_forget_after, minutes(10));

  EXPECT_EQ(c.client_tls.cert_file, "/etc/sluice/server.crt");
  EXPECT_EQ(c.client_tls.key_file, "/etc/sluice/server.key");
  EXPECT_EQ(c.client_tls.ca_file, "/etc/sluice/clients-ca.crt");
  EXPECT_TRUE(c.client_tls.require);
  EXPECT_EQ(c.server_tls.sslmode, ServerSslMode::kVerifyFull);
  EXPECT_EQ(c.server_tls.ca_file, "/etc/sluice/pg-ca.crt");

  EXPECT_EQ(c.admin_users, (std::vector<std::string>{"admin", "ops"}));
  EXPECT_EQ(c.stats_users, (std::vector<std::string>{"grafana"}));

  ASSERT_EQ(c.databases.size(), 2u);
  const DatabaseConfig& app = c.databases.at("app");
  EXPECT_EQ(app.name, "app");
  EXPECT_EQ(app.host, "10.0.0.5");
  EXPECT_EQ(app.port, 5432);
  EXPECT_EQ(app.dbname, "app_prod");
  EXPECT_EQ(app.user, "app_user");
  EXPECT_EQ(app.password, "secret");
  EXPECT_EQ(app.sslmode, ServerSslMode::kVerifyCa);
  EXPECT_EQ(app.pool_mode, PoolMode::kSession);
  EXPECT_EQ(app.pool_size, 60);
  EXPECT_EQ(app.min_pool_size, 10);
  EXPECT_EQ(app.reserve_pool_size, 2);
  EXPECT_EQ(app.max_db_connections, 80);
  const DatabaseConfig& rep = c.databases.at("reports");
  EXPECT_EQ(rep.host, "replica.internal");
  EXPECT_EQ(rep.port, 6543);
  EXPECT_EQ(rep.dbname, "analytics");
  EXPECT_EQ(rep.user, "reader");
  EXPECT_EQ(rep.password, "r3ad");
  EXPECT_FALSE(rep.pool_size);
  EXPECT_FALSE(rep.sslmode);
  EXPECT_EQ(c.pool_settings_for(rep).pool_size, 40);
  EXPECT_EQ(c.source_path, "");
}

TEST(ConfigLoadTest, EmptyFileGivesDefaults) {
  Config c = load_config_string("", "empty.toml");
  Config d;
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].host, "127.0.0.1");
  EXPECT_EQ(c.listen[0].port, 6432);
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.io_backend, IoBackend::kAuto);
  EXPECT_EQ(c.max_client_conn, 10000);
  EXPECT_EQ(c.max_message_size, 64u * 1024 * 1024);
  EXPECT_TRUE(c.tcp_defer_accept);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.pool.pool_mode, PoolMode::kSession);
  EXPECT_EQ(c.pool.pool_size, 20);
  EXPECT_EQ(c.pool.min_pool_size, 0);
  EXPECT_EQ(c.pool.reserve_pool_size, 0);
  EXPECT_EQ(c.pool.reserve_pool_timeout, seconds(5));
  EXPECT_EQ(c.pool.max_db_connections, 0);
  EXPECT_EQ(c.query_wait_timeout, seconds(120));
  EXPECT_EQ(c.server_connect_timeout, seconds(15));
  EXPECT_EQ(c.server_idle_timeout, seconds(600));
  EXPECT_EQ(c.server_lifetime, seconds(3600));
  EXPECT_EQ(c.client_idle_timeout, Millis(0));
  EXPECT_EQ(c.idle_transaction_timeout, Millis(0));
  EXPECT_EQ(c.query_timeout, Millis(0));
  EXPECT_EQ(c.client_login_timeout, seconds(60));
  EXPECT_EQ(c.server_reset_query, "DISCARD ALL");
  EXPECT_FALSE(c.server_reset_query_always);
  EXPECT_EQ(c.server_check_query, "");
  EXPECT_EQ(c.server_check_delay, seconds(30));
  EXPECT_EQ(c.connect_retry_base, Millis(100));
  EXPECT_EQ(c.connect_retry_max, seconds(5));
  EXPECT_EQ(c.breaker_failures, 5);
  EXPECT_EQ(c.breaker_open_time, seconds(5));
  EXPECT_TRUE(c.breaker_fail_fast);
  EXPECT_EQ(c.auth.type, AuthType::kTrust);
  EXPECT_EQ(c.auth.failure_delay, Millis(100));
  EXPECT_EQ(c.auth.failure_delay_max, seconds(5));
  EXPECT_EQ(c.auth.failure_forget_after, minutes(1));
  EXPECT_EQ(c.server_tls.sslmode, ServerSslMode::kPrefer);
  EXPECT_TRUE(c.client_tls.cert_file.empty());
  EXPECT_FALSE(c.default_server);
  EXPECT_TRUE(c.databases.empty());
  EXPECT_TRUE(c.admin_users.empty());
  EXPECT_NO_THROW(validate_config(d));
}

TEST(ConfigLoadTest, ListenAcceptsSingleString) {
  Config c = load_config_string("[server]\nlisten = \"[::]:5000\"\n", "s.toml");
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].host, "::");
  EXPECT_EQ(c.listen[0].port, 5000);
}

TEST(ConfigLoadTest, DurationForms) {
  auto timeout = [](std::string_view value) {
    std::string text = "[pool]\nquery_timeout = " + std::string(value) + "\n";
    return load_config_string(text, "d.toml").query_timeout;
  };
  EXPECT_EQ(timeout("0"), Millis(0));
  EXPECT_EQ(timeout("7"), seconds(7));
  EXPECT_EQ(timeout("\"250ms\""), Millis(250));
  EXPECT_EQ(timeout("\"30s\""), seconds(30));
  EXPECT_EQ(timeout("\"5m\""), minutes(5));
  EXPECT_EQ(timeout("\"1h\""), hours(1));
  EXPECT_EQ(timeout("\"8760h\""), hours(8760));
  for (std::string_view bad : {"\"30\"", "\"1d\"", "\"-5s\"", "\"1.5s\"", "\"s\"", "\"30 s\"", "-1",
                               "1.5", "true", "\"8761h\""}) {
    EXPECT_THROW(timeout(bad), ConfigError) << bad;
  }
  EXPECT_EQ(parse_duration_ms("15m"), 900000);
  EXPECT_EQ(parse_duration_ms("15"), -1);
}

TEST(ConfigLoadTest, ZeroOnlyWhereMeaningful) {
  EXPECT_EQ(
      load_config_string("[pool]\nreserve_pool_timeout = 0\n", "z.toml").pool.reserve_pool_timeout,
      Millis(0));
  EXPECT_EQ(load_config_string("[pool]\nserver_check_delay = 0\n", "z.toml").server_check_delay,
            Millis(0));
  EXPECT_THROW(load_config_string("[pool]\nserver_lifetime = 0\n", "z.toml"), ConfigError);
  EXPECT_THROW(load_config_string("[pool]\nserver_connect_timeout = \"0s\"\n", "z.toml"),
               ConfigError);
}

TEST(ConfigLoadTest, DatabaseNamesNeedingQuotes) {
  Config c = load_config_string("[databases.\"my.db\"]\nhost = \"h\"\n", "q.toml");
  ASSERT_EQ(c.databases.count("my.db"), 1u);
  EXPECT_EQ(c.resolve_database("my.db")->dbname, "my.db");
  try {
    load_config_string("[databases.\"my.db\"]\nport = 0\n", "q.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "q.toml: databases.\"my.db\".port = 0 is not valid; allowed: 1..65535");
  }
}

TEST(ConfigLoadTest, FileLoadingSetsSourcePath) {
  std::string path = testing::TempDir() + "/sluice_load_test.toml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("[pool]\npool_size = 3\n", f);
    std::fclose(f);
  }
  Config c = load_config_file(path);
  EXPECT_EQ(c.pool.pool_size, 3);
  EXPECT_EQ(c.source_path, path);
  std::remove(path.c_str());
  try {
    load_config_file(path);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": cannot read config file"), std::string::npos)
        << e.what();
  }
}

TEST(ConfigLoadTest, ExampleFileLoads) {
  // SLUICE_SOURCE_DIR comes from tests/CMakeLists.txt (__FILE__ is relative under ccache).
  std::filesystem::path example = std::filesystem::path(SLUICE_SOURCE_DIR) / "sluice.example.toml";
  ASSERT_TRUE(std::filesystem::exists(example)) << example;
  Config c = load_config_file(example.string());
  EXPECT_FALSE(c.databases.empty());
  EXPECT_TRUE(c.resolve_database("app"));
}

}  // namespace
}  // namespace sluice::config
