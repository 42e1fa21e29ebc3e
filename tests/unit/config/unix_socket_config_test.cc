// server.unix_socket_dir / unix_socket_mode / unix_socket_group and --unix-socket-dir: the socket
// is named after the first listen port, as libpq looks for it (its errors are in
// load_errors_test.cc).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>

#include "common/group_id.h"
#include "common/socket_path.h"
#include "config/cli_overrides.h"
#include "config/load.h"

namespace sluice::config {
namespace {

TEST(UnixSocketConfig, OffByDefault) {
  const Config c = load_config_string("[server]\nlisten = \"127.0.0.1:7001\"\n", "s.toml");
  EXPECT_EQ(c.unix_socket_dir, "");
  EXPECT_EQ(c.unix_socket_path(), "");
  EXPECT_EQ(c.unix_socket_mode, 0777);
}

TEST(UnixSocketConfig, NamedAfterTheFirstListenPort) {
  const Config c = load_config_string(
      "[server]\nlisten = [\"127.0.0.1:7001\", \"[::1]:7002\"]\nunix_socket_dir = \"/tmp\"\n",
      "s.toml");
  EXPECT_EQ(c.unix_socket_path(), "/tmp/.s.PGSQL.7001");
  // libpq would accept host=/run/sluice/ too: the file is the same.
  EXPECT_EQ(postgres_socket_path("/run/sluice/", 6432), "/run/sluice/.s.PGSQL.6432");
  EXPECT_EQ(postgres_socket_path("/", 6432), "/.s.PGSQL.6432");
}

TEST(UnixSocketConfig, ModeAsPgBouncerWritesItOrAsATomlOctal) {
  auto mode = [](std::string_view value) {
    return load_config_string(fmt::format("[server]\nunix_socket_mode = {}\n", value), "s.toml")
        .unix_socket_mode;
  };
  EXPECT_EQ(mode("\"0770\""), 0770);
  EXPECT_EQ(mode("\"700\""), 0700);
  EXPECT_EQ(mode("0o777"), 0777);
  EXPECT_EQ(mode("0"), 0);
}

TEST(UnixSocketConfig, GroupByNameOrNumber) {
  auto group = [](std::string_view value) {
    return load_config_string(fmt::format("[server]\nunix_socket_group = \"{}\"\n", value),
                              "s.toml")
        .unix_socket_group;
  };
  EXPECT_EQ(group("root"), "root");
  EXPECT_EQ(group_id("root"), 0U);
  EXPECT_EQ(group("4242"), "4242");  // chown takes an id without a name
  EXPECT_EQ(group_id("4242"), 4242U);
  EXPECT_EQ(group_id(""), std::nullopt);
  EXPECT_EQ(group_id("no-such-group-here"), std::nullopt);
  EXPECT_EQ(group_id("12ab"), std::nullopt);
  EXPECT_EQ(load_config_string("[server]\n", "s.toml").unix_socket_group, "");
}

TEST(UnixSocketConfig, FlagOverridesTheFile) {
  CLI::App app{"test"};
  CliOverrides o;
  add_serve_options(app, o);
  std::vector<std::string> args = {"--server",       "postgresql://u@h/d", "--listen",
                                   "127.0.0.1:7005", "--unix-socket-dir",  "/var/run/sluice"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(build_config(o).unix_socket_path(), "/var/run/sluice/.s.PGSQL.7005");
  o.unix_socket_dir = "";
  EXPECT_EQ(build_config(o).unix_socket_path(), "");
  // The flag's value is checked as the file's would be.
  o.unix_socket_dir = "run";
  EXPECT_THROW(build_config(o), ConfigError);
  o.unix_socket_dir = "/" + std::string(100, 'd');
  EXPECT_THROW(build_config(o), ConfigError);
}

}  // namespace
}  // namespace sluice::config
