// server.takeover_socket and --takeover-socket: the default follows the first listen port
// (its errors are in load_errors_test.cc).
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>

#include "config/cli_overrides.h"
#include "config/load.h"

namespace sluice::config {
namespace {

TEST(TakeoverConfig, DefaultFollowsTheFirstListenPort) {
  EXPECT_EQ(Config{}.takeover_socket_path(), "/tmp/.s.SLUICE.6432.takeover");
  const Config c = load_config_string("[server]\nlisten = [\"127.0.0.1:7001\", \"[::1]:7002\"]\n",
                                      "sluice.toml");
  EXPECT_FALSE(c.takeover_socket);
  EXPECT_EQ(c.takeover_socket_path(), "/tmp/.s.SLUICE.7001.takeover");
}

TEST(TakeoverConfig, SetOrOff) {
  EXPECT_EQ(load_config_string("[server]\ntakeover_socket = \"/run/sluice/takeover\"\n", "s.toml")
                .takeover_socket_path(),
            "/run/sluice/takeover");
  EXPECT_EQ(
      load_config_string("[server]\ntakeover_socket = \"\"\n", "s.toml").takeover_socket_path(),
      "");
}

TEST(TakeoverConfig, FlagOverridesTheFile) {
  CLI::App app{"test"};
  CliOverrides o;
  add_serve_options(app, o);
  std::vector<std::string> args = {"--server", "postgresql://u@h/d", "--takeover-socket",
                                   "/tmp/t.sock"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(build_config(o).takeover_socket_path(), "/tmp/t.sock");
  o.takeover_socket = "relative";
  EXPECT_THROW(build_config(o), ConfigError);
}

}  // namespace
}  // namespace sluice::config
