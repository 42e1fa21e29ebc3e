// `sluice serve` flags: parsing with CLI11 and precedence over the config file.
#include "config/cli_overrides.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "config/load.h"

namespace sluice::config {
namespace {

// Parses `args` (without the program name) into a fresh CliOverrides.
CliOverrides parse_args(std::vector<std::string> args) {
  CLI::App app{"test"};
  CliOverrides o;
  add_serve_options(app, o);
  std::reverse(args.begin(), args.end());  // CLI11 consumes the vector from the back
  app.parse(args);
  return o;
}

std::string write_temp(const std::string& name, std::string_view text) {
  std::string path = testing::TempDir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "w");
  EXPECT_NE(f, nullptr);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

std::string error_for(std::vector<std::string> args) {
  try {
    build_config(parse_args(std::move(args)));
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(CliOverridesTest, ParsesEveryFlag) {
  CliOverrides o = parse_args({"-c",
                               "f.toml",
                               "--listen",
                               "0.0.0.0:7000",
                               "--server",
                               "postgresql://u@h/d",
                               "--pool-mode",
                               "transaction",
                               "--pool-size",
                               "9",
                               "--auth-type",
                               "md5",
                               "--auth-file",
                               "users.txt",
                               "--admin-users",
                               "a,b",
                               "--workers",
                               "3",
                               "--log-level",
                               "debug"});
  EXPECT_EQ(o.config_file, "f.toml");
  EXPECT_EQ(o.listen, "0.0.0.0:7000");
  EXPECT_EQ(o.server, "postgresql://u@h/d");
  EXPECT_EQ(o.pool_mode, "transaction");
  EXPECT_EQ(o.pool_size, 9);
  EXPECT_EQ(o.auth_type, "md5");
  EXPECT_EQ(o.auth_file, "users.txt");
  EXPECT_EQ(o.admin_users, "a,b");
  EXPECT_EQ(o.workers, 3);
  EXPECT_EQ(o.log_level, "debug");
  CliOverrides none = parse_args({});
  EXPECT_TRUE(none.config_file.empty());
  EXPECT_FALSE(none.listen || none.server || none.pool_size || none.workers);
}

TEST(CliOverridesTest, FlagsOnlyWithServer) {
  Config c =
      build_config(parse_args({"--server", "postgresql://app:pw@db:5433/app", "--listen",
                               "[::1]:6000, 127.0.0.1:6001", "--admin-users", " admin , ,ops"}));
  ASSERT_TRUE(c.default_server);
  EXPECT_EQ(c.default_server->host, "db");
  EXPECT_EQ(c.default_server->port, 5433);
  EXPECT_EQ(c.resolve_database("anything")->dbname, "anything");
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].host, "::1");
  EXPECT_EQ(c.listen[1].port, 6001);
  EXPECT_EQ(c.admin_users, (std::vector<std::string>{"admin", "ops"}));
  EXPECT_EQ(c.source_path, "");
}

TEST(CliOverridesTest, FlagsWinOverFile) {
  std::string path = write_temp("sluice_cli_test.toml", R"toml(
[server]
listen = "127.0.0.1:6432"
workers = 2
log_level = "warn"
[pool]
pool_mode = "session"
pool_size = 10
[auth]
type = "trust"
[admin]
users = ["root"]
[databases.app]
host = "filehost"
)toml");
  Config file_only = build_config(parse_args({"-c", path}));
  EXPECT_EQ(file_only.pool.pool_size, 10);
  EXPECT_EQ(file_only.source_path, path);

  std::string users = write_temp("sluice_cli_users.txt", "\"u\" \"p\"\n");
  Config c = build_config(parse_args({"--config",      path,
                                      "--pool-size",   "33",
                                      "--pool-mode",   "transaction",
                                      "--workers",     "8",
                                      "--log-level",   "error",
                                      "--listen",      "0.0.0.0:9999",
                                      "--auth-type",   "scram-sha-256",
                                      "--auth-file",   users,
                                      "--admin-users", "x,y",
                                      "--server",      "postgresql://other/x"}));
  EXPECT_EQ(c.pool.pool_size, 33);
  EXPECT_EQ(c.pool.pool_mode, PoolMode::kTransaction);
  EXPECT_EQ(c.workers, 8);
  EXPECT_EQ(c.log_level, "error");
  EXPECT_EQ(c.listen[0].port, 9999);
  EXPECT_EQ(c.auth.type, AuthType::kScramSha256);
  EXPECT_EQ(c.auth.auth_file, users);
  EXPECT_EQ(c.admin_users, (std::vector<std::string>{"x", "y"}));
  // The file's mapping still wins for its database; other names go to --server.
  EXPECT_EQ(c.resolve_database("app")->host, "filehost");
  EXPECT_EQ(c.resolve_database("x")->host, "other");
  EXPECT_EQ(c.source_path, path);
  std::remove(path.c_str());
  std::remove(users.c_str());
}

TEST(CliOverridesTest, BadFlagValuesAreOneLine) {
  const std::string s = "--server";
  const std::string url = "postgresql://h/d";
  EXPECT_EQ(error_for({s, url, "--pool-mode", "x"}),
            "--pool-mode = \"x\" is not valid; allowed: session, transaction");
  EXPECT_EQ(error_for({s, url, "--auth-type", "plain"}),
            "--auth-type = \"plain\" is not valid; allowed: trust, md5, scram-sha-256");
  EXPECT_EQ(error_for({s, url, "--pool-size", "0"}),
            "--pool-size = 0 is not valid; allowed: 1..10000");
  EXPECT_EQ(error_for({s, url, "--workers", "5000"}),
            "--workers = 5000 is not valid; allowed: 0..1024");
  EXPECT_EQ(error_for({s, url, "--io-backend", "select"}),
            "--io-backend = \"select\" is not valid; allowed: auto, io_uring, epoll");
  EXPECT_EQ(error_for({s, url, "--log-level", "loud"}),
            "--log-level = \"loud\" is not valid; allowed: trace, debug, info, warn, error");
  EXPECT_EQ(error_for({s, url, "--listen", "6432"}),
            "--listen = \"6432\" is not valid (missing :PORT); allowed: HOST:PORT (IPv6 as "
            "[::1]:6432)");
  std::string bad_url = error_for({s, "postgresql://u:topsecret@h:port/d"});
  EXPECT_EQ(bad_url.rfind("--server = \"postgresql://u:***@h:port/d\" is not valid (bad port", 0),
            0u)
      << bad_url;
  EXPECT_EQ(bad_url.find("topsecret"), std::string::npos);
  EXPECT_EQ(error_for({s, url, "--auth-type", "md5"}),
            "auth.type = \"md5\" needs auth.file (--auth-file) or auth.query to look up "
            "passwords");
}

TEST(CliOverridesTest, NoBackendAtAll) {
  std::string msg = error_for({});
  EXPECT_EQ(msg.rfind("no PostgreSQL server configured: pass --server postgresql://", 0), 0u)
      << msg;
  EXPECT_NE(msg.find("-c FILE"), std::string::npos);
  std::string path = write_temp("sluice_cli_empty.toml", "[pool]\npool_size = 4\n");
  msg = error_for({"-c", path});
  EXPECT_EQ(msg.rfind(path + ": no PostgreSQL server configured", 0), 0u) << msg;
  EXPECT_NO_THROW(build_config(parse_args({"-c", path, "--server", "postgresql://h"})));
  std::remove(path.c_str());
}

TEST(CliOverridesTest, FileErrorsKeepTheirPrefix) {
  std::string path = write_temp("sluice_cli_bad.toml", "[pool]\npool_mode = \"sesion\"\n");
  std::string msg = error_for({"-c", path});
  EXPECT_EQ(msg, path +
                     ": pool.pool_mode = \"sesion\" is not valid; allowed: session, "
                     "transaction");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sluice::config
