// Every kind of configuration error is one line naming the key, the value and what
// is allowed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/load.h"

namespace sluice::config {
namespace {

// The message of the ConfigError that loading `toml` throws ("" if none).
std::string error_for(std::string_view toml) {
  try {
    load_config_string(toml, "sluice.toml");
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line message: " << msg;
    EXPECT_EQ(msg.rfind("sluice.toml", 0), 0u) << "no source prefix: " << msg;
    return msg;
  }
  ADD_FAILURE() << "no error for: " << toml;
  return "";
}

testing::AssertionResult Contains(const std::string& msg, std::string_view part) {
  if (msg.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << msg << "\" does not contain \"" << part << "\"";
}

TEST(ConfigErrorTest, BadEnumNamesKeyValueAndChoices) {
  EXPECT_EQ(error_for("[pool]\npool_mode = \"sesion\"\n"),
            "sluice.toml: pool.pool_mode = \"sesion\" is not valid; allowed: session, "
            "transaction");
  EXPECT_EQ(error_for("[auth]\ntype = \"plain\"\n"),
            "sluice.toml: auth.type = \"plain\" is not valid; allowed: trust, md5, scram-sha-256");
  EXPECT_EQ(error_for("[tls]\nserver_sslmode = \"allow\"\n"),
            "sluice.toml: tls.server_sslmode = \"allow\" is not valid; allowed: disable, prefer, "
            "require, verify-ca, verify-full");
  EXPECT_EQ(error_for("[server]\nlog_level = \"verbose\"\n"),
            "sluice.toml: server.log_level = \"verbose\" is not valid; allowed: trace, debug, "
            "info, warn, error");
  EXPECT_EQ(error_for("[server]\nio_backend = \"kqueue\"\n"),
            "sluice.toml: server.io_backend = \"kqueue\" is not valid; allowed: auto, io_uring, "
            "epoll");
  EXPECT_EQ(error_for("[databases.app]\npool_mode = \"statement\"\n"),
            "sluice.toml: databases.app.pool_mode = \"statement\" is not valid; allowed: "
            "session, transaction");
}

TEST(ConfigErrorTest, IntegerRangesAndTypes) {
  EXPECT_EQ(error_for("[pool]\npool_size = 0\n"),
            "sluice.toml: pool.pool_size = 0 is not valid; allowed: 1..10000");
  EXPECT_EQ(error_for("[pool]\npool_size = \"20\"\n"),
            "sluice.toml: pool.pool_size = \"20\" is not valid; allowed: an integer 1..10000");
  EXPECT_EQ(error_for("[server]\nworkers = 2000\n"),
            "sluice.toml: server.workers = 2000 is not valid; allowed: 0..1024");
  EXPECT_EQ(error_for("[databases.app]\nport = 70000\n"),
            "sluice.toml: databases.app.port = 70000 is not valid; allowed: 1..65535");
  EXPECT_TRUE(Contains(error_for("[server]\nmax_client_conn = 0\n"),
                       "server.max_client_conn = 0 is not valid; allowed: 1..1000000"));
  EXPECT_TRUE(Contains(error_for("[server]\nmax_message_size = 10\n"),
                       "server.max_message_size = 10 is not valid; allowed: 8192..1073741824"));
  EXPECT_TRUE(Contains(error_for("[pool]\nserver_reset_query_always = \"yes\"\n"),
                       "pool.server_reset_query_always = \"yes\" is not valid; allowed: true, "
                       "false"));
  EXPECT_TRUE(
      Contains(error_for("[auth]\nfile = 3\n"), "auth.file = 3 is not valid; allowed: a string"));
}

TEST(ConfigErrorTest, DurationErrorsExplainTheForms) {
  std::string msg = error_for("[pool]\nquery_wait_timeout = \"10 minutes\"\n");
  EXPECT_TRUE(Contains(msg, "pool.query_wait_timeout = \"10 minutes\" is not valid; allowed: "));
  EXPECT_TRUE(Contains(msg, "\"250ms\", \"30s\", \"5m\", \"1h\""));
  EXPECT_TRUE(Contains(error_for("[pool]\nserver_lifetime = 0\n"),
                       "pool.server_lifetime = 0 is not valid; allowed: more than 0"));
}

TEST(ConfigErrorTest, MinPoolSizeAbovePoolSize) {
  EXPECT_EQ(error_for("[pool]\npool_size = 5\nmin_pool_size = 6\n"),
            "sluice.toml: pool.min_pool_size = 6 is greater than pool.pool_size = 5; allowed: "
            "min_pool_size <= pool_size");
  EXPECT_TRUE(Contains(error_for("[pool]\npool_size = 5\n[databases.app]\nmin_pool_size = 6\n"),
                       "databases.app.min_pool_size = 6 is greater than pool.pool_size = 5"));
  EXPECT_TRUE(Contains(error_for("[pool]\nmin_pool_size = 6\n[databases.app]\npool_size = 2\n"),
                       "pool.min_pool_size = 6 is greater than databases.app.pool_size = 2"));
}

TEST(ConfigErrorTest, UnknownKeysAndSections) {
  EXPECT_EQ(error_for("[server]\nlistne = \"127.0.0.1:6432\"\n"),
            "sluice.toml: unknown key server.listne (did you mean server.listen?)");
  EXPECT_EQ(error_for("[pool]\npoolsize = 3\n"),
            "sluice.toml: unknown key pool.poolsize (did you mean pool.pool_size?)");
  EXPECT_TRUE(Contains(error_for("[auth]\nzzz = 1\n"),
                       "unknown key auth.zzz; allowed in [auth]: type, file, query, user"));
  EXPECT_EQ(error_for("[sever]\n"),
            "sluice.toml: unknown section [sever] (did you mean [server]?)");
  EXPECT_TRUE(Contains(error_for("[wat]\n"), "unknown section [wat]; allowed: server, pool"));
  EXPECT_TRUE(Contains(error_for("pool_size = 3\n"),
                       "unknown key pool_size (did you mean pool.pool_size?"));
  EXPECT_TRUE(Contains(error_for("bogus = 3\n"),
                       "unknown key bogus; keys go under one of the sections: server, pool"));
  EXPECT_TRUE(Contains(error_for("[databases.app]\nhots = \"x\"\n"),
                       "unknown key databases.app.hots (did you mean databases.app.host?)"));
}

TEST(ConfigErrorTest, WrongShapes) {
  EXPECT_TRUE(Contains(error_for("server = 1\n"), "server = 1 is not valid; allowed: a table"));
  EXPECT_TRUE(Contains(error_for("[databases]\napp = \"postgresql://h/app\"\n"),
                       "databases.app = \"postgresql://h/app\" is not valid; allowed: a table"));
  EXPECT_TRUE(Contains(error_for("[admin]\nusers = \"admin\"\n"),
                       "admin.users = \"admin\" is not valid; allowed: an array of non-empty "
                       "strings"));
}

TEST(ConfigErrorTest, ListenErrors) {
  EXPECT_TRUE(Contains(error_for("[server]\nlisten = \"6432\"\n"),
                       "server.listen = \"6432\" is not valid (missing :PORT); allowed: "
                       "\"HOST:PORT\" or a non-empty array of them; IPv6 as \"[::1]:6432\""));
  EXPECT_TRUE(Contains(error_for("[server]\nlisten = \"::1:6432\"\n"),
                       "(IPv6 addresses need brackets, e.g. [::1]:6432)"));
  EXPECT_TRUE(Contains(error_for("[server]\nlisten = [\"a:1\", \"b:0\"]\n"),
                       "server.listen = \"b:0\" is not valid (port must be 1..65535)"));
  EXPECT_TRUE(Contains(error_for("[server]\nlisten = []\n"), "server.listen = [] is not valid"));
}

TEST(ConfigErrorTest, UrlErrorsNameKeyAndHidePassword) {
  std::string msg = error_for("[databases.app]\nurl = \"postgresql://u:hunter2@h:99999/db\"\n");
  EXPECT_TRUE(Contains(msg,
                       "databases.app.url = \"postgresql://u:***@h:99999/db\" is not valid "
                       "(bad port \"99999\": must be 1..65535); allowed: postgresql://"));
  EXPECT_EQ(msg.find("hunter2"), std::string::npos);
  EXPECT_TRUE(Contains(error_for("[server]\ndefault_server = \"mysql://h\"\n"),
                       "server.default_server = \"mysql://h\" is not valid (must start with "
                       "postgresql:// or postgres://)"));
  EXPECT_TRUE(
      Contains(error_for("[databases.app]\nurl = \"postgresql://h/app\"\nhost = \"other\"\n"),
               "databases.app.host cannot be combined with databases.app.url"));
}

TEST(ConfigErrorTest, CrossFieldChecks) {
  EXPECT_EQ(error_for("[tls]\nclient_cert = \"c.pem\"\n"),
            "sluice.toml: tls.client_cert is set but tls.client_key is not; set both or neither");
  EXPECT_TRUE(Contains(error_for("[tls]\nclient_key = \"k.pem\"\n"),
                       "tls.client_key is set but tls.client_cert is not"));
  EXPECT_TRUE(Contains(error_for("[tls]\nclient_require = true\n"),
                       "tls.client_require = true needs tls.client_cert and tls.client_key"));
  EXPECT_TRUE(Contains(error_for("[tls]\nclient_ca = \"ca.pem\"\n"),
                       "tls.client_ca is set but tls.client_cert is not"));
  EXPECT_TRUE(Contains(error_for("[tls]\nserver_sslmode = \"verify-full\"\n"),
                       "tls.server_sslmode = \"verify-full\" needs tls.server_ca"));
  EXPECT_TRUE(
      Contains(error_for("[databases.app]\nurl = \"postgresql://h/app?sslmode=verify-ca\"\n"),
               "databases.app sets sslmode=verify-ca, which needs tls.server_ca"));
  // A Unix-socket directory whose socket path cannot fit a socket address.
  const std::string deep = "/" + std::string(100, 'd');
  EXPECT_TRUE(Contains(error_for("[databases.app]\nhost = \"" + deep + "\"\n"),
                       "databases.app: the server socket path \"" + deep +
                           "/.s.PGSQL.5432\" is 115 bytes long; the longest a Unix-domain "
                           "socket path may be is 107: use a shorter directory"));
  EXPECT_EQ(load_config_string("[databases.app]\nhost = \"/var/run/postgresql\"\n", "s.toml")
                .databases.at("app")
                .host,
            "/var/run/postgresql");
  EXPECT_EQ(error_for("[auth]\ntype = \"md5\"\n"),
            "sluice.toml: auth.type = \"md5\" needs auth.file (--auth-file) or auth.query to "
            "look up passwords");
  EXPECT_TRUE(Contains(error_for("[auth]\ntype = \"scram-sha-256\"\n"),
                       "auth.type = \"scram-sha-256\" needs auth.file"));
  EXPECT_TRUE(Contains(error_for("[auth]\nquery = \"SELECT 1\"\n"),
                       "auth.query is set but auth.user is not"));
}

TEST(ConfigErrorTest, TomlSyntaxErrorHasLineAndColumn) {
  std::string msg = error_for("[pool]\npool_size = = 3\n");
  EXPECT_TRUE(Contains(msg, "sluice.toml:2:"));
  std::string dup = error_for("[pool]\npool_size = 3\npool_size = 4\n");
  EXPECT_TRUE(Contains(dup, "sluice.toml:3:"));
}

TEST(ConfigErrorTest, ValidateConfigChecksProgrammaticConfigs) {
  Config c;
  c.pool.pool_size = 0;
  c.source_path = "x.toml";
  try {
    validate_config(c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "x.toml: pool.pool_size = 0 is not valid; allowed: 1..10000");
  }
  Config d;
  d.query_timeout = Millis(-1);
  EXPECT_THROW(validate_config(d), ConfigError);
  Config e;
  e.listen.clear();
  EXPECT_THROW(validate_config(e), ConfigError);
}

TEST(ConfigErrorTest, RetryAndBreakerSettings) {
  EXPECT_TRUE(Contains(error_for("[pool]\nconnect_retry_base = 0\n"), "pool.connect_retry_base"));
  EXPECT_TRUE(Contains(error_for("[pool]\nbreaker_failures = -1\n"), "pool.breaker_failures"));
  EXPECT_TRUE(Contains(error_for("[pool]\nbreaker_fail_fast = 1\n"), "true, false"));
  EXPECT_TRUE(
      Contains(error_for("[pool]\nconnect_retry_base = \"2s\"\nconnect_retry_max = \"1s\"\n"),
               "connect_retry_max >= connect_retry_base"));
}

TEST(ConfigErrorTest, AuthFailureDelaySettings) {
  EXPECT_TRUE(Contains(error_for("[auth]\nfailure_delay = -1\n"), "auth.failure_delay"));
  EXPECT_TRUE(Contains(error_for("[auth]\nfailure_delay_max = 0\n"), "auth.failure_delay_max"));
  EXPECT_TRUE(
      Contains(error_for("[auth]\nfailure_forget_after = \"0s\"\n"), "auth.failure_forget_after"));
  EXPECT_TRUE(Contains(error_for("[auth]\nfailure_delay = \"2s\"\nfailure_delay_max = \"1s\"\n"),
                       "failure_delay_max >= failure_delay"));
  // 0 turns the delay off, and is not held against failure_delay_max.
  EXPECT_EQ(load_config_string("[auth]\nfailure_delay = 0\n", "a.toml").auth.failure_delay,
            Millis(0));
}

TEST(ConfigErrorTest, TakeoverSocketMustBeAnAbsolutePathThatFits) {
  EXPECT_EQ(error_for("[server]\ntakeover_socket = \"run/t.sock\"\n"),
            "sluice.toml: server.takeover_socket = \"run/t.sock\" is not valid; allowed: an "
            "absolute path of at most 90 bytes, or \"\" for none");
  const std::string long_path = "/" + std::string(kMaxTakeoverSocketPath, 'x');
  EXPECT_NE(error_for("[server]\ntakeover_socket = \"" + long_path + "\"\n").find("at most 90"),
            std::string::npos);
  EXPECT_NE(error_for("[server]\ntakeover_soket = \"/t\"\n")
                .find("did you mean "
                      "server.takeover_socket?"),
            std::string::npos);
}

TEST(ConfigErrorTest, UnixSocketDirMustBeAbsoluteAndFit) {
  EXPECT_EQ(error_for("[server]\nunix_socket_dir = \"run/sluice\"\n"),
            "sluice.toml: server.unix_socket_dir = \"run/sluice\" is not valid; allowed: an "
            "absolute directory (clients give it as host), or \"\" for none");
  // 107 bytes fit in sockaddr_un; one more does not. "/.s.PGSQL.6432" is 14 bytes.
  const std::string fits = "/" + std::string(107 - 14 - 1, 'd');
  EXPECT_EQ(load_config_string("[server]\nunix_socket_dir = \"" + fits + "\"\n", "s.toml")
                .unix_socket_path()
                .size(),
            107u);
  const std::string too_long = fits + "d";
  EXPECT_EQ(error_for("[server]\nunix_socket_dir = \"" + too_long + "\"\n"),
            "sluice.toml: server.unix_socket_dir: the listening socket path \"" + too_long +
                "/.s.PGSQL.6432\" is 108 bytes long; the longest a Unix-domain socket path may "
                "be is 107: use a shorter directory");
  EXPECT_TRUE(Contains(error_for("[server]\nunix_socket_dri = \"/tmp\"\n"),
                       "did you mean server.unix_socket_dir?"));
}

TEST(ConfigErrorTest, UnixSocketModeIsAnOctalFileMode) {
  for (std::string_view bad :
       {"\"0778\"", "\"rwx\"", "\"\"", "\"01777\"", "0o1000", "-1", "true"}) {
    EXPECT_TRUE(Contains(error_for(fmt::format("[server]\nunix_socket_mode = {}\n", bad)),
                         "server.unix_socket_mode"))
        << bad;
  }
  EXPECT_EQ(error_for("[server]\nunix_socket_mode = \"0778\"\n"),
            "sluice.toml: server.unix_socket_mode = \"0778\" is not valid; allowed: an octal "
            "file mode from \"0000\" to \"0777\" (a string, or an integer such as 0o770)");
}

TEST(ConfigErrorTest, UnixSocketGroupMustExist) {
  EXPECT_EQ(error_for("[server]\nunix_socket_group = \"no-such-group-here\"\n"),
            "sluice.toml: server.unix_socket_group = \"no-such-group-here\" is not valid; "
            "allowed: a group of this machine (its name or number), or \"\" for the process's "
            "own");
  EXPECT_TRUE(Contains(error_for("[server]\nunix_socket_group = 7\n"), "server.unix_socket_group"));
}

}  // namespace
}  // namespace sluice::config
